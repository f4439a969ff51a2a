"""Custom corpus layouts (ljspeech, libritts, pairs), auto detection, --speaker, --trim-silence,
and the LibriTTS reader (checked against lhotse's own recipe)."""
from __future__ import annotations

from pathlib import Path

import pytest
from corpus_builders import write
from lhotse import load_manifest

from valle.bin.prepare_manifests import main as prepare_main
from valle.data.corpora import detect_layout, prepare_custom, prepare_libritts_parts
from valle.data.corpora.rejects import read_rejects


def test_ljspeech_layout(ljspeech_copy, tmp_path):
    assert detect_layout(ljspeech_copy) == "ljspeech"
    out = prepare_custom(ljspeech_copy, tmp_path / "m")["all"]
    sups = {s.id: s for s in out["supervisions"]}
    assert sorted(sups) == ["LJ002-0020", "LJ002-0035"]
    assert sups["LJ002-0020"].text == "IN EIGHTEEN THIRTEEN"
    assert sups["LJ002-0020"].speaker == "ljspeech-mini"
    rec = out["recordings"]["LJ002-0035"]
    assert rec.sampling_rate == 22050 and rec.num_channels == 1
    assert rec.load_audio().shape == (1, rec.num_samples)
    # files on disk equal the returned manifests
    m = tmp_path / "m"
    assert load_manifest(m / "custom_supervisions_all.jsonl.gz") == out["supervisions"]
    assert read_rejects(m / "rejects.tsv") == []


def test_ljspeech_uses_normalized_column_and_reports_rows_without_audio(ljspeech_copy, tmp_path):
    meta = ljspeech_copy / "metadata.csv"
    meta.write_text("LJ002-0020|In 1813|In eighteen thirteen\nLJ002-0035|Eight the press yard|\nLJ009-9999|ghost|ghost\n")
    out = prepare_custom(ljspeech_copy, tmp_path / "m", speaker="linda")["all"]
    sups = {s.id: s for s in out["supervisions"]}
    assert sups["LJ002-0020"].text == "In eighteen thirteen"
    assert sups["LJ002-0020"].custom["orig_text"] == "In 1813"
    assert sups["LJ002-0035"].text == "Eight the press yard"  # falls back to the text column
    assert {s.speaker for s in sups.values()} == {"linda"}
    rejects = read_rejects(tmp_path / "m" / "rejects.tsv")
    assert [(r.reason, r.path.endswith("metadata.csv:3")) for r in rejects] == [("missing_audio", True)]


def test_libritts_layout(tmp_path, make_speech):
    d = tmp_path / "corpus"
    make_speech("Hello from speaker one.", d / "spk1" / "ch1" / "u1.wav")
    write(d / "spk1" / "ch1" / "u1.normalized.txt", "Hello from speaker one.")
    write(d / "spk1" / "ch1" / "u1.original.txt", "Hello from speaker #1.")
    make_speech("Only an original text here.", d / "spk2" / "ch9" / "u2.flac", rate=16000)
    write(d / "spk2" / "ch9" / "u2.original.txt", "Only an original text here.")
    assert detect_layout(d) == "libritts"
    out = prepare_custom(d, tmp_path / "m")["all"]
    sups = {s.id: s for s in out["supervisions"]}
    assert sups["u1"].speaker == "spk1" and sups["u1"].text == "Hello from speaker one."
    assert sups["u1"].custom["orig_text"] == "Hello from speaker #1."
    assert sups["u2"].speaker == "spk2" and sups["u2"].text == "Only an original text here."
    assert out["recordings"]["u2"].sampling_rate == 16000


