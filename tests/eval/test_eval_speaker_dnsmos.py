"""Speaker similarity (resemblyzer) and DNSMOS (speechmos ONNX) on real speech."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from valle.eval.audio import AudioInputError, resample
from valle.eval.speaker import cosine, load_speaker


@pytest.fixture(scope="module")
def encoder():
    return load_speaker("resemblyzer")


def _read(path):
    return sf.read(str(path), dtype="float32")


def test_same_speaker_is_more_similar_than_different_speakers(encoder, eval_data, espeak_wav, tmp_path):
    ls, sr = _read(eval_data / "2412-153948-0000.flac")
    half = ls.size // 2
    lj1, lj2 = _read(eval_data / "LJ002-0020.wav"), _read(eval_data / "LJ002-0035.wav")
    m1 = _read(espeak_wav("The kettle began to sing just as the rain reached the window.", tmp_path / "m1.wav", "en-us+m3"))
    m2 = _read(espeak_wav("Please put the green folder on the second shelf.", tmp_path / "m2.wav", "en-us+m3"))
    f2 = _read(espeak_wav("Please put the green folder on the second shelf.", tmp_path / "f2.wav", "en-us+f4"))
    e = {"ls_a": encoder.embed(ls[:half], sr), "ls_b": encoder.embed(ls[half:], sr),
         "lj1": encoder.embed(*lj1), "lj2": encoder.embed(*lj2),
         "m1": encoder.embed(*m1), "m2": encoder.embed(*m2), "f2": encoder.embed(*f2)}
    # measured: LibriSpeech halves 0.94, LJ pair 0.81, espeak m3 pair 0.91; across speakers 0.45-0.67
    assert cosine(e["ls_a"], e["ls_b"]) > max(cosine(e["ls_a"], e["lj1"]), cosine(e["ls_b"], e["lj2"]))
    assert cosine(e["lj1"], e["lj2"]) > max(cosine(e["lj1"], e["ls_a"]), cosine(e["lj1"], e["m1"]))
    # same text, two espeak voices, is less alike than two texts in one voice
    assert cosine(e["m1"], e["m2"]) > cosine(e["m2"], e["f2"])
    # the embedding does not depend on the rate it was handed (resampled inside)
    assert cosine(encoder.embed(resample(ls[:half], sr, 24000), 24000), e["ls_a"]) > 0.98


def test_speaker_embedding_runs_on_its_own_threads_and_restores_the_callers(encoder, eval_data):
    import torch

    wav, sr = _read(eval_data / "LJ002-0020.wav")
    caller = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        a = encoder.embed(wav, sr)
        assert torch.get_num_threads() == 2 and encoder.threads == 1
        b = load_speaker("resemblyzer", threads=2).embed(wav, sr)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(caller)
    assert cosine(a, b) > 0.9999  # the thread count changes the cost, not the embedding


def test_silence_has_no_speaker_embedding(encoder):
    with pytest.raises(AudioInputError, match="no speech"):
        encoder.embed(np.zeros(24000, np.float32), 24000)


def test_unavailable_speaker_backend_is_one_line(tmp_path, monkeypatch):
    from valle.eval.backend_errors import BackendUnavailable

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    for name in ("wavlm-sv", f"ecapa:{tmp_path / 'ecapa'}"):
        with pytest.raises(BackendUnavailable) as err:
            load_speaker(name)
        msg = str(err.value)
        assert "\n" not in msg and "--speaker resemblyzer" in msg and name.split(":")[0] in msg


def test_dnsmos_clean_scores_above_the_same_clip_with_noise(eval_data):
    from valle.eval.dnsmos import DNSMOS, clip_windows

    wav, sr = _read(eval_data / "2412-153948-0000.flac")
    clip = wav[: 5 * sr]
    noisy = (clip + np.random.default_rng(0).normal(0, 0.05, clip.size)).astype(np.float32)
    d = DNSMOS()
    clean_s, noisy_s = d.score(clip, sr), d.score(noisy, sr)
    # measured on the first 5 s: clean OVRL ~3.1, BAK ~4.0; with noise at 0.05 RMS OVRL ~1.5, BAK ~1.5
    assert clean_s["ovrl"] > noisy_s["ovrl"] + 0.5 and clean_s["bak"] > noisy_s["bak"] + 1.0
    assert all(1.0 <= v <= 5.0 for v in (*clean_s.values(), *noisy_s.values()))
    # the same clip at 24 kHz scores (nearly) the same: resampled to 16 kHz inside
    assert abs(d.score(resample(clip, sr, 24000), 24000)["ovrl"] - clean_s["ovrl"]) < 0.05
    # the dnsmos_local.py windowing: 5 s doubles to 10 s = 1 window, 3 s to 12 s = 3 windows
    assert [clip_windows(np.zeros(s * 16000, np.float32)).shape[0] for s in (3, 5, 12)] == [3, 1, 3]


def test_dnsmos_matches_speechmos_reference_implementation_and_max_windows_keeps_its_windows(eval_data):
    from speechmos import dnsmos as reference

    from valle.eval.dnsmos import DNSMOS, clip_windows

    wav, sr = _read(eval_data / "2412-153948-0000.flac")
    clip = wav[: 3 * sr]
    ours = DNSMOS().score(clip, sr)
    theirs = reference.run(clip, sr)
    for k in ("sig", "bak", "ovrl"):
        assert ours[k] == pytest.approx(float(theirs[f"{k}_mos"]), abs=1e-4)
    # max_windows=1 (faster, not the official protocol) keeps the first of the 3 windows of this clip
    one = DNSMOS(max_windows=1)
    assert "at most 1 window" in one.name
    first = one.score(clip, sr)
    alone = DNSMOS().score(clip_windows(clip)[0], sr)  # a 9.01 s clip that is exactly that window
    for k in ("sig", "bak", "ovrl"):
        assert first[k] == pytest.approx(alone[k], abs=1e-5)
        assert first[k] == pytest.approx(ours[k], abs=0.05)  # measured: within 0.014 on this clip
    with pytest.raises(ValueError, match="max_windows 0"):
        DNSMOS(max_windows=0)


def test_dnsmos_shared_window_convolutions_give_the_per_window_scores(eval_data):
    from valle.eval.dnsmos import DNSMOS, clip_windows

    wav, sr = _read(eval_data / "2412-153948-0000.flac")
    clip = wav[int(2 * sr): int(5.3 * sr)]  # 3.3 s, doubled twice to 13.2 s: 4 windows 1 s apart
    assert clip_windows(clip).shape[0] == 4
    shared, alone = DNSMOS(), DNSMOS(share_windows=False)
    assert shared._shared is not None and alone._shared is None
    ours, reference = shared.score(clip, sr), alone.score(clip, sr)
    for k in ("sig", "bak", "ovrl"):
        assert ours[k] == pytest.approx(reference[k], abs=1e-6)
