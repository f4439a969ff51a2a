"""pocketsphinx decoders reused across clips give each clip the result it gets alone
(valle/utils/sphinx_decode.py resets the front end's estimates per utterance)."""
from __future__ import annotations

import numpy as np
import soundfile as sf

from valle.eval.audio import resample


def test_long_layout_aligner_transcript_does_not_depend_on_the_clips_before(samples_dir, espeak_wav, tmp_path):
    from valle.data.long.align import Aligner

    wav, sr = sf.read(str(samples_dir / "librispeech-mini" / "2412-153948-0000.flac"), dtype="float32")
    speech = resample(wav[: 3 * sr], sr, 16000)
    other, other_sr = sf.read(str(espeak_wav("Seven geese flew low over the frozen lake.", tmp_path / "e.wav",
                                             "en-us+f4")), dtype="float32")
    other = resample(other, other_sr, 16000)
    aligner = Aligner()
    alone = aligner.transcribe(speech)
    # measured without the reset: a different transcript of the LibriSpeech clip after this one
    aligner.transcribe((other + np.random.default_rng(1).normal(0, 0.1, other.size)).astype(np.float32))
    assert alone and aligner.transcribe(speech) == alone
