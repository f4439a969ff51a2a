"""Streaming synthesis against the one-shot path, on a real nano model, codec2 and espeak-ng text.

Codebook 0 must be identical to the one-shot codes (same seed, same sampling calls); codebooks 1-7 are
measured (the NAR sees only the frames generated so far); ``nar_lookahead=-1`` must equal the one-shot codes.
"""
from __future__ import annotations

import pytest
import torch

from valle.infer.long_text import LongTextOptions, Speech
from valle.infer.streaming import StreamOptions, WindowedDecoder, audio_agreement, code_agreement
from valle.infer.synthesizer import SamplingOptions

TEXT = "Please put the green folder on the second shelf. Seven geese flew low over the frozen lake."


def make_synth(dtype: str = "float32"):
    from valle.codec import load_codec
    from valle.infer.synthesizer import Synthesizer
    from valle.models import VALLE, get_preset
    from valle.text.symbol_table import SymbolTable
    from valle.text.tokenizer import get_text_tokenizer

    tok = get_text_tokenizer("espeak", "en-us")
    table = SymbolTable.for_corpus([t for tt in tok.batch([TEXT, "Hello there."]) for t in tt.tokens])
    torch.manual_seed(0)
    codec = load_codec("codec2")
    cfg = get_preset("nano", text_vocab_size=len(table.symbols), codec="codec2", num_audio_tokens=256)
    return Synthesizer(VALLE(cfg).eval(), table.symbols, codec, tokenizer="espeak", dtype=dtype)


@pytest.fixture(scope="module")
def codec2_synth():
    return make_synth()


def _speech(synth, stream, prompt, check=None, **long):
    return Speech(synth, TEXT, "Hello there.", prompt, "en-us", None, SamplingOptions(seed=7, top_k=20),
                  LongTextOptions(max_seconds=2.0, **long), stream=stream, check=check)


