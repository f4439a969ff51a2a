"""valle.bin.evaluate on real speech: bad entries, the summary's arithmetic, --compare, test lists."""
from __future__ import annotations

import json
import shutil

import pytest
import soundfile as sf

from valle.bin.evaluate import main
from valle.eval.testlist import COLUMNS, build_test_list, read_test_list

SENTENCES = ["place red cup in seven now", "set blue box with two again", "lay green hat by nine soon"]


def _row(*cols):
    assert len(cols) == len(COLUMNS)
    return "\t".join(cols) + "\n"


@pytest.fixture(scope="module")
def scored_folder(tmp_path_factory, eval_data):
    """A list whose system output has one entry of every bad kind beside good ones."""
    from tests.conftest import make_espeak_wav

    root = tmp_path_factory.mktemp("eval_cli")
    for name in ("LJ002-0020.wav", "LJ002-0035.wav"):
        shutil.copy(eval_data / name, root / name)
    sysdir = root / "espeak"
    refs = root / "refs"
    lines = ["\t".join(COLUMNS) + "\n"]
    for i, s in enumerate(SENTENCES):
        make_espeak_wav(s, refs / f"good{i}.wav", "en-us+m3", 140)
        make_espeak_wav(s, sysdir / f"good{i}.wav", "en-us+f4", 140)
        lines.append(_row(f"good{i}", "cross-sentence", "en-us", s, "LJ002-0035.wav", "eight the press yard",
                          f"refs/good{i}.wav"))
    make_espeak_wav("hello there", sysdir / "notext.wav", "en-us", 140)
    lines.append(_row("notext", "cross-sentence", "en-us", "", "LJ002-0035.wav", "", "refs/good0.wav"))
    make_espeak_wav("bonjour tout le monde", sysdir / "french.wav", "fr", 140)
    lines.append(_row("french", "cross-sentence", "fr", "bonjour tout le monde", "LJ002-0035.wav", "", "refs/good1.wav"))
    lines.append(_row("missing", "cross-sentence", "en-us", "hello", "LJ002-0035.wav", "", "refs/good0.wav"))
    sf.write(str(sysdir / "empty.wav"), [], 16000)
    lines.append(_row("empty", "cross-sentence", "en-us", "hello", "LJ002-0035.wav", "", "refs/good0.wav"))
    sf.write(str(sysdir / "silent.wav"), [0.0] * 16000, 16000)
    lines.append(_row("silent", "cross-sentence", "en-us", "hello there", "LJ002-0035.wav", "", "refs/good0.wav"))
    (sysdir / "garbage.wav").write_bytes(b"not a wav file at all")
    lines.append(_row("garbage", "cross-sentence", "en-us", "hello", "LJ002-0035.wav", "", "refs/good0.wav"))
    lines.append(_row("noprompt", "cross-sentence", "en-us", SENTENCES[0], "nowhere.wav", "", "refs/good0.wav"))
    shutil.copy(sysdir / "good0.wav", sysdir / "noprompt.wav")
    (root / "list.tsv").write_text("".join(lines), encoding="utf-8")
    main(["--list", str(root / "list.tsv"), "--wav-dir", str(sysdir), "--name", "bad", "--exp-dir", str(root / "exp"),
          "--reference-rows", "ground_truth"])
    return root, root / "exp" / "eval" / "bad"


def _records(out_dir):
    return [json.loads(line) for line in (out_dir / "utterances.jsonl").read_text().splitlines()]


