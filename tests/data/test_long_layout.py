"""The ``long`` layout: a real long recording (LibriSpeech/LJSpeech samples and espeak-ng sentences
with pauses of varied length, plus noise and tones) is segmented, aligned to its transcript or
transcribed, and every segment is either kept with its own words or rejected with a reason."""
from __future__ import annotations

import csv
import hashlib
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from lhotse import load_manifest
from long_recording import build_long_recording, norm_words

from valle.bin.prepare_manifests import main as prepare_main
from valle.data.corpora import detect_layout
from valle.data.corpora.rejects import read_rejects
from valle.data.long.report import long_section
from valle.eval.wer import utterance_errors

OTHER_TEXT = ("She packed her books and a small lamp into the wooden chest. The committee will meet again "
              "next week to discuss the plan.")


def _tsv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _span(row_path):
    """(source, start, end) of a rejects.tsv path ``<source>@<start>-<end>``."""
    src, _, span = row_path.rpartition("@")
    a, b = span.split("-")
    return src, float(a), float(b)


def _overlap(piece, start, end):
    return max(0.0, min(end, piece.end) - max(start, piece.start))


def _stage1(corpus, out, *extra):
    return prepare_main(["--stage", "1", "--corpus", "custom", "--corpus-dir", str(corpus), "--output-dir", str(out),
                         "--layout", "long", *extra])


@pytest.fixture(scope="module")
def long_run(tmp_path_factory, samples_dir, espeak_wav):
    """One stage-1 run over: chapter.wav + chapter.txt, wrong.flac + another file's text (given in
    transcripts.tsv), notes.wav without transcript."""
    root = tmp_path_factory.mktemp("long")
    corpus = root / "book"
    pieces, text = build_long_recording(samples_dir, espeak_wav, corpus / "chapter.wav")
    shutil.rmtree(corpus / "_pieces")
    (corpus / "chapter.txt").write_text(text + "\n")
    shutil.copy(samples_dir / "librispeech-mini" / "2412-153948-0000.flac", corpus / "wrong.flac")
    (corpus / "transcripts.tsv").write_text(f"wrong.flac\t{OTHER_TEXT}\n")  # the one-TSV form
    lj = [sf.read(str(samples_dir / "ljspeech-mini" / "wavs" / f"{n}.wav"), dtype="float32")[0]
          for n in ("LJ002-0020", "LJ002-0035")]
    sf.write(str(corpus / "notes.wav"), np.concatenate([np.zeros(6615), lj[0], np.zeros(17640), lj[1],
                                                         np.zeros(8820)]).astype(np.float32), 22050)
    out = root / "manifests"
    assert _stage1(corpus, out) == 0
    return dict(root=root, corpus=corpus, out=out, pieces=pieces, text=text)


def test_long_layout_recovers_each_utterance_with_its_words(long_run):
    out, pieces = long_run["out"], long_run["pieces"]
    source = str(long_run["corpus"] / "chapter.wav")
    rows = [r for r in _tsv(out / "long_segments.tsv") if r["source"] == source]
    sups = load_manifest(out / "custom_supervisions_all.jsonl.gz")
    recs = load_manifest(out / "custom_recordings_all.jsonl.gz")
    kept = [s for s in sups if s.recording_id == "chapter"]
    # segments are spans of the untouched long source
    assert recs["chapter"].sources[0].source == source and recs["chapter"].duration == pytest.approx(sf.info(source).duration)
    speech = [p for p in pieces if p.kind == "speech"]
    errors = words = 0
    for p in speech:  # every utterance lies in one segment: cuts fall in pauses, never inside words
        holders = [r for r in rows if _overlap(p, float(r["start"]), float(r["end"])) > 0.3]
        assert len(holders) == 1, (p, rows)
        assert _overlap(p, float(holders[0]["start"]), float(holders[0]["end"])) >= 0.85 * (p.end - p.start)
    for s in kept:
        ref = [w for p in speech if _overlap(p, s.start, s.end) > 0.3 for w in p.words]
        e = utterance_errors(" ".join(ref), s.text)
        errors += e.errors
        words += e.reference_length
        assert e.errors <= 0.1 * e.reference_length, (s.text, ref)
        assert s.custom["confidence"] >= 0.6 and s.custom["origin"] == "aligned"
    accuracy = 1 - errors / words
    print(f"word accuracy of the kept segments: {accuracy:.4f} ({errors} errors in {words} words)")
    assert accuracy >= 0.97, accuracy
    # every spoken utterance was kept (the test's voices are ones pocketsphinx follows)
    assert sum(len(p.words) for p in speech) == words


def test_long_layout_rejects_the_noise_and_drops_nothing_silently(long_run):
    out, pieces, corpus = long_run["out"], long_run["pieces"], long_run["corpus"]
    source = str(corpus / "chapter.wav")
    noise = next(p for p in pieces if p.kind == "noise")
    sups = [s for s in load_manifest(out / "custom_supervisions_all.jsonl.gz") if s.recording_id == "chapter"]
    assert all(s.start + s.duration <= noise.start or s.start >= noise.end for s in sups)
    rejected = [(r.reason, *_span(r.path)) for r in read_rejects(out / "rejects.tsv") if "@" in r.path]
    covered = sum(max(0.0, min(b, noise.end) - max(a, noise.start)) for reason, src, a, b in rejected if src == source)
    assert covered >= 0.8 * (noise.end - noise.start), rejected
    # every transcript word is in a kept segment, a rejected segment's best guess or transcript_left_over
    rows = [r for r in _tsv(out / "long_segments.tsv") if r["source"] == source]
    left = [r.detail.split(": ", 1)[1] for r in read_rejects(out / "rejects.tsv")
            if r.path == source and r.reason == "transcript_left_over"]
    assert norm_words(" ".join([r["text"] for r in rows] + left)) == norm_words(long_run["text"])
    summary = json.loads((out / "long_summary.json").read_text())
    assert summary["hours_in"] * 3600 == pytest.approx(
        sum(sf.info(str(corpus / n)).duration for n in ("chapter.wav", "wrong.flac", "notes.wav")), abs=0.01)
    assert 0 < summary["hours_kept"] < summary["hours_in"]


