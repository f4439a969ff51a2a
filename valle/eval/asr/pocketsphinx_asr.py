"""pocketsphinx 5 with its bundled US-English acoustic model, dictionary and 3-gram LM.

Offline and fast, but far weaker than the paper's HuBERT-Large CTC recogniser: its WER on clean
read speech is ~17-25% (fast / accurate search on the LibriSpeech sample), so it tells intelligible from garbled speech and ranks systems, but is
not comparable to published numbers (docs/evaluation.md).  A JSGF ``grammar`` constrains the
search to the sentences a grammar allows (closed-vocabulary probes such as GRID-style sentences),
where its WER falls to a few per cent.
"""
from __future__ import annotations

from typing import Optional

from valle.eval.audio import resample, to_mono
from valle.utils.sphinx_decode import decode_pcm

SAMPLE_RATE = 16000
# The default ("fast") search: the first (lexicon-tree) pass only, at most 1500 active HMMs per
# frame, a 10-frame phone lookahead.  pocketsphinx's own defaults ("accurate") add a flat-lexicon
# second pass and a lattice best path over up to 30000 HMMs per frame.  Measured on the LibriSpeech
# sample, two LJSpeech clips and espeak-ng sentences (docs/evaluation.md, Speed): ~3x less CPU at
# the same or lower WER on natural speech.  A JSGF grammar search is ~10x cheaper than the 3-gram
# one already (0.075 CPU-s per second of speech), so with a grammar the default stays "accurate"
# (the settings the codec2 demo's checks were measured with); ``mode="fast"`` is 3x cheaper again.
FAST_SEARCH = {"fwdflat": False, "bestpath": False, "maxhmmpf": 1500, "pl_window": 10}
MODES = ("fast", "accurate")


class PocketsphinxASR:
    languages = {"en"}

    def __init__(self, grammar: Optional[str] = None, mode: Optional[str] = None, **decoder_options):
        """``grammar``: JSGF text; ``mode``: ``fast`` (``FAST_SEARCH``, the default without a grammar)
        or ``accurate`` (pocketsphinx's defaults, the default with a grammar); ``decoder_options``:
        pocketsphinx config on top (``beam=1e-40`` ...)."""
        from pocketsphinx import Decoder

        mode = mode or ("accurate" if grammar is not None else "fast")
        if mode not in MODES:
            raise ValueError(f"pocketsphinx mode {mode!r}: choose one of {', '.join(MODES)} (--asr pocketsphinx:accurate)")
        options = {**(FAST_SEARCH if mode == "fast" else {}), **decoder_options}
        self._decoder = Decoder(loglevel="FATAL", samprate=SAMPLE_RATE, **options)
        self.mode = mode
        self.name = f"pocketsphinx-en-us-{mode}"
        if grammar is not None:
            try:
                self._decoder.add_jsgf_string("grammar", grammar)
            except Exception as e:  # pocketsphinx raises RuntimeError/ValueError with no detail
                raise ValueError(
                    f"pocketsphinx cannot use the JSGF grammar ({type(e).__name__}: {e}): check its syntax "
                    "(#JSGF V1.0; grammar g; public <s> = ...;) and that every word is in the en-us dictionary"
                ) from e
            self._decoder.activate_search("grammar")
            self.name = f"pocketsphinx-en-us-{mode}+jsgf"

    def transcribe(self, wav, sample_rate: int) -> str:
        audio = resample(to_mono(wav), sample_rate, SAMPLE_RATE)
        decode_pcm(self._decoder, audio)  # features reset: a transcript does not depend on the order
        hyp = self._decoder.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""
