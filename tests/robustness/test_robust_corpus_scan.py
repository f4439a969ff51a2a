"""Stage 1 against hostile corpus folders of the second robustness pass (issue 19): a FIFO named like
audio, a symlinked speaker folder, a `|` in an LJSpeech row, m4a/aiff, UTF-16 transcripts, a float
wav far beyond full scale, a transcript far too long for its audio, a data dir inside the corpus.
Real espeak-ng speech, real soundfile/libsndfile, the real stage-1 CLI in a subprocess."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from robust_helpers import convert, espeak, read_jsonl_gz, run_module, sh, write_text
from valle.data.corpora.rejects import read_rejects


def stage1(corpus, out, *extra, timeout=120):
    return run_module("valle.bin.prepare_manifests", ["--stage", "1", "--corpus", "custom", "--corpus-dir", corpus,
                                                      "--output-dir", out, "--nj", "1", *extra], timeout=timeout)


def rejects_by_name(out):
    return {os.path.basename(r.path.split(":")[0]) if ".csv:" not in r.path else r.path.rsplit("/", 1)[-1]: r
            for r in read_rejects(out / "rejects.tsv")}


def kept_ids(out):
    return {s["id"] for s in read_jsonl_gz(out / "custom_supervisions_all.jsonl.gz")}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One pairs-layout corpus holding every case below, prepared once by stage 1."""
    root = tmp_path_factory.mktemp("hostile")
    corpus = root / "corpus"
    spk = corpus / "spk"
    espeak("A good sentence to keep.", spk / "good.wav")
    write_text(spk / "good.txt", "A good sentence to keep.")
    os.mkfifo(spk / "pipe.wav")  # opening it for reading would block forever
    write_text(spk / "pipe.txt", "Nothing will ever come.")
    elsewhere = espeak("Linked in from another disk.", root / "elsewhere" / "guest" / "linked.wav")
    write_text(elsewhere.with_suffix(".txt"), "Linked in from another disk.")
    os.symlink(root / "elsewhere" / "guest", corpus / "guest")
    os.symlink(corpus, spk / "loop")  # a folder link back up: must not recurse forever
    raw = espeak("Recorded on a phone.", root / "raw" / "phone.wav")
    sh("ffmpeg", "-v", "error", "-y", "-i", raw, "-c:a", "aac", spk / "phone.m4a")
    write_text(spk / "phone.txt", "Recorded on a phone.")
    convert(espeak("An apple interchange file.", root / "raw" / "aiff.wav"), spk / "mac.aiff")
    write_text(spk / "mac.txt", "An apple interchange file.")
    espeak("Saved by a Windows editor.", spk / "utf16.wav")
    (spk / "utf16.txt").write_bytes("Saved by a Windows editor.".encode("utf-16"))
    mono, sr = sf.read(str(espeak("Far too loud.", root / "raw" / "loud.wav")), dtype="float32")
    sf.write(str(spk / "loud.wav"), mono / np.abs(mono).max() * 25.0, sr, subtype="FLOAT")
    write_text(spk / "loud.txt", "Far too loud.")
    espeak("Two seconds.", spk / "essay.wav")
    write_text(spk / "essay.txt", ("This transcript belongs to a whole chapter, not to two seconds. " * 80)[:5000])
    out = root / "manifests"
    proc = stage1(corpus, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_fifo_named_like_audio_is_rejected_without_opening_it(hostile):
    assert rejects_by_name(hostile)["pipe.wav"].reason == "not_a_regular_file"
    assert "a FIFO" in rejects_by_name(hostile)["pipe.wav"].detail


def test_audio_in_a_symlinked_speaker_folder_is_kept(hostile):
    assert "guest_linked" in kept_ids(hostile) and "spk_good" in kept_ids(hostile)
    assert not any("loop" in i for i in kept_ids(hostile)), "the loop link adds nothing"


def test_m4a_is_rejected_by_name_and_aiff_is_processed(hostile):
    from lhotse import load_manifest

    r = rejects_by_name(hostile)["phone.m4a"]
    assert r.reason == "unsupported_format" and "ffmpeg -i" in r.detail
    assert "spk_mac" in kept_ids(hostile)
    rec = load_manifest(hostile / "custom_recordings_all.jsonl.gz")["spk_mac"]
    assert rec.load_audio().shape[1] == rec.num_samples  # lhotse reads what stage 1 accepted


def test_utf16_transcript_is_recognised_and_iconv_from_utf16_suggested(hostile):
    r = rejects_by_name(hostile)["utf16.wav"]
    assert r.reason == "unreadable_transcript" and "UTF-16" in r.detail and "iconv -f utf-16 -t utf-8" in r.detail
    assert "latin1" not in r.detail


def test_float_wav_at_25_times_full_scale_is_rejected(hostile):
    r = rejects_by_name(hostile)["loud.wav"]
    assert r.reason == "over_full_scale" and "25.0x full scale" in r.detail and "sox --norm" in r.detail


def test_transcript_far_too_long_for_its_audio_is_rejected(hostile):
    r = rejects_by_name(hostile)["essay.wav"]
    assert r.reason == "text_audio_mismatch" and "5000 transcript characters" in r.detail


def test_pipe_inside_ljspeech_text_is_a_bad_metadata_row(tmp_path):
    corpus = tmp_path / "lj"
    lines = []
    for i, text in enumerate(["The first line.", "Cats | dogs and birds.", "The third line."], 1):
        espeak(text.replace("|", "and"), corpus / "wavs" / f"LJ-{i}.wav")
        lines.append(f"LJ-{i}|{text}|{text}")
    write_text(corpus / "metadata.csv", "\n".join(lines) + "\n")
    out = tmp_path / "manifests"
    proc = stage1(corpus, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert kept_ids(out) == {"LJ-1", "LJ-3"}
    [bad] = [r for r in read_rejects(out / "rejects.tsv")]
    assert bad.reason == "bad_metadata_row" and bad.path.endswith("LJ-2.wav")
    assert "metadata.csv:2 has 5 |-separated fields" in bad.detail


def test_data_dir_inside_the_corpus_is_not_scanned_and_a_rerun_skips(tmp_path):
    corpus = tmp_path / "corpus"
    for stem in ("one", "two"):
        espeak(f"Sentence number {stem}.", corpus / "spk" / f"{stem}.wav")
        write_text(corpus / "spk" / f"{stem}.txt", f"Sentence number {stem}.")
    out = corpus / "data" / "manifests"
    assert stage1(corpus, out).returncode == 0
    # what later stages write into the data dir (here a wav with a transcript) is not corpus input
    espeak("Written by a later stage.", corpus / "data" / "tokenized" / "x.wav")
    write_text(corpus / "data" / "tokenized" / "x.txt", "Written by a later stage.")
    proc = stage1(corpus, out)
    assert proc.returncode == 0 and "up to date" in proc.stderr, proc.stdout + proc.stderr[-2000:]
    (out / ".stage1_custom.stamp.json").unlink()
    assert stage1(corpus, out).returncode == 0
    assert kept_ids(out) == {"spk_one", "spk_two"}
    assert not any("data" in r.path for r in read_rejects(out / "rejects.tsv"))


def test_english_text_through_the_pinyin_tokenizer_is_rejected_by_stage2(tmp_path):
    from valle.bin.tokenize_text import main as tokenize_text_main

    corpus = tmp_path / "corpus"
    for stem, text in (("english", "This sentence is English."), ("chinese", "今天天气很好。")):
        espeak(text, corpus / "spk" / f"{stem}.wav", voice="en-us" if stem == "english" else "cmn")
        write_text(corpus / "spk" / f"{stem}.txt", text)
    out = tmp_path / "manifests"
    assert stage1(corpus, out).returncode == 0
    tok = tmp_path / "tokenized"
    assert tokenize_text_main(["--manifests-dir", str(out), "--output-dir", str(tok), "--prefix", "custom",
                               "--text-tokenizer", "pinyin", "--language", "zh", "--nj", "1"]) == 0
    [row] = read_rejects(tok / "text_rejects.tsv")
    assert row.path.endswith("english.wav") and row.reason == "wrong_script"
    assert "no Chinese character" in row.detail and "--text-tokenizer espeak" in row.detail
    assert [s["id"] for s in read_jsonl_gz(tok / "custom_supervisions_all.jsonl.gz")] == ["spk_chinese"]
