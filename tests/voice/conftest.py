"""A real voice for the voice tests: the LJSpeech sample of tests/assets, codec2 codes, espeak-ng tokens."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ljspeech_clip(samples_dir):
    """(int16 samples, rate, transcript) of the first LJSpeech sample."""
    import soundfile as sf

    line = (samples_dir / "ljspeech-mini" / "metadata.csv").read_text().splitlines()[0]
    utt, _, text = line.split("|")
    audio, sr = sf.read(str(samples_dir / "ljspeech-mini" / "wavs" / f"{utt}.wav"), dtype="int16")
    return audio, sr, text


@pytest.fixture(scope="session")
def codec2_voice(ljspeech_clip):
    from valle.codec import codec_identity, load_codec
    from valle.text.symbol_table import SymbolTable
    from valle.text.tokenizer import get_text_tokenizer
    from valle.voice import Voice, symbols_digest

    audio, sr, text = ljspeech_clip
    codec = load_codec("codec2")
    codes = codec.encode(audio.astype("float32") / 32768.0, sr).numpy().astype("int16")
    tokens = list(get_text_tokenizer("espeak", "en-us")(text, "en-us").tokens)
    table = SymbolTable.for_corpus(tokens)
    return Voice(name="lj", speaker="LJ", language="en-us", text=text, text_tokens=tokens, tokenizer="espeak",
                 symbols_sha256=symbols_digest(table.symbols), num_symbols=len(table), codec=codec.facts(),
                 codec_identity=codec_identity("codec2"), codes=codes, audio=audio, sample_rate=sr,
                 source={"kind": "wav", "path": "LJ002-0020.wav"})
