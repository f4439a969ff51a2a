"""Prepare stages 0-4 on the odd corpus: each bad or unusual input is processed or rejected with its reason.

One prepare.sh run (session fixture ``prepared``) over a folder whose path holds spaces, quotes,
a glob character and non-ASCII letters; each test checks where one kind of file ended up.
"""
from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from robust_helpers import (EXPECTED_KEPT, EXPECTED_STAGE1_REJECTS, EXPECTED_TEXT_REJECTS, ODD_NAME,
                            read_jsonl_gz)
from valle.data.corpora.rejects import read_rejects


def _rejects(run, name="rejects.tsv"):
    path = run.manifests / name if name == "rejects.tsv" else run.tokenized / name
    return {os.path.relpath(r.path, run.corpus): r for r in read_rejects(path)}


def _final_cuts(run):
    from lhotse import CutSet

    cuts = []
    for split in ("train", "dev", "test"):
        cuts += list(CutSet.from_file(run.tokenized / f"cuts_{split}.jsonl.gz"))
    return {c.id: c for c in cuts}


def _check_codes(cut):
    codes = cut.load_features()
    assert codes.shape == (round(cut.duration * 75), 8), (cut.id, codes.shape, cut.duration)
    assert codes.dtype == np.int16 and codes.min() >= 0 and codes.max() < 1024
    return codes


def test_paths_with_spaces_quotes_and_non_ascii_run_all_stages(prepared):
    assert ODD_NAME in str(prepared.corpus) and "'" in str(prepared.data)
    for split in ("train", "dev", "test"):
        assert (prepared.tokenized / f"cuts_{split}.jsonl.gz").is_file()
    assert (prepared.tokenized / "report" / "report.txt").is_file()
    cuts = _final_cuts(prepared)
    # ids and recording paths keep the odd characters exactly
    assert "spk ä_good one" in cuts
    src = cuts["spk ä_good one"].recording.sources[0].source
    assert src == str((prepared.corpus / "spk ä" / "good one.wav").resolve())
    _check_codes(cuts["spk ä_good one"])


def test_every_input_file_is_kept_or_rejected_with_a_reason(prepared):
    """Nothing lost: each audio file is in the final cuts or in exactly one rejects file."""
    audio = set()
    for root, _, files in os.walk(prepared.corpus):
        for name in files:
            if name.lower().endswith((".wav", ".flac", ".mp3", ".ogg", ".opus")):
                audio.add(os.path.relpath(os.path.join(root, name), prepared.corpus))
    expected = set(EXPECTED_KEPT) | set(EXPECTED_STAGE1_REJECTS) | set(EXPECTED_TEXT_REJECTS)
    assert audio == expected, "the matrix lists every file of the corpus"
    stage1 = _rejects(prepared)
    stage2 = _rejects(prepared, "text_rejects.tsv")
    kept_ids = set(_final_cuts(prepared))
    for rel in audio:
        places = [rel in stage1, rel in stage2, EXPECTED_KEPT.get(rel) in kept_ids]
        assert sum(places) == 1, (rel, places)
    assert kept_ids == set(EXPECTED_KEPT.values())


@pytest.mark.parametrize("name,reason,words", [
    ("spk ä/corrupt.wav", "unreadable_audio", "Format not recognised"),
    ("spk ä/truncated.wav", "corrupt_audio", "truncated"),
    ("spk ä/empty.wav", "zero_duration", "0 samples"),
])
def test_corrupt_truncated_and_zero_length_audio_are_rejected(prepared, name, reason, words):
    r = _rejects(prepared)[name]
    assert r.reason == reason and words in r.detail


@pytest.mark.parametrize("name,rate", [("spk ä/rate8k.wav", 8000), ("spk ä/rate48k.wav", 48000)])
def test_8khz_and_48khz_audio_are_resampled_to_24khz_codes(prepared, name, rate):
    cut = _final_cuts(prepared)[EXPECTED_KEPT[name]]
    info = sf.info(str(prepared.corpus / name))
    assert cut.recording.sampling_rate == rate == info.samplerate
    assert abs(cut.duration - info.frames / rate) < 1e-6
    assert cut.features.sampling_rate == 24000
    _check_codes(cut)


