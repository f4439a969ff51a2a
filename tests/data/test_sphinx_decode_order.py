"""pocketsphinx decoders reused across clips give each clip the result it gets alone
(valle/utils/sphinx_decode.py resets the front end's estimates per utterance)."""
from __future__ import annotations

import numpy as np
import soundfile as sf

from valle.eval.audio import resample

CLIPS = [("Seven geese flew low over the frozen lake.", "en-us+f4"), ("Place the green block at four now.", "en-us+m3"),
         ("The quick brown fox jumps over the lazy dog.", "en-gb"), ("Bring the red ball under nine please.", "en-us+f2"),
         ("Lift white box behind two again.", "en-us"), ("A stitch in time saves nine.", "en-us+m7")]


def _decode_without_reset(decoder, audio16k, dither):
    """``decode_pcm`` without its ``reinit_feat()``: the control."""
    audio = audio16k + np.random.default_rng(0).standard_normal(audio16k.shape[0]).astype(np.float32) * dither
    decoder.activate_search("_default")
    decoder.start_utt()
    decoder.process_raw((np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes(), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr.strip() if hyp is not None else ""


def test_long_layout_aligner_transcript_does_not_depend_on_the_clips_before(samples_dir, espeak_wav, tmp_path):
    from valle.data.long.align import DITHER, Aligner

    wav, sr = sf.read(str(samples_dir / "librispeech-mini" / "2412-153948-0000.flac"), dtype="float32")
    speech = resample(wav[: 3 * sr], sr, 16000)
    clips = []
    for i, (text, voice) in enumerate(CLIPS):
        clip, clip_sr = sf.read(str(espeak_wav(text, tmp_path / f"e{i}.wav", voice)), dtype="float32")
        clips.append(resample(clip, clip_sr, 16000))
    aligner = Aligner()
    alone = aligner.transcribe(speech)
    assert alone
    # the control: without the per-utterance reset, six espeak-ng clips change the LibriSpeech clip's transcript
    for clip in clips:
        _decode_without_reset(aligner.decoder, clip, DITHER)
    assert _decode_without_reset(aligner.decoder, speech, DITHER) != alone
    # with it (every Aligner call), the transcript after the same clips is the transcript alone
    for clip in clips:
        aligner.transcribe(clip)
    assert aligner.transcribe(speech) == alone