def test_stream_yields_early_in_order_and_matches_one_shot_codes(codec2_synth):
    prompt = torch.randint(0, 256, (40, 8), generator=torch.Generator().manual_seed(1))
    one = _speech(codec2_synth, None, prompt)
    one_wav = one.wav()
    assert len(one.sentences) == 2 and len(one.reports) == 2
    # 2 s training maximum - 0.8 s prompt: every sentence stops at 60 frames (random weights rarely stop)
    assert all(r.budget_frames == 60 and r.frames <= 60 for r in one.reports)

    ar_steps = []  # the stream calls check() after every AR step
    streamed = _speech(codec2_synth, StreamOptions(chunk_frames=15, nar_lookahead=6), prompt,
                       check=lambda: ar_steps.append(1))
    chunks, steps_before = [], []
    for chunk in streamed:
        chunks.append(chunk)
        steps_before.append(len(ar_steps))
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.sentence for c in chunks] == sorted(c.sentence for c in chunks)
    assert [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert len(chunks) >= 4  # several chunks per sentence
    assert steps_before[0] < len(ar_steps) / 4  # the first audio after a fraction of the AR's steps
    wav = torch.cat([c.wav for c in chunks])
    assert wav.numel() == one_wav.numel()  # same frames, same cross-fades
    for rep, ref, codes, ref_codes in zip(streamed.reports, one.reports, streamed.sentence_codes, one.sentence_codes):
        assert rep.frames == ref.frames
        assert torch.equal(codes[:, 0], ref_codes[:, 0])  # the AR's codes: the same sampling calls
        assert rep.code_agreement["fraction_equal"] >= 0.85  # the stated tolerance (docs/serving.md)
        assert code_agreement(codes, ref_codes)["fraction_equal"] >= 0.85

    exact = _speech(codec2_synth, StreamOptions(nar_lookahead=-1), prompt)
    exact_wav = torch.cat([c.wav for c in exact])
    assert len(exact.sentence_codes) == len(one.sentence_codes) == 2
    assert all(torch.equal(a, b) for a, b in zip(exact.sentence_codes, one.sentence_codes))
    assert torch.equal(exact_wav, one_wav)  # the same codes decoded in windows: the one-shot samples


def test_stream_computes_in_the_synthesizers_dtypes():
    """--dtype bfloat16 (and auto's fp32 AR beside a bf16 NAR) holds for the stream as for one-shot synthesis."""
    synth = make_synth("bfloat16")
    seen = []
    hooks = [synth.model.ar_predict_layer.register_forward_hook(lambda m, i, out: seen.append(("ar", out.dtype))),
             synth.model.nar_predict_layers[0].register_forward_hook(lambda m, i, out: seen.append(("nar", out.dtype)))]
    prompt = torch.randint(0, 256, (40, 8), generator=torch.Generator().manual_seed(1))
    try:
        for ar_dtype, ar_out in (("bfloat16", torch.bfloat16), ("float32", torch.float32)):
            synth.ar_dtype = ar_dtype  # what --dtype auto picks on a CPU with native bf16 for a small AR
            one = _speech(synth, None, prompt)
            one.wav()
            exact = _speech(synth, StreamOptions(nar_lookahead=-1), prompt)
            seen.clear()
            list(exact)
            assert all(torch.equal(a, b) for a, b in zip(exact.sentence_codes, one.sentence_codes))
            assert {d for phase, d in seen if phase == "nar"} == {torch.bfloat16}
            assert {d for phase, d in seen if phase == "ar"} == {ar_out}
    finally:
        for h in hooks:
            h.remove()


def windowed(synth, codes, context, lookahead=2, step=16):
    dec = WindowedDecoder(synth, context=context, lookahead=lookahead)
    n = codes.shape[0]
    return torch.cat([dec.push(codes[i:i + step], final=i + step >= n) for i in range(0, n, step)])


def test_windowed_codec2_decode_equals_the_whole_decode(codec2_synth):
    codes = torch.randint(0, 256, (60, 8), generator=torch.Generator().manual_seed(2))
    whole = codec2_synth.decode(codes)
    assert whole.numel() == 60 * 160 and whole.abs().max() > 0.05
    codec2_synth.decode(torch.randint(0, 256, (30, 8), generator=torch.Generator().manual_seed(3)))
    # the same codes, the same samples, whatever was decoded before (codec2_rand resets the random phases)
    assert torch.equal(codec2_synth.decode(codes), whole)
    assert codec2_synth.codec.stream_context_frames == 0
    assert torch.equal(windowed(codec2_synth, codes, context=0), whole)
    # a window that starts mid-sentence restarts codec2's state: why the stream decodes the whole sentence
    assert not torch.equal(windowed(codec2_synth, codes, context=8), whole)


def test_windowed_encodec_decode_equals_the_whole_decode_with_enough_context():
    """The 24 kHz Encodec decoder (random weights: the architecture is what matters) with the stream's
    default context: every window's samples are the one-shot decode's, up to float rounding."""
    from types import SimpleNamespace

    from valle.codec import load_codec

    codec = load_codec("encodec:random")
    synth = SimpleNamespace(codec=codec, decode=codec.decode)  # what WindowedDecoder reads of a Synthesizer
    codes = torch.randint(0, 1024, (120, 8), generator=torch.Generator().manual_seed(4))
    whole = codec.decode(codes)
    stream = windowed(synth, codes, context=codec.stream_context_frames, step=30)
    assert stream.numel() == whole.numel() == 120 * 320
    assert audio_agreement(stream, whole)["snr_db"] > 60  # silence or a frame's shift: ~0 dB


def test_code_and_audio_agreement_measure_the_difference():
    codes = torch.randint(0, 256, (10, 8), generator=torch.Generator().manual_seed(5))
    other = codes.clone()
    other[4:, 3] = (other[4:, 3] + 1) % 256
    agreement = code_agreement(other, codes)
    assert agreement["codebook0_equal"] is True and agreement["fraction_equal"] == round(1 - 6 / 80, 4)
    assert audio_agreement(torch.ones(4), torch.ones(4))["snr_db"] == float("inf")
    assert 19 < audio_agreement(torch.full((4,), 1.1), torch.ones(4))["snr_db"] < 21  # 10 % error: 20 dB


def test_best_of_is_refused_for_streaming(codec2_synth):
    prompt = torch.randint(0, 256, (40, 8))
    speech = Speech(codec2_synth, "Hello there.", "Hello there.", prompt, "en-us", None,
                    SamplingOptions(best_of=2), LongTextOptions(max_seconds=3.0), stream=StreamOptions())
    with pytest.raises(ValueError, match="best-of"):
        list(speech)


def test_a_deadline_check_stops_the_ar_mid_sentence(codec2_synth):
    calls = []

    def check():
        calls.append(1)
        if len(calls) > 12:
            raise TimeoutError("over the deadline")

    prompt = torch.randint(0, 256, (40, 8))
    for stream in (StreamOptions(chunk_frames=5, nar_lookahead=2), StreamOptions(nar_lookahead=-1)):
        calls.clear()
        speech = Speech(codec2_synth, TEXT, "Hello there.", prompt, "en-us", None, SamplingOptions(seed=1),
                        LongTextOptions(max_seconds=2.0), stream=stream, check=check)
        got = []
        with pytest.raises(TimeoutError):
            for chunk in speech:
                got.append(chunk)
        assert len(calls) == 13 and not any(c.last for c in got)  # stopped at the 13th AR step
