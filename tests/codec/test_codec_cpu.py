"""codec_cpu: the CPU group encoder computes encodec's encoder; codes differ only at float ties."""
from __future__ import annotations

import pytest
import soundfile as sf
import torch

from valle.codec.encodec_model import load_encodec_model, to_codec_input
from valle.codec.encodec_batch import num_frames
from valle.codec.encodec_compare import TIE_TOLERANCE, code_differences
from valle.codec.encodec_cpu import CpuEncoder

# different lengths, most not multiples of 320, so the right "extra" reflection is exercised;
# 3000 samples is below MIN_FAST_SAMPLES and goes through encodec's own path
LENGTHS = [38400, 30007, 24319, 9601, 5119, 3000]


@pytest.fixture(scope="module")
def speech(samples_dir):
    wav, sr = sf.read(samples_dir / "librispeech-mini" / "2412-153948-0000.flac", dtype="float32")
    return to_codec_input(torch.from_numpy(wav)[None], sr)[0]  # 24 kHz mono, 11.66 s


@pytest.fixture(scope="module")
def group(speech):
    return [speech[i * 9000:i * 9000 + n] for i, n in enumerate(LENGTHS)]


def test_group_embeddings_equal_the_encoder_in_float64(group):
    """In float64 only the arrangement (layout, padding, LSTM batch, folded weight norm) can differ."""
    model64 = load_encodec_model("random").double()
    encoder = CpuEncoder(model64)
    long_items = [w.double() for w in group if len(w) >= 4800]
    ours = encoder.embeddings(long_items)
    for wav, emb in zip(long_items, ours):
        with torch.inference_mode():
            alone = model64.encoder(wav.view(1, 1, -1))[0].t()
        assert emb.shape == alone.shape == (num_frames(len(wav)), 128)
        assert torch.allclose(emb, alone, rtol=0, atol=1e-12)


def test_group_codes_equal_encodec_up_to_ties(group):
    model = load_encodec_model("random")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        codes = CpuEncoder(model).encode_group(group)
        total = differing = 0
        for wav, ours in zip(group, codes):
            with torch.inference_mode():
                (direct, _), = model.encode(wav.view(1, 1, -1))
                embeddings = model.encoder(wav.view(1, 1, -1))[0].t()
            direct = direct[0].t()
            assert ours.shape == direct.shape == (num_frames(len(wav)), 8)
            differences = code_differences(model, embeddings, ours, direct)
            assert all(d.is_tie for d in differences), differences
            total += len(wav)
            differing += len(differences)
        if len(group[-1]) < 4800:  # encodec's own path for tiny inputs: identical
            assert torch.equal(codes[-1], model.encode(group[-1].view(1, 1, -1))[0][0][0].t())
    finally:
        torch.set_num_threads(threads)
    assert differing <= 0.03 * sum(num_frames(n) for n in LENGTHS)


def test_a_real_difference_is_not_a_tie(group):
    """The tie check can fail: a code moved to another codeword is reported with a large gap."""
    model = load_encodec_model("random")
    wav = group[0]
    with torch.inference_mode():
        (codes, _), = model.encode(wav.view(1, 1, -1))
        embeddings = model.encoder(wav.view(1, 1, -1))[0].t()
    codes = codes[0].t()
    changed = codes.clone()
    changed[10, 0] = (changed[10, 0] + 512) % 1024
    changed[20, 3] = (changed[20, 3] + 1) % 1024
    differences = code_differences(model, embeddings, codes, changed)
    assert [(d.frame, d.stage) for d in differences] == [(10, 0), (20, 3)]
    # stage 0 of the random codebooks is nearly equidistant from every frame (codec.py), so even a
    # far codeword is only ~1e-4 away there; float ties measured here are <= 1.1e-6
    assert all(not d.is_tie and d.relative_gap > 10 * TIE_TOLERANCE for d in differences)
    assert code_differences(model, embeddings, codes, codes.clone()) == []
