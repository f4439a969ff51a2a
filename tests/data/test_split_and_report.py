"""Stage 4: shard merge, duration filter, splits (LibriTTS parts, seeded custom draw), report."""
from __future__ import annotations

import gzip
import json
import shutil

import pytest
from corpus_builders import write
from lhotse import CutSet, load_manifest

from valle.bin.split_and_report import main as split_main
from valle.data.corpora import prepare_custom
from valle.data.splits import parse_size, split_custom


@pytest.fixture
def cut_corpus(tmp_path, espeak_wav):
    """16 real cuts from 4 speakers (pairs layout), with per-character text tokens as stage 2 would add."""
    src = espeak_wav("A short sentence for splitting.", tmp_path / "src.wav")
    corpus = tmp_path / "corpus"
    for s in range(4):
        for u in range(4):
            (corpus / f"spk{s}").mkdir(parents=True, exist_ok=True)
            shutil.copy(src, corpus / f"spk{s}" / f"u{u}.wav")
            write(corpus / f"spk{s}" / f"u{u}.txt", f"sentence {s} {u}")
    out = prepare_custom(corpus, tmp_path / "data" / "manifests")["all"]
    cuts = CutSet.from_manifests(out["recordings"], out["supervisions"])
    for c in cuts:
        c.supervisions[0].custom["text_tokens"] = list(c.supervisions[0].text)
    tok = tmp_path / "data" / "tokenized"
    tok.mkdir(parents=True)
    return cuts, tok


def run_split(tok, *extra):
    return split_main(["--tokenized-dir", str(tok), "--manifests-dir", str(tok.parent / "manifests"), *extra])


def ids(path):
    return sorted(c.id for c in load_manifest(path))


def test_custom_split_counts_fractions_seed(cut_corpus):
    cuts, tok = cut_corpus
    cuts.to_file(tok / "custom_cuts_all.jsonl.gz")
    assert run_split(tok, "--dev-size", "3", "--test-size", "0.25", "--seed", "7") == 0
    dev, test, train = (ids(tok / f"cuts_{s}.jsonl.gz") for s in ("dev", "test", "train"))
    assert (len(dev), len(test), len(train)) == (3, 4, 9)
    assert sorted(dev + test + train) == sorted(c.id for c in cuts)
    # the split files hold the stage-3 cuts unchanged
    assert load_manifest(tok / "cuts_dev.jsonl.gz")[0] == cuts[dev[0]]
    again = split_custom_ids(cuts, 3, 0.25, 7)
    assert again["dev"] == dev and again["test"] == test
    assert split_custom_ids(cuts, 3, 0.25, 8)["dev"] != dev


def split_custom_ids(cuts, dev, test, seed, by_speaker=False):
    from valle.data.splits import CutInfo

    infos = [CutInfo(c.id, "all", c.duration, c.supervisions[0].speaker) for c in cuts]
    return split_custom(infos, dev, test, seed, by_speaker)


def test_split_by_speaker_keeps_speakers_apart(cut_corpus):
    cuts, _ = cut_corpus
    got = split_custom_ids(cuts, "0.2", "1", 3, by_speaker=True)
    spk = {s: {cid.split("_")[0] for cid in got[s]} for s in got}
    assert len(spk["dev"]) == 1 and len(spk["test"]) == 1 and len(spk["train"]) == 2
    assert not (spk["dev"] & spk["train"]) and not (spk["test"] & spk["train"]) and not (spk["dev"] & spk["test"])


def test_train_keeps_at_least_one_utterance(cut_corpus):
    cuts, _ = cut_corpus
    got = split_custom_ids(cuts.subset(first=2), "0.5", "0.5", 0)
    assert len(got["train"]) == 1 and len(got["dev"]) == 1 and got["test"] == []


@pytest.mark.parametrize("bad", ["1.5", "-1", "ten", "0.05x"])
def test_bad_sizes(bad, cut_corpus):
    with pytest.raises(ValueError):
        parse_size(bad)
    _, tok = cut_corpus
    with pytest.raises(SystemExit, match=f"^error: .*{bad}"):
        run_split(tok, "--dev-size", bad)


