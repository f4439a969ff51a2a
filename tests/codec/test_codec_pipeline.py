"""--codec end to end with real codec2: prepare.sh records the codec, training and synthesis follow it.

One tiny espeak-ng corpus (LJSpeech layout) is prepared with ``prepare.sh --codec codec2``; a nano
model trains two steps on it; synthesis decodes with codec2 at 8 kHz and refuses Encodec.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from valle.codec import CodecError, facts_of

REPO = Path(__file__).resolve().parents[2]
SENTENCES = ["Place the red block now.", "Set the blue cube at four.", "Lay the green ball by two.",
             "Put the white box in nine.", "Bin the red cube soon.", "Place the blue ball at six."]


def _bash(script, cwd, *args, ok=True):
    r = subprocess.run(["bash", str(REPO / script), *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if ok:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return r


def _lj_corpus(root: Path, espeak_wav) -> Path:
    lines = []
    for i, text in enumerate(SENTENCES):
        espeak_wav(text, root / "wavs" / f"U{i:02d}.wav", voice="en-us" if i % 2 else "en-gb")
        lines.append(f"U{i:02d}|{text}|{text}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def codec2_run(tmp_path_factory, espeak_wav):
    """(work dir, tokenized dir, experiment dir) of prepare.sh --codec codec2 and 2 training steps."""
    from valle.bin.train import main as train_main

    work = tmp_path_factory.mktemp("codec2run")
    corpus = _lj_corpus(work / "corpus", espeak_wav)
    _bash("egs/custom/prepare.sh", work, "--corpus-dir", corpus, "--codec", "codec2", "--nj", "1",
          "--dev-size", "1", "--test-size", "1")
    tokenized = work / "data" / "tokenized"
    exp = work / "exp"
    result = train_main(["--tokenized-dir", str(tokenized), "--exp-dir", str(exp), "--model-preset", "nano",
                         "--max-steps", "2", "--num-workers", "0", "--max-duration", "20",
                         "--valid-interval", "1000", "--tensorboard", "false"])
    assert result is None or result.get("loss", 0) > 0
    return work, tokenized, exp


def test_prepared_codes_and_record_are_codec2(codec2_run):
    from lhotse import load_manifest

    _, tokenized, _ = codec2_run
    record = json.loads((tokenized / "codec.json").read_text())
    assert record == facts_of("codec2")
    cuts = load_manifest(tokenized / "cuts_train.jsonl.gz")
    for cut in cuts:
        assert cut.custom["codec"] == record
        assert cut.features.type == "codec2" and cut.features.frame_shift == 0.02
        codes = cut.load_features()
        assert codes.shape == (cut.num_frames, 8) and abs(codes.shape[0] - cut.duration * 50) <= 1
        assert 0 <= codes.min() and codes.max() <= 255


def test_checkpoint_records_the_codec_and_its_vocabulary(codec2_run):
    _, _, exp = codec2_run
    ckpt = torch.load(next(exp.glob("checkpoint-*.pt")), map_location="cpu", weights_only=True)
    assert ckpt["codec"] == facts_of("codec2")
    assert ckpt["model_config"]["codec"] == "codec2" and ckpt["model_config"]["num_audio_tokens"] == 256
    # AR: 256 codes + EOS 256 + BOS 257 (nano prepends BOS); NAR tables 256 codes (+1 padding row in the first)
    assert ckpt["model"]["ar_audio_embedding.word_embeddings.weight"].shape[0] == 258
    assert ckpt["model"]["ar_predict_layer.weight"].shape[0] == 257
    assert ckpt["model"]["nar_predict_layers.0.weight"].shape[0] == 256


def test_synthesis_decodes_with_the_checkpoint_codec(codec2_run, espeak_wav):
    from valle.bin.infer import main as infer_main

    work, _, exp = codec2_run
    ckpt = next(exp.glob("checkpoint-*.pt"))
    prompt = work / "corpus" / "wavs" / "U00.wav"
    common = ["--checkpoint", str(ckpt), "--text", "Set the red ball.", "--text-prompt", SENTENCES[0],
              "--audio-prompt", str(prompt), "--max-len-ratio", "2", "--min-len-ratio", "1"]
    out = work / "out.wav"
    assert infer_main(common + ["--output", str(out)]) == 0
    info = sf.info(str(out))
    meta = json.loads(out.with_suffix(".json").read_text())
    assert info.samplerate == 8000 and meta["codec"]["name"] == "codec2" and meta["output_rate"] == 8000
    assert info.frames == 160 * meta["generated_frames"] > 0
    resampled = work / "out16.wav"
    assert infer_main(common + ["--output", str(resampled), "--output-rate", "16000"]) == 0
    assert sf.info(str(resampled)).samplerate == 16000 and sf.info(str(resampled)).frames == 2 * info.frames

    with pytest.raises(SystemExit) as e:  # the reverse pairing: an Encodec codec for a codec2 model
        infer_main(common + ["--output", str(work / "x.wav"), "--codec", "encodec:random"])
    assert "codec mismatch" in str(e.value.code) and "--codec codec2" in str(e.value.code)


def test_encodec_model_refuses_codec2_data(codec2_run, tmp_path):
    """A model trained on Encodec codes cannot be fine-tuned on codec2 codes (the reverse pairing)."""
    from valle.bin.train import main as train_main
    from valle.models import VALLE, get_preset
    from valle.train.checkpoint import save_checkpoint

    _, tokenized, _ = codec2_run
    cfg = get_preset("nano")
    init = tmp_path / "encodec_model.pt"
    save_checkpoint(init, model=VALLE(cfg).state_dict(), model_config=cfg.to_dict())
    with pytest.raises((CodecError, SystemExit)) as e:
        train_main(["--tokenized-dir", str(tokenized), "--exp-dir", str(tmp_path / "exp"), "--init-from", str(init),
                    "--max-steps", "1", "--num-workers", "0", "--tensorboard", "false"])
    assert "models encodec codes but the training data hold codec2 codes" in str(e.value)


def test_codec2_codes_in_tokens_are_the_codec_bytes(codec2_run):
    """The stage-3 codes of a cut are exactly load_codec('codec2').encode of its audio."""
    from lhotse import load_manifest

    from valle.codec import load_codec

    _, tokenized, _ = codec2_run
    cut = next(iter(load_manifest(tokenized / "cuts_train.jsonl.gz")))
    codec = load_codec("codec2")
    expected = codec.encode(cut.load_audio(), cut.recording.sampling_rate).numpy()  # cut.sampling_rate: the codes'
    stored = cut.load_features()
    n = min(len(expected), len(stored))
    assert n >= len(stored) - 1
    np.testing.assert_array_equal(stored[:n], expected[:n])
