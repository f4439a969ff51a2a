"""pocketsphinx 5 with its bundled US-English acoustic model, dictionary and 3-gram LM.

Offline and fast, but far weaker than the paper's HuBERT-Large CTC recogniser: its WER on clean
read speech is ~25-30%, so it tells intelligible from garbled speech and ranks systems, but is
not comparable to published numbers (docs/evaluation.md).  A JSGF ``grammar`` constrains the
search to the sentences a grammar allows (closed-vocabulary probes such as GRID-style sentences),
where its WER falls to a few per cent.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from valle.eval.audio import resample, to_mono

SAMPLE_RATE = 16000


class PocketsphinxASR:
    languages = {"en"}

    def __init__(self, grammar: Optional[str] = None, **decoder_options):
        """``grammar``: JSGF text; ``decoder_options``: pocketsphinx config (``beam=1e-40`` ...)."""
        from pocketsphinx import Decoder

        self._decoder = Decoder(loglevel="FATAL", samprate=SAMPLE_RATE, **decoder_options)
        self.name = "pocketsphinx-en-us"
        if grammar is not None:
            try:
                self._decoder.add_jsgf_string("grammar", grammar)
            except Exception as e:  # pocketsphinx raises RuntimeError/ValueError with no detail
                raise ValueError(
                    f"pocketsphinx cannot use the JSGF grammar ({type(e).__name__}: {e}): check its syntax "
                    "(#JSGF V1.0; grammar g; public <s> = ...;) and that every word is in the en-us dictionary"
                ) from e
            self._decoder.activate_search("grammar")
            self.name = "pocketsphinx-en-us+jsgf"

    def transcribe(self, wav, sample_rate: int) -> str:
        audio = resample(to_mono(wav), sample_rate, SAMPLE_RATE)
        pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
        d = self._decoder
        d.start_utt()
        d.process_raw(pcm.tobytes(), full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""
