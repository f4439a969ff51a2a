"""The codec2 backend: real pycodec2, its 3200 frame layout, the coarse-to-fine re-packing."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pycodec2
import pytest
import soundfile as sf
import torch

from valle.codec import CodecError, check_same_codec, code_space, codec2_rand, facts_of, load_codec
from valle.codec.codec2_1200 import codes_to_frame, frame_to_codes
from valle.codec.codec2_codec import encode_bytes
from valle.codec.codec2_frame import FIELDS, ORDER, frame_fields, repack, unpack


@pytest.fixture(scope="module")
def speech(espeak_wav, tmp_path_factory):
    path = espeak_wav("Place the green block at four now.", tmp_path_factory.mktemp("c2") / "s.wav")
    wav, sr = sf.read(path, dtype="float32")
    return wav, sr


def test_codec2_facts_and_shapes(speech):
    codec = load_codec("codec2")
    assert (codec.sample_rate, codec.frame_rate, codec.num_quantizers, codec.codebook_size) == (8000, 50.0, 8, 256)
    wav, sr = speech
    codes = codec.encode(wav, sr)
    seconds = len(wav) / sr
    assert codes.dtype == torch.long and codes.shape[1] == 8
    assert abs(codes.shape[0] - seconds * 50) <= 1
    assert 0 <= int(codes.min()) and int(codes.max()) <= 255
    out = codec.decode(codes)
    assert out.shape == (codes.shape[0] * 160,)
    assert codec.facts() == facts_of("codec2")


def _pycodec2_decode(frames, mode=3200):
    """pycodec2's own decode from libcodec2's initial random-number state (as in a fresh process)."""
    with codec2_rand.locked():
        dec = pycodec2.Codec2(mode)
        return np.concatenate([dec.decode(frame) for frame in frames])


def _our_decode(codes, spec="codec2"):
    return (load_codec(spec).decode(codes).numpy() * 32768.0).round().astype(np.int16)


def test_decode_of_encode_equals_pycodec2_on_its_own_bytes(speech, tmp_path):
    """Our codes are a re-packing only: decoding them gives pycodec2's own decode, sample for sample, as a
    fresh process decodes the bytes (libcodec2's random phases start from their initial state there)."""
    codec = load_codec("codec2")
    wav, sr = speech
    samples = (codec.to_input(wav, sr)[0].numpy() * 32767.0).round().astype(np.int16)
    samples = samples[: len(samples) // 160 * 160]
    enc = pycodec2.Codec2(3200)
    own = [enc.encode(samples[i:i + 160]) for i in range(0, len(samples), 160)]
    codes = codec.encode(wav, sr)[: len(own)]
    assert unpack(codes.numpy()) == b"".join(own)  # the bytes behind the codes are pycodec2's
    tmp_path.joinpath("frames.bin").write_bytes(b"".join(own))
    script = ("import sys, numpy as np, pycodec2; d = open(sys.argv[1], 'rb').read(); c = pycodec2.Codec2(3200); "
              "np.save(sys.argv[2], np.concatenate([c.decode(d[i:i + 8]) for i in range(0, len(d), 8)]))")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "frames.bin"), str(tmp_path / "fresh.npy")], check=True)
    fresh = np.load(tmp_path / "fresh.npy")
    assert np.abs(fresh).max() > 1000  # speech, not silence
    _our_decode(codes[:40])  # an earlier decode in this process changes nothing
    np.testing.assert_array_equal(_our_decode(codes), fresh)
    np.testing.assert_array_equal(_pycodec2_decode(own), fresh)


def test_repack_is_a_bijection(speech):
    assert sorted(ORDER.tolist()) == list(range(64))
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, size=(2000, 8))
    np.testing.assert_array_equal(repack(unpack(codes)), codes)
    raw = rng.integers(0, 256, size=2000 * 8, dtype=np.uint8).tobytes()
    assert unpack(repack(raw)) == raw
    wav, sr = speech
    real = encode_bytes((load_codec("codec2").to_input(wav, sr)[0].numpy() * 32767).astype(np.int16))
    assert unpack(repack(real)) == real
    with pytest.raises(ValueError, match="0..255"):
        unpack(np.full((1, 8), 256))


def test_frame_layout_matches_codec2_pitch_field():
    """A tone gliding up in pitch: the 7-bit Wo field at bits 2-8, Gray-decoded, rises monotonically
    (the raw Gray values do not), and both voicing bits say voiced."""
    sr = 8000
    t = np.arange(3 * sr) / sr
    f0 = np.exp(np.linspace(np.log(80), np.log(350), len(t)))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 10))
    data = encode_bytes((tone * 32767).astype(np.int16))
    fields = frame_fields(data)[5:-2]  # skip codec2's start-up frames and the padded end
    names = [name for name, _ in FIELDS]
    wo = fields[:, names.index("Wo")]
    assert (np.diff(wo) >= 0).all() and wo[-1] - wo[0] > 60
    raw = np.unpackbits(np.frombuffer(data, np.uint8).reshape(-1, 8), axis=1)[5:-2, 2:9] @ (1 << np.arange(6, -1, -1))
    assert (np.diff(raw) < 0).any()  # the bytes are Gray-coded: undoing that is what makes wo monotonic
    assert fields[:, 0].all() and fields[:, 1].all()


