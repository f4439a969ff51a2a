"""load_encodec_model: random (seeded, isolated), a weights file, the hub cache, and failing fast offline."""
from __future__ import annotations

import time

import pytest
import torch

from valle.codec import encodec_model as codec
from valle.codec.encodec_model import CodecWeightsError, decode_codes, encode_audio, load_encodec_model


def _params_equal(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def random_codec():
    return load_encodec_model("random")


def test_random_is_seeded_isolated_and_marked(random_codec, caplog):
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    codec._RANDOM_STATE.clear()  # build from scratch, not from the per-process cache
    with caplog.at_level("WARNING"):
        again = load_encodec_model("random")
    after = torch.rand(3)
    assert torch.equal(before, after), "building the random codec must not consume the global RNG"
    assert _params_equal(random_codec, again)
    assert again.valle_codec_weights == "random"
    assert "NOT REAL" in caplog.text
    assert again.sample_rate == 24000 and again.bandwidth == 6.0 and again.frame_rate == 75
    assert again.quantizer.get_num_quantizers_for_bandwidth(again.frame_rate, again.bandwidth) == 8


def test_random_codes_depend_on_the_audio(random_codec, samples_dir):
    import soundfile as sf

    wav, sr = sf.read(samples_dir / "librispeech-mini" / "2412-153948-0000.flac", dtype="float32")
    codes = encode_audio(random_codec, torch.from_numpy(wav[: sr * 3])[None], sr)
    assert codes.shape == (225, 8) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < 1024
    for k in range(8):  # an all-zero codebook (encodec's k-means placeholder) would give one code
        assert codes[:, k].unique().numel() > 10
    audio = decode_codes(random_codec, codes[:40])
    assert audio.shape == (40 * 320,) and torch.isfinite(audio).all()


def test_weights_file_written_by_the_test(random_codec, tmp_path):
    state = {k: v.clone() for k, v in random_codec.state_dict().items()}
    key = next(k for k in state if k.endswith("weight_v"))
    state[key] += 0.5  # differs from the random model, so a silent fallback would be caught
    plain, wrapped = tmp_path / "encodec.pt", tmp_path / "wrapped.pt"
    torch.save(state, plain)
    torch.save({"model": state}, wrapped)
    for path in (plain, wrapped):
        model = load_encodec_model(str(path))
        assert model.valle_codec_weights == str(path)
        assert torch.equal(model.state_dict()[key], state[key])
        assert not _params_equal(model, random_codec)


def test_bad_weights_files_name_the_file(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(CodecWeightsError, match="nope.pt: no such file"):
        load_encodec_model(str(missing))
    wrong = tmp_path / "wrong.pt"
    torch.save({"encoder.weight": torch.zeros(3)}, wrong)
    with pytest.raises(CodecWeightsError, match="wrong.pt: not an Encodec 24 kHz state dict"):
        load_encodec_model(str(wrong))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CodecWeightsError, match="garbage.pt: cannot be read"):
        load_encodec_model(str(garbage))


def test_default_loader_offline_fails_fast_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv(codec.DOWNLOAD_TIMEOUT_ENV, "3")
    assert not codec.hub_checkpoint_path().exists()
    start = time.monotonic()
    with pytest.raises(CodecWeightsError) as info:
        load_encodec_model(None)
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert "--codec encodec:PATH" in message and "--codec encodec:random" in message and "--codec codec2" in message
    assert codec.CHECKPOINT_NAME in message


def test_default_loader_uses_the_hub_cache(random_codec, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    target = codec.hub_checkpoint_path()
    assert str(target).startswith(str(tmp_path))
    target.parent.mkdir(parents=True)
    torch.save(random_codec.state_dict(), target)
    model = load_encodec_model(None)
    assert model.valle_codec_weights == "pretrained:" + codec.CHECKPOINT_NAME
    assert _params_equal(model, random_codec)


def test_codec_identity_hashes_the_weights_once(random_codec, tmp_path):
    from valle.codec import codec_identity, load_codec

    path = tmp_path / "encodec.pt"
    torch.save(random_codec.state_dict(), path)
    loaded = load_codec(f"encodec:{path}")
    first = loaded.identity
    assert first == codec_identity(f"encodec:{path}") and first.startswith("encodec:sha256:")
    path.write_bytes(path.read_bytes() + b"\0")  # the file's digest changes; the loaded codec's weights do not
    assert codec_identity(f"encodec:{path}") != first
    assert loaded.identity == first  # kept from the first use, not hashed again