def test_wrong_transcript_is_rejected_with_low_confidence(long_run):
    out, corpus = long_run["out"], long_run["corpus"]
    sups = load_manifest(out / "custom_supervisions_all.jsonl.gz")
    assert not [s for s in sups if s.recording_id == "wrong"]
    rows = [r for r in _tsv(out / "long_segments.tsv") if r["source"] == str(corpus / "wrong.flac")]
    assert rows and all(r["status"] == "low_confidence" and float(r["confidence"]) < 0.5 for r in rows), rows
    assert norm_words(" ".join(r["text"] for r in rows)) == norm_words(OTHER_TEXT)  # read from transcripts.tsv
    reasons = {r.reason for r in read_rejects(out / "rejects.tsv") if r.path.startswith(str(corpus / "wrong.flac"))}
    assert reasons == {"low_confidence"}


def test_corrected_segments_tsv_redoes_only_the_changed_rows_and_loudness(long_run, tmp_path):
    corpus = long_run["corpus"]
    out = shutil.copytree(long_run["out"], tmp_path / "manifests")  # with its long_cache/
    rows = _tsv(out / "long_segments.tsv")
    notes = [r for r in rows if r["source"] == str(corpus / "notes.wav")]
    assert len(notes) == 1 and notes[0]["text"] != ""  # transcribed, with a confidence
    fixed = tmp_path / "fixed.tsv"
    header = "id\tsource\tstart\tend\tconfidence\tstatus\ttext"
    lines = [header] + ["\t".join(r[k] for k in header.split("\t")[:-1]) + "\t"
                        + ("IN EIGHTEEN THIRTEEN EIGHT THE PRESS YARD" if r is notes[0] else r["text"]) for r in rows]
    fixed.write_text("\n".join(lines) + "\n")
    before = hashlib.sha256((corpus / "chapter.wav").read_bytes()).hexdigest()
    assert _stage1(corpus, out, "--segments-tsv", str(fixed), "--loudness", "-23") == 0
    summary = json.loads((out / "long_summary.json").read_text())
    assert summary["decoded"] == 1  # only the corrected row was aligned again
    sups = {s.id: s for s in load_manifest(out / "custom_supervisions_all.jsonl.gz")}
    note = sups[notes[0]["id"]]
    assert note.text == "IN EIGHTEEN THIRTEEN EIGHT THE PRESS YARD" and note.custom["origin"] == "corrected"
    assert note.custom["confidence"] >= 0.6
    # --loudness: kept segments written at -23 LUFS, the sources untouched
    import pyloudnorm

    recs = load_manifest(out / "custom_recordings_all.jsonl.gz")
    for sid, sup in sups.items():
        path = recs[sup.recording_id].sources[0].source
        assert path.endswith(f"long_segments/{sid}.wav")
        audio, sr = sf.read(path)
        lufs = pyloudnorm.Meter(sr).integrated_loudness(audio)
        if np.abs(audio).max() < 0.99:
            assert lufs == pytest.approx(-23.0, abs=0.5)
        else:  # never clipped: a segment whose peaks would pass full scale is lowered instead
            assert -30.0 < lufs < -23.0
    assert hashlib.sha256((corpus / "chapter.wav").read_bytes()).hexdigest() == before


def test_long_layout_is_detected_and_reported(long_run, tmp_path):
    only = tmp_path / "one"
    only.mkdir()
    shutil.copy(long_run["corpus"] / "chapter.wav", only / "chapter.wav")
    assert detect_layout(only) == "long"  # 40 s > the 20 s --filter-max-duration default
    lines, summary = long_section(long_run["out"], tmp_path / "report")
    text = "\n".join(lines)
    assert "hours in" in text and "hours kept" in text and summary["segments"] >= summary["kept"] > 0
    for png in ("long_segments.png", "long_confidence.png"):
        assert (tmp_path / "report" / png).read_bytes()[:4] == b"\x89PNG"


def test_long_scan_rejects_a_second_file_with_the_same_recording_id(tmp_path):
    """Folder and file names joined by "_" can collide (a_b/c.wav and a/b_c.wav), as can x.wav and x.flac in one
    folder: the second file is rejected as a duplicate id, not merged with the first one's transcript."""
    from valle.data.long.scan import scan_long

    tone = (0.1 * np.sin(np.arange(16000) * 0.05)).astype(np.float32)
    for rel, text in (("a_b/c.wav", "Zebra one."), ("a/b_c.wav", "Apple two."), ("d/x.wav", "Three."),
                      ("d/x.flac", "Four.")):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), tone, 16000)
        path.with_suffix(".txt").write_text(text)
    sources, rejects = scan_long(tmp_path, None)
    ids = [s.rec_id for s in sources]
    assert sorted(ids) == ["a_b_c", "d_x"] and len(set(ids)) == len(ids)
    assert sorted(r.reason for r in rejects) == ["duplicate_id", "duplicate_id"]
    kept = {s.rec_id: s.audio for s in sources}
    for r in rejects:
        other = kept["a_b_c" if "c.wav" in r.path else "d_x"]
        assert str(other) in r.detail and r.path != str(other)  # names the file that kept the id