def test_bad_entries_are_listed_with_reasons_and_do_not_cost_the_others(scored_folder):
    _, out = scored_folder
    recs = {r["id"]: r for r in _records(out) if r["system"] == "bad"}
    assert len(recs) == 10
    for i in range(3):  # the good entries keep every score
        r = recs[f"good{i}"]
        assert r["status"] == "ok" and r["wer"] is not None and r["sim_prompt"] is not None
        assert r["sim_reference"] is not None and 1 <= r["dnsmos_ovrl"] <= 5 and r["flags"] == []
    assert recs["missing"]["status"] == "failed" and "missing.wav does not exist" in recs["missing"]["errors"][0]
    assert recs["empty"]["status"] == "failed" and "has no samples" in recs["empty"]["errors"][0]
    assert recs["garbage"]["status"] == "failed" and "cannot read" in recs["garbage"]["errors"][0]
    assert "no transcript" in recs["notext"]["errors"][0] and recs["notext"]["dnsmos_ovrl"] is not None
    assert "does not recognise language 'fr'" in recs["french"]["errors"][0] and "wer" not in recs["french"]
    assert recs["french"]["sim_prompt"] is not None
    silent = recs["silent"]
    # 1 s of silence for a 2.6 s reference: silent and truncated
    assert silent["flags"] == ["silent", "truncated"] and silent["wer"] == 1.0 and "silent" in silent["errors"][0]
    noprompt = recs["noprompt"]
    assert "sim_prompt" not in noprompt and "nowhere.wav does not exist" in noprompt["errors"][0]
    assert noprompt["sim_reference"] is not None
    for r in recs.values():
        assert all("\n" not in e for e in r["errors"])


def test_summary_corpus_wer_is_summed_edits(scored_folder):
    _, out = scored_folder
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backends"]["asr"].startswith("pocketsphinx") and summary["backends"]["speaker"].startswith("resemblyzer")
    for system, s in summary["systems"].items():
        recs = [r for r in _records(out) if r["system"] == system and r.get("wer") is not None]
        edits = sum(r["edits"]["sub"] + r["edits"]["del"] + r["edits"]["ins"] for r in recs)
        words = sum(r["edits"]["ref"] for r in recs)
        assert s["wer"] == pytest.approx(edits / words, abs=1e-4)
        assert s["wer_utterances"] == len(recs)
    bad = summary["systems"]["bad"]
    assert bad["failed"] == 3 and bad["flags"] == {"silent": 1, "truncated": 1}
    # the ground-truth row scores each item's reference recording against itself (similarity 1): it fails if the
    # row read another item's recording, or the prompt, in its place
    assert summary["systems"]["ground_truth"]["sim_reference"] == pytest.approx(1.0, abs=1e-3)
    md = (out / "summary.md").read_text()
    assert "| bad | 10 | 3 |" in md and "missing (failed)" in md
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert any(p.name.startswith("events.out.tfevents") for p in (out / "tensorboard").iterdir())


def test_compare_prints_a_delta_table(scored_folder, capsys):
    root, _ = scored_folder
    other = root / "other"
    other.mkdir(exist_ok=True)
    for i in range(3):
        shutil.copy(root / "refs" / f"good{i}.wav", other / f"good{i}.wav")
    main(["--list", str(root / "list.tsv"), "--compare", str(root / "espeak"), str(other), "--name", "cmp",
          "--exp-dir", str(root / "exp"), "--reference-rows", "none", "--dnsmos", "false", "--jobs", "2"])
    table = capsys.readouterr().out
    assert "| espeak |" in table and "| other |" in table and "Δ other − espeak" in table
    summary = json.loads((root / "exp" / "eval" / "cmp" / "summary.json").read_text())["systems"]
    delta_row = next(line for line in table.splitlines() if line.startswith("| Δ other"))
    wer_delta = float(delta_row.split("|")[4])
    assert wer_delta == pytest.approx(100 * (summary["other"]["wer"] - summary["espeak"]["wer"]), abs=0.06)
    # the other system's outputs are the references themselves: similarity 1 when each output is compared with
    # its own item's reference (a shifted pairing of the three items would not give it)
    assert summary["other"]["sim_reference"] == pytest.approx(1.0, abs=1e-3)
    # two worker processes (--jobs 2) return the records in list order, each system's own
    recs = [json.loads(line) for line in (root / "exp" / "eval" / "cmp" / "utterances.jsonl").read_text().splitlines()]
    ids = [i.id for i in read_test_list(root / "list.tsv")]
    assert [(r["system"], r["id"]) for r in recs] == [(s, i) for s in ("espeak", "other") for i in ids]
    assert all(r["wav"].endswith(f"/{r['system']}/{r['id']}.wav") for r in recs if "wav" in r)