def test_codebooks_are_coarse_to_fine():
    """Codebook 0 holds both voicing bits and the top bit of every field it can; a flipped bit of
    codebook k moves one field by at most the weight of the bit planes codebook k holds, so the
    damage shrinks from codebook 0 to codebook 7 like Encodec's residual codebooks."""
    widths = np.array([width for _, width in FIELDS])
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, size=(200, 8))
    base = frame_fields(unpack(codes))
    largest = []
    for book in range(8):
        worst = 0
        for bit in range(8):
            flipped = codes.copy()
            flipped[:, book] ^= 1 << (7 - bit)
            change = np.abs(frame_fields(unpack(flipped)) - base)
            assert ((change > 0).sum(axis=1) == 1).all()  # one field per bit
            relative = change / (1 << (widths - 1))  # 1.0 = the field's top bit
            worst = max(worst, float(relative.max()))
        largest.append(worst)
    assert largest[0] == 1.0 and largest[7] < 0.1
    assert all(a >= b for a, b in zip(largest, largest[1:]))
    voicing = unpack(np.array([[0b11000000, 0, 0, 0, 0, 0, 0, 0]]))
    assert frame_fields(voicing)[0, :2].tolist() == [1, 1]


def test_codec_errors_name_the_fix():
    with pytest.raises(CodecError, match="unknown codec 'opus'.*encodec.*codec2"):
        load_codec("opus")
    with pytest.raises(CodecError, match="codec2 takes a mode, not weights: codec2 \\(3200\\) or codec2:1200"):
        load_codec("codec2:/tmp/w.th")
    low = np.zeros(6000, dtype=np.float32)
    with pytest.raises(CodecError, match="6000 Hz, below the 8000 Hz.*>= 8000 Hz"):
        load_codec("codec2").encode(low, 6000)
    with pytest.raises(CodecError, match="codec mismatch: the checkpoint uses codec2.*the prompt uses encodec.*--codec codec2 for the prompt"):
        check_same_codec(facts_of("codec2"), facts_of("encodec:random"), "the checkpoint", "the prompt")
    check_same_codec(facts_of("encodec"), facts_of("encodec:random"), "a", "b")  # same code space


# -- codec2:1200 -------------------------------------------------------------------------------

def _split_fields(frames: bytes):
    """codec2 1200 frame bits ``[frames, 48]`` without the two pitch/energy fields, and those fields."""
    bits = np.unpackbits(np.frombuffer(frames, dtype=np.uint8).reshape(-1, 6), axis=1)
    woe = np.r_[2:10, 12:20]
    return np.delete(bits, woe, axis=1), bits[:, woe]


