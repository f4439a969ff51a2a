"""The VALL-E X frontend: every published reference case exact, then its rules on unseen texts."""
import json
from collections import Counter

import pytest

from valle.text.languages import split_language_tags
from valle.text.tokenizer import get_text_tokenizer
from valle.text.vallex.fallback import map_ipa
from valle.text.vallex.frontend import finish_segment, vallex_symbol_table, vallex_symbols


@pytest.fixture(scope="module")
def vallex():
    return get_text_tokenizer("vallex", None)


@pytest.fixture(scope="module")
def cases(reference_dir):
    return json.loads((reference_dir / "vallex_frontend_cases.json").read_text(encoding="utf-8"))["cases"]


def test_symbol_table_is_the_published_one(reference_dir):
    ref = json.loads((reference_dir / "vallex_text_symbols.json").read_text(encoding="utf-8"))["symbols"]
    table = vallex_symbol_table()
    assert len(table) == 70
    assert {s: i for i, s in enumerate(table.symbols)} == ref
    assert table.pad_id == 3 and table["[UNK]"] == 0 and table["↓"] == 69


def test_every_reference_case_exact(vallex, cases):
    assert len(cases) == 10
    for case in cases:
        lang = None if case["language"] == "mix" else case["language"]
        ids, langs = vallex.encode(case["text"], lang)
        assert ids == case["ids"], case["text"]
        assert langs == case["langs"], case["text"]


def test_reference_case_from_its_tagged_input(vallex, cases):
    # The published tokenizer received "_[EN]...[EN]"; the "_" outside the tags is dropped there.
    for case in cases:
        tagged = case["tagged_input"][1:]
        ids, langs = vallex.encode(tagged)
        assert (ids, langs) == (case["ids"], case["langs"]), tagged


def _ipa(vallex, text, lang):
    tt = vallex(text, lang)
    assert all(t in vallex_symbols() for t in tt.tokens)
    return "".join(tt.tokens)


def test_english_rules_on_unseen_text(vallex):
    # abbreviation spoken, number spelled with inflect (a hyphenated number is not a CMU word: kept + '*'),
    # r -> ɹ, dark l before a consonant at the word end, a '.' closes the segment
    assert _ipa(vallex, "Mr. Brown has 42 apples.", "en") == "ˈmɪstəɹ_bɹaʊn_həz_foɹty-two*_ˈæpəɫz."
    # unknown word keeps its spelling with '*'; a missing final mark becomes '.'
    assert _ipa(vallex, "Zyxwv is here", "en") == "zyxwv*_ɪz_hiɹ."
    # ordinal, year 2001-2009, dollars and cents
    assert _ipa(vallex, "On May 3rd, 2005, it cost $3.50!", "en") == (
        "ɔn_meɪ_θəɹd,_tu_ˈθaʊzənd_faɪv,_ɪt_kɔst_θɹi_ˈdɔləɹz,_ˈfɪfti_sɛnts!")
    # ʧ -> tʃ, ʤ -> dʒ; unidecode folds accents before the dictionary lookup
    assert _ipa(vallex, "Joe chose a café.", "en") == "dʒoʊ_tʃoʊz_ə_kəˈfeɪ."


def test_mandarin_tones_and_letters(vallex):
    # tone 1 →, 4 ↓, 3 ↓↑; the apical vowel after a retroflex sibilant is ɹ`; words split by jieba
    assert _ipa(vallex, "他是老师。", "zh") == "tʰa→_s`ɹ`↓_lɑʊ↓↑s`ɹ`→."
    # Latin letters are read as Mandarin letter names (A ㄟˉ, I ㄞˋ); the segment gets a final '.'
    assert _ipa(vallex, "我爱AI", "zh") == "wo↓↑_aɪ↓eɪ→aɪ↓."
    # decimal numbers become Chinese numerals (二点五)
    assert "əɹ`↓t⁼jɛn↓↑u↓↑" in _ipa(vallex, "价格是2.5元", "zh")


def test_japanese_gemination_nasal_and_devoicing(vallex):
    assert "t#t" in _ipa(vallex, "切手を買った。", "ja")  # っ before t
    walk = _ipa(vallex, "散歩に行きます", "ja")
    assert "mp" in walk and "n^i" in walk and walk.endswith("ɯ*.")  # ん before p, に, devoiced す
    assert _ipa(vallex, "先生、ありがとう！", "ja").endswith("!")


def test_code_switched_text_has_per_token_languages(vallex):
    tt = vallex("[EN]Hello[EN][JA]こんにちは[JA][ZH]你好[ZH]")
    assert "".join(tt.tokens) == "hɛˈloʊ.ko↑nn^itʃiwa.ni↓↑xɑʊ↓↑."
    assert tt.langs == ["en"] * 7 + ["ja"] * 13 + ["zh"] * 10
    # untagged text is read in the default language instead of being dropped
    tt = vallex("[ZH]你好[ZH] Hello", "en-us")
    assert "".join(tt.tokens) == "ni↓↑xɑʊ↓↑.hɛˈloʊ." and tt.langs[-1] == "en"
    with pytest.raises(ValueError, match="outside any language tag"):
        split_language_tags("[ZH]你好[ZH] Hello")


def test_segment_end_and_unknown_characters(vallex):
    assert finish_segment("abc  ") == "abc." and finish_segment("abc~") == "abc~" and finish_segment("") == ""
    tt = vallex("Price: 5€", "en")  # unidecode: € -> EUR; ':' is kept by eng_to_ipa and is not a symbol
    assert "[UNK]" in tt.tokens and tt.substituted[":→[UNK]"] == 1


def test_espeak_fallback_counts_substitutions(vallex):
    tt = vallex("Grüß Gott, wie geht es Ihnen?", "de")
    assert tt.lang == "de" and set(tt.langs) == {"en"}
    assert all(t in vallex_symbols() and t != "[UNK]" for t in tt.tokens)
    assert tt.substituted["ɡ→g"] == 3  # Grüß Gott geht: espeak's ɡ (U+0261) is the table's g
    assert tt.dropped["ː"] >= 3  # long vowels lose their length mark
    mapped, subs, drops = map_ipa("ʁɑ̃ː", vallex_symbols())
    assert mapped == "ɹɑ~" and subs == Counter({"ʁ→ɹ": 1, "ɑ̃→ɑ~": 1}) and drops == Counter({"ː": 1})
