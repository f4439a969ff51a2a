"""Stage 2 CLI (python -m valle.bin.tokenize_text) on small real lhotse manifests."""
import gzip
import json

import pytest
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

from valle.bin.tokenize_text import get_parser, main
from valle.text.symbol_table import SymbolTable
from valle.text.vallex.frontend import vallex_symbol_table

TEXTS = {
    "a": "Dr. Smith paid $5 in 1999.",
    "b": "Hello world, this is a test.",
    "c": "   ",
    "d": "…",
    "e": "The quick brown fox jumps over the lazy dog!",
    "f": "[EN]An unmatched tag[ZH]",
}


@pytest.fixture()
def corpus(tmp_path, espeak_wav):
    """train (5 supervisions, one empty and one punctuation-only) and dev (2), with recordings."""
    manifests = tmp_path / "data" / "manifests"
    manifests.mkdir(parents=True)
    wav = espeak_wav("hi", tmp_path / "audio" / "hi.wav")
    rec = Recording.from_file(wav)
    recs = [Recording(id=k, sources=rec.sources, sampling_rate=rec.sampling_rate, num_samples=rec.num_samples,
                      duration=rec.duration) for k in TEXTS]
    sups = [SupervisionSegment(id=k, recording_id=k, start=0, duration=rec.duration, text=t, language="English",
                               speaker="spk", custom={"orig": k}) for k, t in TEXTS.items()]
    RecordingSet.from_recordings(recs).to_file(manifests / "toy_recordings_train.jsonl.gz")
    SupervisionSet.from_segments(sups).to_file(manifests / "toy_supervisions_train.jsonl.gz")
    SupervisionSet.from_segments(sups[:2]).to_file(manifests / "toy_supervisions_dev.jsonl.gz")
    return tmp_path / "data"


def _run(data, *extra):
    return main(["--manifests-dir", str(data / "manifests"), "--output-dir", str(data / "tokenized"),
                 "--prefix", "toy", *extra])


