"""codec_batch: the fast single-cut path equals encodec exactly; padded batches trim exactly."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from valle.codec.encodec_model import load_encodec_model, to_codec_input
from valle.codec.encodec_batch import _run, encode_batch, num_frames


@pytest.fixture(scope="module")
def codec_and_speech(samples_dir):
    model = load_encodec_model("random")
    wav, sr = sf.read(samples_dir / "librispeech-mini" / "2412-153948-0000.flac", dtype="float32")
    speech = to_codec_input(torch.from_numpy(wav)[None], sr)[0]  # 24 kHz mono, 11.66 s
    return model, speech


@pytest.fixture(scope="module")
def codec64(codec_and_speech):
    return load_encodec_model("random").double()


def _encodec(model, wav: torch.Tensor) -> torch.Tensor:
    """The encodec package's own path, one item: ``model.encode`` -> [frames, 8]."""
    with torch.inference_mode():
        (codes, scale), = model.encode(wav.to(next(model.parameters()).dtype).view(1, 1, -1))
    assert scale is None  # the 24 kHz model does not normalise its input
    return codes[0].transpose(0, 1)


def test_single_item_equals_encodec_exactly(codec_and_speech):
    model, speech = codec_and_speech
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for n in (72000, 48007, 4000):  # 4000 samples goes through encodec's own path
            wav = speech[:n]
            ours = encode_batch(model, [wav])[0]
            assert ours.shape == (num_frames(n), 8)
            assert torch.equal(ours, _encodec(model, wav))
    finally:
        torch.set_num_threads(threads)


def _embeddings(model, wav: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model.encoder(wav.view(1, 1, -1))[0]  # [128, frames]


LENGTHS = [12800, 9601, 8007, 6399, 5119]  # only 12800 is a multiple of 320


def test_padded_batch_is_trimmed_exactly(codec_and_speech, codec64):
    """Right-padded batch vs each item alone, in float64 so only the padding logic can differ.

    Lengths that are not multiples of 320 make encodec reflect-pad each strided convolution on
    the right; a batch that let the zeros of the padding in would change the last frames.
    """
    speech, model64 = codec_and_speech[1].double(), codec64
    wavs = [speech[i * 4000:i * 4000 + n] for i, n in enumerate(LENGTHS)]
    batch = encode_batch(model64, wavs)
    x = torch.zeros(len(wavs), 1, max(LENGTHS), dtype=torch.float64)
    for row, wav in enumerate(wavs):
        x[row, 0, :len(wav)] = wav
    with torch.inference_mode():
        emb, counts = _run(list(model64.encoder.model), x, list(LENGTHS), own_input=True)
    for row, (wav, codes) in enumerate(zip(wavs, batch)):
        alone = _embeddings(model64, wav)
        assert counts[row] == alone.shape[1] == num_frames(len(wav))
        assert torch.allclose(emb[row, :, :counts[row]], alone, rtol=0, atol=1e-12)
        with torch.inference_mode():
            codes_alone = model64.quantizer.encode(alone[None], model64.frame_rate, model64.bandwidth)
        assert codes.shape == (num_frames(len(wav)), 8)
        assert torch.equal(codes, codes_alone[:, 0].transpose(0, 1))


def test_zero_padding_without_reflection_would_differ(codec_and_speech, codec64):
    """The check above can fail: plain zero padding changes the last frame of a short item."""
    speech, model64 = codec_and_speech[1].double(), codec64
    wav = speech[:6399]
    alone = _embeddings(model64, wav)
    naive = _embeddings(model64, torch.cat([wav, wav.new_zeros(12800 - len(wav))]))[:, :alone.shape[1]]
    assert (naive[:, -1] - alone[:, -1]).abs().max() > 1e-10  # float64 noise is ~1e-16
    assert torch.allclose(naive[:, :-1], alone[:, :-1], rtol=0, atol=1e-12)


def test_gpu_batching_path_on_cpu_equals_one_cut_at_a_time(tmp_path, samples_dir, codec64):
    """The --device cuda code path (duration batches, threaded loading), run on CPU in float64."""
    from codec_stage_inputs import write_stage2_inputs
    from lhotse import load_manifest

    from valle.codec.encodec_codec import EncodecCodec
    from valle.data.tokenize_audio import make_cuts
    from valle.data.cut_encoding import encode_cpu, encode_gpu

    formats = samples_dir / "formats"
    files = [formats / "stereo.wav", formats / "mono_c0.wav", formats / "stereo.opus", formats / "stereo.mp3"]
    manifests, tokenized = write_stage2_inputs(tmp_path, files)
    sup_path = tokenized / "corpus_supervisions_train.jsonl.gz"
    cuts, _ = make_cuts(load_manifest(manifests / "corpus_recordings_train.jsonl.gz"), load_manifest(sup_path), sup_path)
    codec = EncodecCodec(model=codec64)
    batched = dict(encode_gpu(codec, cuts, batch_duration=2.2, nj=2))  # batches of 2-3 cuts
    single = dict(encode_cpu(codec, [cuts], nj=1))
    assert sorted(batched) == sorted(single) == sorted(c.id for c in cuts)
    for cut_id, codes in single.items():
        assert codes.dtype == np.int16 and codes.shape[1] == 8
        assert np.array_equal(batched[cut_id], codes)
