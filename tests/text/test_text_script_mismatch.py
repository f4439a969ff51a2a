"""Issue 18 item 8: text that silently turns into the wrong tokens, detected or fixed."""
from __future__ import annotations

import json

from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

from valle.bin.tokenize_text import main
from valle.text.espeak import EspeakTokenizer
from valle.text.vallex.frontend import VallexTokenizer


def test_espeak_language_switch_markers_do_not_leak_into_tokens():
    # espeak-ng reads "Team" in German text as English and marks it "(en)tˈiːm(de)"
    joined = "".join(VallexTokenizer("de")("Das Team spielt gut.").tokens)
    assert "tˈim" in joined and "(" not in joined and "entˈim" not in joined
    tokens = EspeakTokenizer("de")("Das Team spielt gut.").tokens
    assert not [t for t in tokens if t.startswith("(")], tokens


def test_lowercase_vallex_tags_are_tags():
    tok = VallexTokenizer("en")
    lower, upper = tok("[en]I like[en][zh]中文[zh]"), tok("[EN]I like[EN][ZH]中文[ZH]")
    assert lower.tokens == upper.tokens and "[UNK]" not in lower.tokens
    assert lower.langs == upper.langs and set(lower.langs) == {"en", "zh"}


def test_stage2_reports_script_language_mismatches(tmp_path, espeak_wav, caplog):
    texts = {"ok": "A plain English sentence.", "han": "I really like 中文 food.",
             "tagged": "[EN]I like[EN][ZH]中文[ZH]", "latin": "[ZH]我喜欢 Python 编程[ZH]"}
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    rec = Recording.from_file(espeak_wav("hi", tmp_path / "hi.wav"))
    recs = [Recording(id=k, sources=rec.sources, sampling_rate=rec.sampling_rate, num_samples=rec.num_samples,
                      duration=rec.duration) for k in texts]
    sups = [SupervisionSegment(id=k, recording_id=k, start=0, duration=rec.duration, text=t, speaker="s")
            for k, t in texts.items()]
    RecordingSet.from_recordings(recs).to_file(manifests / "c_recordings_all.jsonl.gz")
    SupervisionSet.from_segments(sups).to_file(manifests / "c_supervisions_all.jsonl.gz")
    out = tmp_path / "tokenized"
    main(["--manifests-dir", str(manifests), "--output-dir", str(out), "--prefix", "c",
          "--text-tokenizer", "vallex", "--language", "en"])
    report = json.loads((out / "text_tokens_report.json").read_text(encoding="utf-8"))
    mm = report["script_mismatches"]
    assert mm["utterances"] == 2 and mm["by_kind"] == {"han in en": 1, "latin in zh": 1}
    assert {e["id"]: e["kinds"] for e in mm["examples"]} == {"han": ["han in en"], "latin": ["latin in zh"]}
    assert "2 utterance(s) hold text in a script their language does not write" in caplog.text
