"""Long text: the language-aware splitter, the cross-fade joiner, prompt modes and the training maximum."""
from __future__ import annotations

import pytest
import torch

from valle.infer.long_text import CrossfadeJoiner, LongTextOptions, Speech, training_max_seconds
from valle.infer.sentences import speech_length, split_sentences
from valle.infer.synthesizer import SamplingOptions


def test_splitter_english_chinese_japanese_and_tags():
    assert split_sentences("Hello there. How are you? Fine.", 12, by_speech_length=True) == [
        "Hello there.", "How are you?", "Fine."]
    # full-width stops need no space; CJK pieces are joined without one; a CJK character weighs 3
    assert split_sentences("今天天气很好。我们去公园吧！你觉得呢？", 40, by_speech_length=True) == [
        "今天天气很好。我们去公园吧！", "你觉得呢？"]
    assert speech_length("[ZH]你好[ZH]") == 6
    assert split_sentences("こんにちは。元気ですか？", 20, by_speech_length=True) == ["こんにちは。", "元気ですか？"]
    # an over-long sentence is cut at clause marks, tags re-wrapped on every part
    assert split_sentences("[EN]Hi.[EN][ZH]今天天气很好，我们去公园吧，你觉得怎么样？[ZH]", 20, by_speech_length=True) == [
        "[EN]Hi.[EN]", "[ZH]今天天气很好，[ZH]", "[ZH]我们去公园吧，[ZH]", "[ZH]你觉得怎么样？[ZH]"]
    long = "A very long sentence, which has many clauses, and goes on: it never ends."
    assert split_sentences(long, 30, by_speech_length=True) == [
        "A very long sentence,", "which has many clauses,", "and goes on: it never ends."]
    assert split_sentences(long, 30) == [long]  # the CLI's splitter keeps a sentence whole


def test_crossfade_joiner_mixes_each_seam_once_however_the_audio_arrives():
    fade = 8
    a, b, c = torch.full((30,), 1.0), torch.full((25,), -1.0), torch.full((5,), 0.5)
    whole = CrossfadeJoiner(fade)
    ref = torch.cat([whole.push(a, True, False), whole.push(b, True, False), whole.push(c, True, True)])
    assert ref.numel() == 30 + 25 + 5 - 2 * fade + (fade - 5)  # the last sentence is shorter than the fade
    ramp = (torch.arange(fade) + 0.5) / fade
    assert torch.allclose(ref[22:30], (1 - ramp) * 1.0 + ramp * -1.0)
    pieces = CrossfadeJoiner(fade)  # the same audio in small pieces gives the same samples
    out = []
    for wav in (a, b, c):
        for i in range(0, wav.numel(), 3):
            part = wav[i:i + 3]
            end = i + 3 >= wav.numel()
            out.append(pieces.push(part, end, end and wav is c))
    assert torch.equal(torch.cat(out), ref)
    assert torch.equal(CrossfadeJoiner(0).push(a, True, True), a)


@pytest.fixture(scope="module")
def nano_synth():
    from valle.codec import load_codec
    from valle.infer.synthesizer import Synthesizer
    from valle.models import VALLE, get_preset
    from valle.text.symbol_table import SymbolTable
    from valle.text.tokenizer import get_text_tokenizer

    tok = get_text_tokenizer("espeak", "en-us")
    text = ["Seven geese flew low. The lake was frozen. Hello there."]
    table = SymbolTable.for_corpus([t for tt in tok.batch(text) for t in tt.tokens])
    torch.manual_seed(0)
    cfg = get_preset("nano", text_vocab_size=len(table.symbols), codec="codec2", num_audio_tokens=256)
    return Synthesizer(VALLE(cfg).eval(), table.symbols, load_codec("codec2"), tokenizer="espeak")


def test_sliding_prompt_uses_the_previous_sentence_within_the_training_maximum(nano_synth):
    prompt = torch.randint(0, 256, (25, 8), generator=torch.Generator().manual_seed(0))
    opts = SamplingOptions(seed=1, max_frames=30)
    speech = Speech(nano_synth, "Seven geese flew low. The lake was frozen. Hello there.", "Hello there.", prompt,
                    "en-us", None, opts, LongTextOptions(prompt_mode="sliding", max_seconds=2.0))
    wav = speech.wav()
    assert [r.prompt for r in speech.reports] == ["voice", "previous sentence", "previous sentence"]
    assert all(r.frames <= 30 for r in speech.reports)
    fade = int(0.020 * 8000)
    assert wav.numel() == sum(r.frames for r in speech.reports) * 160 - 2 * fade
    fixed = Speech(nano_synth, "Seven geese flew low. The lake was frozen.", "Hello there.", prompt, "en-us", None,
                   SamplingOptions(seed=1), LongTextOptions(max_seconds=2.0))
    fixed.wav()
    # 2 s maximum - 0.5 s prompt = 75 frames per sentence, whatever the length guard allows
    assert [r.prompt for r in fixed.reports] == ["voice", "voice"]
    assert all(r.budget_frames == 75 and r.frames <= 75 for r in fixed.reports)


def test_each_sentence_and_the_prompt_text_are_tokenized_once(nano_synth, monkeypatch):
    real, said = nano_synth.text.encode, []
    monkeypatch.setattr(nano_synth.text, "encode", lambda text, *a: said.append(text) or real(text, *a))
    prompt = torch.randint(0, 256, (25, 8), generator=torch.Generator().manual_seed(0))
    speech = Speech(nano_synth, "Seven geese flew low. The lake was frozen.", "Hello there.", prompt,
                    "en-us", None, SamplingOptions(seed=1, max_frames=20),
                    LongTextOptions(prompt_mode="sliding", max_seconds=2.0))
    speech.wav()
    assert [r.prompt for r in speech.reports] == ["voice", "previous sentence"]
    assert sorted(said) == sorted(speech.sentences + ["Hello there."])


def test_a_prompt_that_fills_the_training_maximum_is_refused(nano_synth):
    prompt = torch.randint(0, 256, (100, 8))  # 2 s of codec2 frames
    with pytest.raises(ValueError, match="training maximum"):
        Speech(nano_synth, "Hello there.", "Hello there.", prompt, "en-us", None, SamplingOptions(),
               LongTextOptions(max_seconds=2.5))
    assert training_max_seconds({"filter_max_duration": 12.5}) == 12.5
    assert training_max_seconds(None) == 20.0
