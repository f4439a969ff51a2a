"""espeak / pinyin / openjtalk tokenizers, the symbol table and language codes, on real backends."""
import pytest

from valle.text.languages import language_id, normalize_language, split_language_tags
from valle.text.symbol_table import SymbolTable
from valle.text.tokenizer import get_text_tokenizer


@pytest.fixture(scope="module")
def espeak():
    return get_text_tokenizer("espeak", "en-us")


def test_espeak_speaks_numbers_and_abbreviations(espeak):
    tt = espeak("Dr. Smith paid $5 in 1999.")
    joined = "".join(tt.tokens)
    for spoken in ("dˈɑːktɚ", "fˈaɪv", "dˈɑːlɚz", "nˈaɪntiːn", "nˈaɪnti"):  # doctor, five dollars, nineteen ninety
        assert spoken in joined, (spoken, tt.tokens)
    assert not any(c.isdigit() or c == "$" for c in joined)
    # single phone symbols, stress marks and word boundaries as their own tokens, punctuation kept
    assert tt.tokens[:6] == ["d", "ˈ", "ɑː", "k", "t", "ɚ"] and tt.tokens[6] == "_"
    assert tt.tokens[-1] == "." and tt.tokens.count(".") == 1  # "Dr." is no sentence end
    assert tt.lang == "en-us" and tt.tokenizer == "espeak" and tt.langs is None


def test_espeak_batch_keeps_alignment(espeak):
    texts = ["", "Hello world, this is a test!", "...", "It is 3.5 km; then stop.", "a; b: c — d"]
    batch = espeak.batch(texts)
    assert [b.tokens for b in batch] == [espeak(t).tokens for t in texts]
    assert batch[0].tokens == [] and batch[2].tokens == ["…"]
    assert "," in batch[1].tokens and batch[1].tokens[-1] == "!"
    assert ";" in batch[3].tokens and "p ˈ ɔɪ n t".split() <= batch[3].tokens  # "three point five"
    assert batch[4].tokens[:3] == ["ˈ", "eɪ", ";"] and batch[4].tokens[-3:] == ["d", "ˈ", "iː"]


def test_espeak_any_voice_and_bad_voice(espeak):
    de = espeak("Guten Morgen, Straße.", "de")
    assert de.lang == "de" and "ʃ" in de.tokens and "," in de.tokens
    with pytest.raises(ValueError, match="espeak-ng has no voice 'xx-yy'"):
        espeak("hello", "xx-yy")


def test_zh_and_ja_are_routed_off_espeak(espeak):
    zh = get_text_tokenizer("espeak", "zh")
    assert zh.name == "pinyin"
    assert zh("你好，世界。").tokens == ["n", "i3", "h", "ao3", ",", "_", "sh", "i4", "j", "ie4", "."]
    apples = zh("我有3个苹果").tokens  # the number is read: 三 san1
    assert apples == ["w", "o3", "_", "y", "ou3", "_", "s", "an1", "g", "e4", "_", "p", "ing2", "g", "uo3"]
    ja = get_text_tokenizer("espeak", "ja")
    assert ja.name == "openjtalk"
    assert " ".join(ja("こんにちは、世界。").tokens) == "k o N n i ch i w a , _ s e k a i ."
    assert "cl" in ja("切手").tokens
    # per-call language routes too
    assert espeak("你好", "zh-CN").tokenizer == "pinyin" and espeak("今日は", "ja").tokenizer == "openjtalk"


def test_espeak_reads_tagged_segments_in_their_languages(espeak):
    tt = espeak("[EN]Thank you[EN][ZH]谢谢[ZH]", "de")
    assert tt.tokens == espeak("Thank you").tokens + ["_"] + get_text_tokenizer("pinyin")("谢谢").tokens
    sic = espeak("Wait [sic] here").tokens  # lower-case brackets are text, not tags
    assert sic[4:6] == ["_", "["] and sic[sic.index("]") + 1] == "_" and "k" in sic
    with pytest.raises(ValueError, match="no matching closing tag"):
        espeak("[EN]unmatched[ZH]")


def test_unknown_characters_are_counted():
    zh = get_text_tokenizer("pinyin", "zh")
    tt = zh("好😀")
    assert tt.tokens == ["h", "ao3"] and tt.dropped["😀"] == 1
    ja = get_text_tokenizer("openjtalk", "ja")
    assert ja("猫★").dropped["★"] == 1
    with pytest.raises(ValueError, match="unknown text tokenizer"):
        get_text_tokenizer("bpe", "en")


def test_symbol_table_roundtrip_and_errors(tmp_path):
    table = SymbolTable.for_corpus(["b", "a", "_", "a"])
    assert table.symbols == ["<pad>", "<unk>", "_", "a", "b"] and table.pad_id == 0 and table.unk_id == 1
    path = tmp_path / "t.k2symbols"
    table.to_file(path)
    assert path.read_text() == "<pad> 0\n<unk> 1\n_ 2\na 3\nb 4\n"
    again = SymbolTable.from_file(path)
    assert again == table and len(again) == 5 and "a" in again and again.encode(["a", "b"]) == [3, 4]
    assert again.decode([4, 2]) == ["b", "_"]
    with pytest.raises(KeyError, match="x y"):
        again.encode(["a", "y", "x"])
    path.write_text("a 0\nb 2\n")
    with pytest.raises(ValueError, match="dense"):
        SymbolTable.from_file(path)
    with pytest.raises(FileNotFoundError, match="stage 2"):
        SymbolTable.from_file(tmp_path / "missing")


def test_language_codes_and_tags():
    assert [normalize_language(c) for c in ("en_US", "EN", "English", "zh-CN", "cmn", "JA", "de")] == [
        "en-us", "en", "en-us", "zh", "zh", "ja", "de"]
    assert [language_id(c) for c in ("en-us", "EN", "zh_CN", "ja", "de")] == [0, 0, 1, 2, 0]
    assert split_language_tags("[EN]I like[EN][ZH]中文[ZH] tea", "en-gb") == [
        ("en", "I like"), ("zh", "中文"), ("en-gb", " tea")]
    assert split_language_tags("plain", "de") == [("de", "plain")]
    with pytest.raises(ValueError, match=r"tag \[EN\] .* no matching closing tag"):
        split_language_tags("[EN]hello[ZH]", "en")
    with pytest.raises(ValueError, match="empty language"):
        normalize_language(" ")