def _read(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_help_shows_defaults():
    text = get_parser().format_help()
    assert "(default: espeak)" in text and "(default: en-us)" in text and "(default: data/manifests)" in text


def test_stage2_writes_outputs_skips_and_redoes(corpus, caplog):
    out = corpus / "tokenized"
    caplog.set_level("INFO", logger="valle")
    assert _run(corpus, "--nj", "2") == 0
    train = _read(out / "toy_supervisions_train.jsonl.gz")
    dev = _read(out / "toy_supervisions_dev.jsonl.gz")
    assert [s["id"] for s in train] == ["a", "b", "e"] and [s["id"] for s in dev] == ["a", "b"]
    assert all(s["language"] == "en-us" and s["custom"]["orig"] == s["id"] for s in train)
    assert "text_token_langs" not in train[0]["custom"]
    tokens_a = train[0]["custom"]["text_tokens"]
    assert "".join(tokens_a).startswith("dˈɑːktɚ")
    table = SymbolTable.from_file(out / "unique_text_tokens.k2symbols")
    assert table.symbols[:2] == ["<pad>", "<unk>"] and table.symbols[2:] == sorted(table.symbols[2:])
    assert set(table.symbols[2:]) == {t for s in train + dev for t in s["custom"]["text_tokens"]}
    rejects = (out / "text_rejects.tsv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == "path\treason\tdetail"
    assert [r.split("\t")[1] for r in rejects[1:]] == ["empty_transcript", "no_text_tokens", "tokenizer_error"]
    assert "no matching closing tag" in rejects[3]
    assert rejects[1].split("\t")[0].endswith("hi.wav") and "toy/train supervision c" in rejects[1]
    report = json.loads((out / "text_tokens_report.json").read_text(encoding="utf-8"))
    st = report["tokenizers"]["espeak"]
    assert report["parts"]["train"] == {"supervisions": 6, "tokenized": 3} and report["rejected"] == 3
    assert st["utterances"] == 8 and st["tokens"] == sum(len(s["custom"]["text_tokens"]) for s in train + dev)
    assert st["inventory"]["_"] > 10 and [x["id"] for x in st["no_tokens"]] == ["c", "d", "f"]

    # --nj 1 gives the same supervisions as --nj 2
    assert main(["--manifests-dir", str(corpus / "manifests"), "--output-dir", str(corpus / "nj1"),
                 "--prefix", "toy", "--nj", "1"]) == 0
    assert _read(corpus / "nj1" / "toy_supervisions_train.jsonl.gz") == train

    # same parameters: nothing is rewritten, and the log says so
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    caplog.clear()
    assert _run(corpus) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    assert "up to date" in caplog.text

    # changed parameters: redone (vallex ids, per-token languages, fixed table, nj 1 == nj 2 results)
    caplog.clear()
    assert _run(corpus, "--text-tokenizer", "vallex", "--language", "auto") == 0
    assert "changed" in caplog.text
    train_v = _read(out / "toy_supervisions_train.jsonl.gz")
    assert [s["id"] for s in train_v] == ["a", "b", "e"]
    assert train_v[0]["custom"]["text_token_langs"] == ["en"] * len(train_v[0]["custom"]["text_tokens"])
    assert SymbolTable.from_file(out / "unique_text_tokens.k2symbols") == vallex_symbol_table()
    assert len((out / "text_rejects.tsv").read_text().splitlines()) == 4  # replaced, not appended twice

    # another corpus replaced the shared symbol table: this corpus is redone, not skipped
    (out / "unique_text_tokens.k2symbols").write_text("<pad> 0\n")
    caplog.clear()
    assert _run(corpus, "--text-tokenizer", "vallex", "--language", "auto") == 0
    assert "changed" in caplog.text
    assert SymbolTable.from_file(out / "unique_text_tokens.k2symbols") == vallex_symbol_table()

    # changed input manifest: redone as well
    sups = list(SupervisionSet.from_file(corpus / "manifests" / "toy_supervisions_dev.jsonl.gz"))
    SupervisionSet.from_segments(sups[:1]).to_file(corpus / "manifests" / "toy_supervisions_dev.jsonl.gz")
    assert _run(corpus, "--text-tokenizer", "vallex", "--language", "auto") == 0
    assert [s["id"] for s in _read(out / "toy_supervisions_dev.jsonl.gz")] == ["a"]


def test_stage2_vallex_fallback_reports_substitutions(corpus):
    sups = [SupervisionSegment(id="g", recording_id="g", start=0, duration=1, text="Grüß Gott, wie geht es Ihnen?")]
    SupervisionSet.from_segments(sups).to_file(corpus / "manifests" / "de_supervisions_train.jsonl.gz")
    assert main(["--manifests-dir", str(corpus / "manifests"), "--output-dir", str(corpus / "tokenized"),
                 "--prefix", "de", "--text-tokenizer", "vallex", "--language", "de"]) == 0
    report = json.loads((corpus / "tokenized" / "text_tokens_report.json").read_text(encoding="utf-8"))
    st = report["tokenizers"]["vallex"]
    assert st["substituted"]["ɡ→g"] == 3 and st["dropped"]["ː"] >= 3 and st["languages"] == {"de": 1}
    (sup,) = _read(corpus / "tokenized" / "de_supervisions_train.jsonl.gz")
    assert sup["language"] == "de" and set(sup["custom"]["text_token_langs"]) == {"en"}
    assert vallex_symbol_table().encode(sup["custom"]["text_tokens"])  # every token is a table symbol


def test_stage2_bad_input_names_the_fix(corpus, tmp_path):
    with pytest.raises(SystemExit, match="no nope_supervisions_<part>.jsonl.gz"):
        main(["--manifests-dir", str(corpus / "manifests"), "--prefix", "nope"])
    with pytest.raises(SystemExit, match="espeak-ng has no voice 'xx-yy'"):
        _run(corpus, "--language", "xx-yy", "--output-dir", str(tmp_path / "o"))
    with pytest.raises(SystemExit):
        _run(corpus, "--text-tokenizer", "bpe")


def test_old_lang_spelling_is_refused_naming_language(tmp_path, capsys):
    """--language is the one spelling (prepare.sh, infer, serve, make_voice); --lang fails in one line."""
    with pytest.raises(SystemExit) as e:
        main(["--manifests-dir", str(tmp_path), "--output-dir", str(tmp_path / "o"), "--prefix", "x", "--lang", "de"])
    err = capsys.readouterr().err.splitlines()
    assert e.value.code == 2 and len(err) == 1 and "error: --lang was renamed: use --language (" in err[0]
    assert not (tmp_path / "o").exists()


def test_stage2_rerun_after_a_kill_equals_a_clean_run(corpus, tmp_path):
    clean = tmp_path / "clean"
    assert _run(corpus, "--output-dir", str(clean)) == 0
    # the state a SIGKILL can leave: an output written, a temp file half-written, no params stamp
    out = corpus / "tokenized"
    assert _run(corpus) == 0
    (out / ".stage2_toy.stamp.json").unlink()
    stale = out / ".tmp-x1y2.toy_supervisions_dev.jsonl.gz"
    stale.write_bytes(b"\x1f\x8b half")
    (out / "toy_supervisions_train.jsonl.gz").write_bytes(b"\x1f\x8b truncated")
    assert _run(corpus) == 0
    assert not stale.exists()
    for name in ("toy_supervisions_train.jsonl.gz", "toy_supervisions_dev.jsonl.gz"):
        assert _read(out / name) == _read(clean / name)
    for name in ("unique_text_tokens.k2symbols", "text_tokens_report.json", "text_rejects.tsv"):
        assert (out / name).read_bytes() == (clean / name).read_bytes()