def test_duration_filter_lists_removed_cuts_and_report(cut_corpus):
    cuts, tok = cut_corpus
    short = cuts[0].truncate(duration=0.3)
    long = cuts[1].pad(duration=25.0)
    kept = cuts.subset(cut_ids=[c.id for c in cuts][2:])
    (kept + CutSet.from_cuts([short, long])).to_file(tok / "custom_cuts_all.jsonl.gz")
    write(tok / "unique_text_tokens.k2symbols", "<pad> 0\n<unk> 1\na 2\nb 3\n")
    write(tok / "text_rejects.tsv", "path\treason\tdetail\nx\tunknown_symbols\tq\n")
    assert run_split(tok, "--dev-size", "2", "--test-size", "2") == 0
    all_ids = set().union(*(ids(tok / f"cuts_{s}.jsonl.gz") for s in ("train", "dev", "test")))
    assert all_ids == {c.id for c in kept}
    rep = tok / "report"
    filtered = (rep / "filtered.tsv").read_text().splitlines()
    assert filtered[0] == "cut_id\tpart\tduration\treason"
    reasons = {line.split("\t")[0]: line.split("\t")[3] for line in filtered[1:]}
    assert reasons[short.id].startswith("too_short") and reasons[long.id].startswith("too_long")
    text = (rep / "report.txt").read_text()
    assert short.id in text and long.id in text
    assert "4 symbols" in text and "unknown_symbols" in text and "spk3" in text
    summary = json.loads((rep / "report.json").read_text())
    assert summary["splits"]["train"]["cuts"] == 10 and summary["splits"]["dev"]["cuts"] == 2
    assert summary["rejects"]["stage2"] == {"unknown_symbols": 1}
    assert summary["token_counts"]["s"] > 0
    assert sum(summary["speakers"]["spk0"].values()) == pytest.approx(2 * cuts[0].duration / 60, rel=1e-3)
    assert (rep / "durations.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the limits are valle.bin.train's --filter-*-duration names; wider ones keep both cuts
    assert run_split(tok, "--dev-size", "2", "--test-size", "2", "--filter-min-duration", "0.1",
                     "--filter-max-duration", "30") == 0
    assert len(set().union(*(ids(tok / f"cuts_{s}.jsonl.gz") for s in ("train", "dev", "test")))) == len(cuts)
    assert (rep / "filtered.tsv").read_text().splitlines()[1:] == []


def test_libritts_parts_and_shard_merge(cut_corpus, caplog):
    cuts, tok = cut_corpus
    cl = list(cuts)
    CutSet.from_cuts(cl[:8]).to_file(tok / "libritts_cuts_train-clean-100.jsonl.gz")
    # dev-clean comes as two rank shards from a torchrun stage 3
    CutSet.from_cuts(cl[8:11]).to_file(tok / "libritts_cuts_dev-clean.0-of-2.jsonl.gz")
    CutSet.from_cuts(cl[11:]).to_file(tok / "libritts_cuts_dev-clean.1-of-2.jsonl.gz")
    assert run_split(tok, "--corpus", "libritts", "--prefix", "libritts") == 0
    assert ids(tok / "cuts_train.jsonl.gz") == sorted(c.id for c in cl[:8])
    assert ids(tok / "cuts_dev.jsonl.gz") == sorted(c.id for c in cl[8:])
    assert ids(tok / "cuts_test.jsonl.gz") == []
    assert ids(tok / "libritts_cuts_dev-clean.jsonl.gz") == sorted(c.id for c in cl[8:])
    assert "test-clean, which was not prepared" in caplog.text
    # changed split options redo the work: dev-clean becomes the test split
    assert run_split(tok, "--corpus", "libritts", "--prefix", "libritts", "--dev-parts", "", "--test-parts", "dev-clean") == 0
    assert ids(tok / "cuts_test.jsonl.gz") == sorted(c.id for c in cl[8:]) and ids(tok / "cuts_dev.jsonl.gz") == []


def test_missing_shard_is_named(cut_corpus):
    cuts, tok = cut_corpus
    cuts.to_file(tok / "custom_cuts_all.0-of-3.jsonl.gz")
    cuts.to_file(tok / "custom_cuts_all.2-of-3.jsonl.gz")
    with pytest.raises(SystemExit, match=r"^error: .*custom_cuts_all\.1-of-3\.jsonl\.gz"):
        run_split(tok)


def test_rerun_skips_and_outputs_are_byte_identical(cut_corpus, caplog):
    cuts, tok = cut_corpus
    cuts.to_file(tok / "custom_cuts_all.jsonl.gz")
    assert run_split(tok) == 0
    first = {s: (tok / f"cuts_{s}.jsonl.gz").read_bytes() for s in ("train", "dev", "test")}
    caplog.clear()
    assert run_split(tok) == 0
    assert "up to date" in caplog.text
    (tok / ".stage4_custom.stamp.json").unlink()
    for s in first:
        (tok / f"cuts_{s}.jsonl.gz").unlink()
    assert run_split(tok) == 0
    assert {s: (tok / f"cuts_{s}.jsonl.gz").read_bytes() for s in first} == first
    with gzip.open(tok / "cuts_train.jsonl.gz", "rt") as f:
        assert json.loads(f.readline())["supervisions"][0]["custom"]["text_tokens"]


@pytest.mark.parametrize("old,new", [("--max-duration", "--filter-max-duration"),
                                     ("--min-duration", "--filter-min-duration")])
def test_old_duration_limit_names_are_refused(tmp_path, capsys, old, new):
    with pytest.raises(SystemExit) as e:
        run_split(tmp_path / "tokenized", old, "30")
    err = capsys.readouterr().err.splitlines()
    assert e.value.code == 2 and len(err) == 1 and f"error: {old} was renamed: use {new} (" in err[0]
    assert not (tmp_path / "tokenized").exists()