def test_codec2_1200_facts_shapes_and_pycodec2_equality(speech):
    codec = load_codec("codec2:1200")
    assert (codec.sample_rate, codec.frame_rate, codec.num_quantizers, codec.codebook_size) == (8000, 25.0, 5, 1024)
    assert codec.spec == "codec2:1200" and codec.facts() == facts_of("codec2:1200")
    assert codec.identity == "codec2:1200+woe-cells" and load_codec("codec2").identity == "codec2:3200"
    wav, sr = speech
    codes = codec.encode(wav, sr)
    assert codes.dtype == torch.long and codes.shape[1] == 5 and abs(codes.shape[0] - len(wav) / sr * 25) <= 1
    assert int(codes[:, 3:].max()) < 512 and int(codes[:, 1].max()) < 512  # 9-bit fields; the spare bit is 0
    samples = (codec.to_input(wav, sr)[0].numpy() * 32767.0).round().astype(np.int16)
    samples = samples[: len(samples) // 320 * 320]
    enc = pycodec2.Codec2(1200)
    own = b"".join(enc.encode(samples[i:i + 320]) for i in range(0, len(samples), 320))
    ours = codes_to_frame(codes[: len(own) // 6].numpy())
    # envelope and voicing bits are codec2's own; pitch/energy are re-quantised from their cells
    np.testing.assert_array_equal(_split_fields(ours)[0], _split_fields(own)[0])
    again = frame_to_codes(ours)
    np.testing.assert_array_equal(again[:, [0, 3, 4]], codes[: len(again), [0, 3, 4]].numpy())
    assert (again[:, 1:3] == codes[: len(again), 1:3].numpy()).mean() > 0.85  # cells move only at their edges
    np.testing.assert_array_equal(_our_decode(codes[: len(again)], "codec2:1200"),
                                  _pycodec2_decode([ours[i:i + 6] for i in range(0, len(ours), 6)], 1200))


def test_codec2_1200_pitch_energy_codes_are_absolute():
    """codec2's pitch/energy indices are steps from the previous frame; our codes are cells of the
    decoded (pitch, energy): a rising tone climbs the pitch cells, a quieter copy sits ~2 energy
    cells lower (6 dB at 3.4 dB a cell) with the same pitch cells."""
    from valle.codec.codec2_woe import ge_codebook

    assert ge_codebook().shape == (256, 2)
    t = np.arange(3 * 8000) / 8000
    phase = 2 * np.pi * np.cumsum(np.exp(np.linspace(np.log(110), np.log(330), len(t)))) / 8000
    tone = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 10))
    codec = load_codec("codec2:1200")
    loud, quiet = (codec.encode((a * tone).astype(np.float32), 8000)[5:-5] for a in (1.0, 0.5))
    def cells(codes):
        return (codes[:, 1:3] & 255).numpy().reshape(-1)  # both half-frames, in time order

    pitch, energy = cells(loud) // 16, cells(loud) % 16
    assert pitch[-1] - pitch[0] >= 8 and (np.diff(pitch) >= -1).all()  # log2(3) = 1.58 octaves at 0.11 a cell
    assert abs(np.median(energy - cells(quiet) % 16) - 6 / 3.44) <= 1
    assert (np.abs(pitch - cells(quiet) // 16) <= 1).mean() > 0.9


def test_codec2_1200_codebook_0_says_what_is_said(speech):
    """The reason for the mode: 3200's codebook 0 barely changes through voiced speech, 1200's (the
    LSP envelope class) changes with the sound; and a gliding voiced tone sets every voicing bit."""
    wav, sr = speech
    c3200, c1200 = load_codec("codec2").encode(wav, sr), load_codec("codec2:1200").encode(wav, sr)
    changes = [float((c[1:, 0] != c[:-1, 0]).float().mean()) for c in (c3200, c1200)]
    assert changes[1] > 0.6 and changes[0] < 0.5
    t = np.arange(2 * 8000) / 8000
    phase = 2 * np.pi * np.cumsum(np.exp(np.linspace(np.log(90), np.log(300), len(t)))) / 8000
    tone = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 10))
    codes = load_codec("codec2:1200").encode(tone.astype(np.float32), 8000)[3:-2]
    assert (codes[:, 0] >> 9 == 1).all() and (codes[:, 1] >> 8 == 1).all() and (codes[:, 2] >> 8 == 3).all()


def test_codec2_mode_specs():
    assert facts_of("codec2:3200") == facts_of("codec2") and code_space("codec2:3200") == "codec2"
    assert code_space("codec2:1200") == "codec2:1200" and code_space("encodec:random") == "encodec"
    with pytest.raises(CodecError, match="codec2:700: codec2 takes a mode"):
        load_codec("codec2:700")
    with pytest.raises(CodecError, match="codec mismatch"):
        check_same_codec(facts_of("codec2"), facts_of("codec2:1200"), "the checkpoint", "the prompt")


def test_a_model_of_another_codec2_1200_layout_is_refused():
    """Data, checkpoints and voices record the code layout with the codec facts: a model whose codes
    name another layout (the same numbers meaning other things) is refused with the fix, not decoded
    into wrong pitch and energy; records from before layouts were recorded name none and still load."""
    from types import SimpleNamespace

    from valle.codec import same_codec
    from valle.infer.checkpoint_codec import load_checkpoint_codec

    now = facts_of("codec2:1200")
    assert now["code_layout"] == "woe-cells" and load_codec("codec2:1200").facts() == now
    assert "code_layout" not in facts_of("codec2") and same_codec(facts_of("codec2"), facts_of("codec2:3200"))
    other = dict(now, code_layout="some-older-layout")
    with pytest.raises(CodecError, match=r"codec layout mismatch: the checkpoint old\.pt has codec2:1200 codes in "
                                         r"the layout 'some-older-layout' but this valle in 'woe-cells'.*--stage 3"):
        load_checkpoint_codec(SimpleNamespace(codec=other, sources={"ar": "old.pt"}))
    unnamed = {k: v for k, v in now.items() if k != "code_layout"}
    assert load_checkpoint_codec(SimpleNamespace(codec=unnamed, sources={"ar": "x.pt"})).facts() == now
    with pytest.raises(CodecError, match="codec mismatch"):  # another codec altogether: the usual message
        check_same_codec(other, facts_of("codec2"), "the checkpoint", "the prompt")


def test_codec2_decodes_are_the_same_in_any_order_and_thread(speech):
    from concurrent.futures import ThreadPoolExecutor

    assert codec2_rand.available()  # the bundled libcodec2's state was found and checked
    codec = load_codec("codec2")
    codes = codec.encode(*speech)
    first = codec.decode(codes)
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda n: codec.decode(codes[:n]), [len(codes), 25, len(codes), 60] * 2))
    assert all(torch.equal(o, first) for o in outs[0::2])
    assert torch.equal(outs[1], first[:25 * 160])  # decoding is causal: a prefix gives the prefix's samples