def test_pairs_layout_speaker_from_folder_txt_and_lab(tmp_path, make_speech):
    d = tmp_path / "corpus"
    make_speech("First pair.", d / "alice" / "001.wav")
    write(d / "alice" / "001.txt", "First pair.")
    make_speech("Second pair.", d / "bob" / "001.ogg")
    write(d / "bob" / "001.lab", "Second pair.")
    make_speech("At the top.", d / "top.opus", rate=48000)
    write(d / "top.txt", "At the top.")
    assert detect_layout(d) == "pairs"
    out = prepare_custom(d, tmp_path / "m", layout="pairs")["all"]
    got = {s.id: (s.speaker, s.text) for s in out["supervisions"]}
    assert got == {"alice_001": ("alice", "First pair."), "bob_001": ("bob", "Second pair."),
                   "top": ("corpus", "At the top.")}
    out = prepare_custom(d, tmp_path / "m2", speaker="narrator")["all"]
    assert {s.speaker for s in out["supervisions"]} == {"narrator"}


def test_undetectable_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="--layout"):
        detect_layout(tmp_path / "empty")
    with pytest.raises(SystemExit, match="^error: stage 0: .*--layout"):
        prepare_main(["--stage", "0", "--corpus-dir", str(tmp_path / "empty")])
    with pytest.raises(SystemExit, match="^error: stage 1: --corpus-dir .*nope is not a directory"):
        prepare_main(["--stage", "1", "--corpus-dir", str(tmp_path / "nope"), "--output-dir", str(tmp_path / "m")])


def test_stereo_44k_mp3_keeps_source_rate_and_channels(mixed_corpus, tmp_path):
    out = prepare_custom(mixed_corpus, tmp_path / "m")["all"]
    rec = out["recordings"]["anna_stereo"]
    assert (rec.sampling_rate, rec.num_channels) == (44100, 2)
    assert rec.sources[0].source == str((mixed_corpus / "anna" / "stereo.mp3").resolve())
    audio = rec.load_audio()
    assert audio.shape == (2, rec.num_samples)


def test_trim_silence_stores_the_speech_span(tmp_path, make_speech, espeak_wav):
    d = tmp_path / "corpus"
    plain = espeak_wav("Silence around me.", tmp_path / "plain.wav")
    make_speech("Silence around me.", d / "spk" / "padded.wav", pad=("1.0", "0.7"))
    write(d / "spk" / "padded.txt", "Silence around me.")
    untrimmed = prepare_custom(d, tmp_path / "a")["all"]["supervisions"]["spk_padded"]
    trimmed = prepare_custom(d, tmp_path / "b", trim_silence=True)["all"]["supervisions"]["spk_padded"]
    import soundfile as sf

    speech = sf.info(str(plain)).duration
    assert untrimmed.start == 0 and untrimmed.duration == pytest.approx(speech + 1.7, abs=0.01)
    # espeak's own leading/trailing quiet is trimmed as well, so the span is at most the speech
    assert 0.9 <= trimmed.start <= 1.2  # 1.0 s of padding minus the 0.05 s context kept
    assert speech - 0.4 <= trimmed.duration <= speech + 0.15
    assert trimmed.end <= untrimmed.end - 0.6


def test_libritts_reader_matches_lhotse_recipe(libritts_tree, tmp_path):
    """On a clean tree, the manifests carry what lhotse's LibriTTS recipe puts in them."""
    from lhotse.recipes.libritts import prepare_libritts

    write(libritts_tree / "SPEAKERS.txt", ";ID |SEX| SUBSET |MINUTES| NAME\n100 | F | dev-clean | 1.0 | A\n"
                                          "101 | M | train-clean-100 | 1.0 | B\n")
    ours = prepare_libritts_parts(libritts_tree, tmp_path / "m", parts="dev-clean train-clean-100")
    theirs = prepare_libritts(libritts_tree, dataset_parts=["dev-clean", "train-clean-100"], output_dir=None)
    for part in ("dev-clean", "train-clean-100"):
        def facts(s):
            return (s.id, s.recording_id, s.start, round(s.duration, 4), s.channel, s.text, s.language,
                    s.speaker, s.gender, s.custom["orig_text"], s.custom["snr"])
        assert [facts(s) for s in ours[part]["supervisions"]] == sorted(facts(s) for s in theirs[part]["supervisions"])
        for rec in theirs[part]["recordings"]:
            mine = ours[part]["recordings"][rec.id]
            assert (mine.sampling_rate, mine.num_samples, mine.num_channels) == (rec.sampling_rate, rec.num_samples, 1)
            assert mine.sources[0].source == str(Path(rec.sources[0].source).resolve())
    assert ours["dev-clean"]["supervisions"][0].gender == "F" and ours["dev-clean"]["supervisions"][0].custom["snr"] == 21.5