def test_unavailable_backend_and_bad_list_are_one_line_errors(scored_folder, tmp_path, monkeypatch):
    root, _ = scored_folder
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(SystemExit) as err:
        main(["--list", str(root / "list.tsv"), "--wav-dir", str(root / "espeak"), "--asr", "hubert-large",
              "--exp-dir", str(tmp_path)])
    msg = str(err.value)
    assert msg.startswith("error: --asr hubert-large is unavailable") and "\n" not in msg
    assert str(tmp_path / "torch") in msg and "--asr pocketsphinx" in msg
    bad = tmp_path / "bad.tsv"
    bad.write_text("\t".join(COLUMNS) + "\nx\tcontinuation\ten\tsome text\n")
    with pytest.raises(SystemExit, match=r"bad.tsv line 2 has 4 tab-separated columns, expected 7"):
        main(["--list", str(bad), "--wav-dir", str(root / "espeak"), "--exp-dir", str(tmp_path)])


def test_test_lists_from_cuts_fixed_seed_both_modes(tmp_path):
    from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet

    from tests.conftest import make_espeak_wav

    texts = ["the kettle began to sing just as the rain reached the window",
             "please put the green folder on the second shelf by the door",
             "seven geese flew low over the frozen lake at dawn today"]
    cuts = []
    for voice in ("en-us+m3", "en-us+f4"):
        for i, text in enumerate(texts):
            rec = Recording.from_file(make_espeak_wav(text, tmp_path / "wav" / f"{voice}_{i}.wav", voice, 130),
                                      recording_id=f"{voice}_{i}")
            sup = SupervisionSegment(rec.id, rec.id, 0, rec.duration, text=text, speaker=voice, language="en-us")
            cuts.append((rec, sup))
    cuts = CutSet.from_manifests(RecordingSet.from_recordings(r for r, _ in cuts),
                                 SupervisionSet.from_segments(s for _, s in cuts)).trim_to_supervisions()
    a = build_test_list(cuts, tmp_path / "a", "cross-sentence", num=4, seed=1, min_seconds=1, max_seconds=10)
    b = build_test_list(cuts, tmp_path / "b", "cross-sentence", num=4, seed=1, min_seconds=1, max_seconds=10)
    assert [(x.id, x.prompt_text) for x in a] == [(x.id, x.prompt_text) for x in b] and len(a) == 4
    for item in a:  # the prompt is another utterance of the same speaker
        assert item.prompt_text != item.text and item.id.split("_")[0] in item.prompt_audio
    cont = build_test_list(cuts, tmp_path / "c", "continuation", num=6, seed=0, min_seconds=1, max_seconds=10)
    for item in cont:
        full = next(c.supervisions[0].text for c in cuts if c.id == item.id)
        assert item.spoken_text == full and item.prompt_text and item.text
        assert sf.info(item.prompt_audio).duration == pytest.approx(3.0, abs=0.01)
    # the CLI writes the list once, keeps it for the same parameters, and reads back what it wrote
    manifest = tmp_path / "cuts.jsonl.gz"
    cuts.to_file(manifest)
    lst = tmp_path / "lists" / "test.tsv"
    args = ["--cuts", str(manifest), "--list", str(lst), "--mode", "continuation", "--num", "2", "--min-seconds", "1",
            "--reference-rows", "none", "--exp-dir", str(tmp_path / "exp"), "--speaker", "none", "--dnsmos", "false"]
    with pytest.raises(SystemExit, match="nothing to score"):
        main(args)
    items = read_test_list(lst)
    assert len(items) == 2 and all(i.mode == "continuation" for i in items)
    lst.write_text(lst.read_text().replace(items[0].text, "an edited sentence"))  # the user edits it
    with pytest.raises(SystemExit, match="nothing to score"):
        main(args)
    assert read_test_list(lst)[0].text == "an edited sentence"
