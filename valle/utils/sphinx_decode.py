"""One utterance through a pocketsphinx 5 decoder, the same way for every caller.

pocketsphinx's front end keeps its noise and cepstral-mean estimates from one utterance to the
next: without a reset, a decoder reused for many clips gives results that depend on the clips
decoded before (the LibriSpeech sample scored WER 0.167 decoded first and 0.306 after six
espeak-ng clips).  ``decode_pcm`` resets the features, then decodes the whole clip as 16-bit PCM.
The caller activates its search (LM, grammar, alignment text) first and reads ``hyp()`` or
``seg()`` afterwards.
"""
from __future__ import annotations

import numpy as np


def decode_pcm(decoder, audio16k: np.ndarray, dither: float = 0.0) -> None:
    """Decode float ``audio16k`` (mono, in [-1, 1], at the decoder's rate) as one utterance.
    ``dither``: the amplitude of a fixed (seeded) noise floor added first, so that digital silence
    (exact zeros, -inf log energies) does not throw the features off; the same audio gives the
    same samples every call."""
    audio = np.asarray(audio16k, dtype=np.float32)
    if dither:
        audio = audio + np.random.default_rng(0).standard_normal(audio.shape[0]).astype(np.float32) * dither
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
    decoder.reinit_feat()
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()