def test_libritts_lines_without_audio_and_bad_rows_are_rejects(libritts_tree, tmp_path):
    """lhotse's recipe only logs a transcript line whose wav is missing; here it is a reject, and so is
    a line that is not utterance/original/normalized."""
    trans = libritts_tree / "dev-clean" / "100" / "2000" / "100_2000.trans.tsv"
    with open(trans, "a") as f:
        f.write("100_2000_000077_000000\tGone.\tGone.\nnot a row\n")
    prepare_libritts_parts(libritts_tree, tmp_path / "m", parts="dev-clean")
    got = {(r.path.split("/")[-1], r.reason) for r in read_rejects(tmp_path / "m" / "rejects.tsv")}
    assert got == {("100_2000_000077_000000.wav", "missing_audio"), ("100_2000.trans.tsv", "bad_metadata_row")}
    assert len(load_manifest(tmp_path / "m" / "libritts_supervisions_dev-clean.jsonl.gz")) == 2


def test_libritts_parts(libritts_tree, tmp_path, make_speech):
    extra = libritts_tree / "dev-clean" / "100" / "2000" / "100_2000_000099_000000.wav"
    make_speech("Not in the transcript file.", extra, rate=24000)
    out = prepare_libritts_parts(libritts_tree, tmp_path / "m", parts="dev-clean train-clean-100")
    assert sorted(out) == ["dev-clean", "train-clean-100"]
    sups = load_manifest(tmp_path / "m" / "libritts_supervisions_dev-clean.jsonl.gz")
    assert [s.id for s in sups] == ["100_2000_000000_000000", "100_2000_000001_000000"]
    assert sups[0].text == "Mister Smith paid five dollars." and sups[0].custom["orig_text"] == "Mr. Smith paid $5."
    assert sups[0].speaker == "100"
    rejects = read_rejects(tmp_path / "m" / "rejects.tsv")
    assert [(r.path, r.reason) for r in rejects] == [(str(extra), "missing_transcript")]
    with pytest.raises(ValueError, match="test-clean"):
        prepare_libritts_parts(libritts_tree, tmp_path / "m2", parts="test-clean")
    with pytest.raises(ValueError, match="unknown LibriTTS part"):
        prepare_libritts_parts(libritts_tree, tmp_path / "m2", parts="train-clean-5")


def test_libritts_download_fails_fast_offline(tmp_path):
    import time

    t0 = time.time()
    with pytest.raises(SystemExit) as e:
        prepare_main(["--stage", "0", "--corpus", "libritts", "--dl-dir", str(tmp_path), "--parts", "dev-clean"])
    err = str(e.value.code)
    assert err.startswith("error: stage 0: ")
    assert time.time() - t0 < 15
    assert "cannot reach" in err and "--stage 1" in err and "openslr.org/60" in err


def test_libritts_stage0_with_corpus_on_disk(libritts_tree, capsys):
    base = ["--stage", "0", "--corpus", "libritts", "--parts", "dev-clean train-clean-100"]
    assert prepare_main(base + ["--dl-dir", str(libritts_tree.parent)]) == 0
    assert "already present" in capsys.readouterr().out
    assert prepare_main(base + ["--corpus-dir", str(libritts_tree)]) == 0
    with pytest.raises(SystemExit, match=r"^error: stage 0: .*lacks LibriTTS part\(s\) test-clean"):
        prepare_main(["--stage", "0", "--corpus", "libritts", "--parts", "test-clean", "--corpus-dir", str(libritts_tree)])