def test_six_channel_audio_is_downmixed_over_channels_not_time(prepared):
    from valle.codec.encodec_model import encode_audio, load_encodec_model

    name = "spk ä/six channels.wav"
    cut = _final_cuts(prepared)[EXPECTED_KEPT[name]]
    assert cut.recording.num_channels == 6
    data, sr = sf.read(str(prepared.corpus / name), dtype="float32", always_2d=True)
    assert data.shape[1] == 6
    codes = _check_codes(cut)
    expected = encode_audio(load_encodec_model("random"), torch.from_numpy(data.T.copy()), sr).numpy()
    n = min(len(expected), len(codes))
    assert n >= len(codes) - 1
    # Stage 3 encodes through lhotse's reader and the batch path; with random codebooks a rounding
    # difference can flip a frame's nearest code, so allow a few frames. A wrong axis (time
    # averaged away, or channels read as samples) leaves almost no frame equal.
    same = (codes[:n] == expected[:n]).all(axis=1).mean()
    assert same >= 0.9, same
    # a wrong axis (channels taken as time or frames x 6) could not give the right frame count
    assert codes.shape[0] == round(data.shape[0] / sr * 75)


@pytest.mark.parametrize("suffix", [".mp3", ".opus", ".flac", ".ogg"])
def test_compressed_formats_are_processed(prepared, suffix):
    name = f"fmt{suffix}/format{suffix}"
    cut = _final_cuts(prepared)[EXPECTED_KEPT[name]]
    assert 0.8 < cut.duration < 4.0
    codes = _check_codes(cut)
    assert len(np.unique(codes[:, 0])) > 3, "codes of real speech vary over time"


def test_non_utf8_transcript_is_rejected_not_garbled(prepared):
    r = _rejects(prepared).get("spk ä/latin1.wav")
    sups = read_jsonl_gz(prepared.manifests / "custom_supervisions_all.jsonl.gz")
    assert not any("\ufffd" in s["text"] for s in sups), "replacement characters entered a transcript"
    assert r is not None and r.reason == "unreadable_transcript"
    assert "latin1.txt" in r.detail and "UTF-8" in r.detail


def test_punctuation_only_transcript_is_rejected_by_stage2(prepared):
    r = _rejects(prepared, "text_rejects.tsv")["spk ä/punctuation.wav"]
    assert r.reason == "no_text_tokens" and "?! ... -- !!" in r.detail
    assert "spk ä_punctuation" not in _final_cuts(prepared)


def test_emoji_are_read_as_words(prepared):
    cut = _final_cuts(prepared)[EXPECTED_KEPT["spk ä/emoji.wav"]]
    tokens = cut.supervisions[0].custom["text_tokens"]
    words = " ".join(tokens).split(" _ ")
    # "Hello 😀 world ☃ and ✈ again." -> espeak-ng reads emoji by name (grinning face, snowman, airplane)
    assert len(words) >= 8, words
    assert all(t in (line.split()[0] for line in
                     (prepared.tokenized / "unique_text_tokens.k2symbols").read_text().splitlines())
               for t in tokens)


def test_unknown_characters_are_reported_as_dropped():
    from valle.text.tokenizer import get_text_tokenizer

    tok = get_text_tokenizer("espeak", "en-us")
    plain = tok("Hello world.")
    for odd in ("\ue123", "\ufffd", "\u200b"):  # private use, replacement character, zero-width space
        result = tok(f"Hel{odd}lo world.")
        assert result.tokens == plain.tokens, odd
        assert result.dropped == {odd: 1}, (odd, result.dropped)


def test_duplicate_ids_across_folders_keep_the_first(prepared):
    r = _rejects(prepared)["dup_x/same.wav"]
    assert r.reason == "duplicate_id"
    assert "dup_x_same" in r.detail and "dup/x_same.wav" in r.detail
    cut = _final_cuts(prepared)["dup_x_same"]
    assert cut.supervisions[0].text == "The first file with this name."


def test_symlinked_audio_is_followed_and_a_dangling_link_rejected(prepared):
    cut = _final_cuts(prepared)[EXPECTED_KEPT["spk ä/linked.wav"]]
    target = (prepared.root / "outside" / "real take.wav").resolve()
    assert cut.recording.sources[0].source == str(target)
    _check_codes(cut)
    r = _rejects(prepared)["spk ä/dangling link.wav"]
    assert r.reason == "unreadable_audio" and "No such file" in r.detail


def test_outputs_are_readable_like_normal_files(prepared):
    """Atomic writes go through mkstemp (mode 0600); outputs must still follow the umask."""
    umask = os.umask(0)
    os.umask(umask)
    want = 0o666 & ~umask
    for path in [prepared.manifests / "custom_recordings_all.jsonl.gz", prepared.tokenized / "cuts_train.jsonl.gz",
                 prepared.tokenized / "unique_text_tokens.k2symbols", prepared.tokenized / "report" / "report.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == want, (path, oct(path.stat().st_mode))


def test_duplicate_ids_in_libritts_layout_across_speakers(tmp_path):
    """libritts layout ids are file stems: the same stem under two speakers collides."""
    from robust_helpers import espeak, write_text
    from valle.data.corpora import prepare_custom

    corpus = tmp_path / "libri"
    for spk, text in (("100", "Spoken by the first speaker."), ("200", "Spoken by the second speaker.")):
        espeak(text, corpus / spk / "1" / "utt_0001.wav")
        write_text(corpus / spk / "1" / "utt_0001.normalized.txt", text)
    out = prepare_custom(corpus, tmp_path / "m")["all"]
    assert [s.speaker for s in out["supervisions"]] == ["100"]
    [r] = read_rejects(tmp_path / "m" / "rejects.tsv")
    assert r.reason == "duplicate_id" and r.path.endswith("200/1/utt_0001.wav") and "100/1/utt_0001.wav" in r.detail


def test_non_utf8_ljspeech_metadata_is_a_clear_error(tmp_path, capsys):
    from robust_helpers import espeak
    from valle.bin.prepare_manifests import main as prepare_main

    corpus = tmp_path / "lj"
    espeak("Hello there.", corpus / "wavs" / "LJ001-0001.wav")
    (corpus / "metadata.csv").write_bytes("LJ001-0001|Caf\xe9 au lait.|Caf\xe9 au lait.\n".encode("latin-1"))
    with pytest.raises(SystemExit) as e:  # the one error ending: "error: ..." and exit status 1
        prepare_main(["--stage", "1", "--corpus-dir", str(corpus), "--output-dir", str(tmp_path / "m")])
    err = str(e.value.code)
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in capsys.readouterr().err
    assert str(corpus / "metadata.csv") in err and "not UTF-8" in err and "iconv" in err
    assert not (tmp_path / "m" / "custom_supervisions_all.jsonl.gz").exists()


def test_stage2_language_without_espeak_voice_is_a_clear_error(prepared, tmp_path):
    from valle.bin.tokenize_text import main as text_main

    out = tmp_path / "tokenized"
    with pytest.raises(SystemExit) as e:
        text_main(["--manifests-dir", str(prepared.manifests), "--output-dir", str(out), "--prefix", "custom",
                   "--language", "tlh"])
    msg = str(e.value.code)
    assert "'tlh'" in msg and "--language" in msg and "espeak-ng --voices" in msg
    assert not out.exists() or not list(out.glob("*.jsonl.gz"))


def test_stage3_missing_or_truncated_codec_weights_are_clear_errors(prepared, tmp_path):
    import torch

    from robust_helpers import copy_tree
    from valle.bin.tokenize_audio import main as audio_main

    tokenized = copy_tree(prepared.tokenized, tmp_path / "tokenized")

    def stage3(weights) -> str:
        with pytest.raises(SystemExit) as e:
            audio_main(["--manifests-dir", str(prepared.manifests), "--tokenized-dir", str(tokenized),
                       "--prefix", "custom", "--codec", f"encodec:{weights}", "--parts", "all"])
        return str(e.value.code)

    missing = tmp_path / "no such encodec.th"
    err = stage3(missing)
    assert f"--codec encodec:{missing}: no such file" in err and "random" in err
    truncated = tmp_path / "cut encodec.th"
    torch.save({"encoder.model.0.conv.conv.bias": torch.zeros(32)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:-100])
    err = stage3(truncated)
    assert f"--codec encodec:{truncated}: cannot be read as a torch state dict" in err
    assert (tokenized / "custom_cuts_all.jsonl.gz").read_bytes() == \
        (prepared.tokenized / "custom_cuts_all.jsonl.gz").read_bytes(), "the earlier outputs are untouched"


def test_stage3_audio_moved_after_stage1_is_a_clear_error(prepared, tmp_path):
    """Recordings point at source files; a corpus moved between stages must not give a traceback."""
    from robust_helpers import copy_tree
    from valle.bin.tokenize_audio import main as audio_main

    manifests = copy_tree(prepared.manifests, tmp_path / "manifests")
    recs = read_jsonl_gz(manifests / "custom_recordings_all.jsonl.gz")
    for r in recs:
        r["sources"][0]["source"] = r["sources"][0]["source"].replace(str(prepared.root), str(tmp_path / "moved"))
    with gzip.open(manifests / "custom_recordings_all.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
    tokenized = tmp_path / "tokenized"
    tokenized.mkdir()
    for name in ("custom_supervisions_all.jsonl.gz", "unique_text_tokens.k2symbols"):
        (tokenized / name).write_bytes((prepared.tokenized / name).read_bytes())
    with pytest.raises(SystemExit) as e:
        audio_main(["--manifests-dir", str(manifests), "--tokenized-dir", str(tokenized), "--prefix", "custom",
                    "--codec", "encodec:random", "--no-progress"])
    err = str(e.value.code)
    assert err.startswith("error: ") and "Traceback" not in err
    assert str(tmp_path / "moved") in err and "rerun stages 1-2" in err
    assert not (tokenized / "custom_cuts_all.jsonl.gz").exists()
    assert not (tokenized / ".stage3_custom_all.stamp.json").exists()


def test_run_sh_trains_and_averages_with_odd_paths(prepared, tmp_path):
    """run.sh quotes --data-dir (the session's, with quotes and ü) and an --exp-dir with quotes,
    a glob and non-ASCII letters through training (2 nano steps) and averaging."""
    from robust_helpers import REPO, python_env

    exp = tmp_path / "exp \"odd\" dír's [x] *"
    r = subprocess.run(["bash", str(REPO / "run.sh"), "--data-dir", str(prepared.data), "--exp-dir", str(exp),
                        "--model-preset", "nano", "--num-epochs", "1", "--avg", "1", "--stop-stage", "2",
                        "--max-steps", "2", "--save-every-n", "1", "--max-duration", "10", "--num-workers", "0",
                        "--tensorboard", "false", "--synthesize-at-valid", "false", "--filter-min-duration", "0.1"],
                       capture_output=True, text=True, cwd=REPO, env=python_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(p.name for p in exp.glob("checkpoint-*.pt")) == ["checkpoint-1.pt", "checkpoint-2.pt"]
    from valle.train.checkpoint import load_checkpoint

    assert load_checkpoint(exp / "averaged.pt")["model"]
    assert [p.name for p in tmp_path.iterdir()] == [exp.name], "no stray folder from a split or globbed path"
