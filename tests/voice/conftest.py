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


# Two espeak-ng speakers in the LibriTTS layout: 1001 says sentences of 3-5 s (voice candidates),
# 1002 only short ones (no clip of 3-10 s: skipped, with the reason).
LONG_SENTENCES = [
    "The kettle began to sing just as the rain reached the window of the kitchen.",
    "Please put the green folder on the second shelf beside the old brown books.",
    "Seven geese flew low over the frozen lake before the sun went down.",
]
SHORT_SENTENCES = ["Hello there.", "Good night."]


def nano_codec2_checkpoint(path, symbols, seed: int = 0, codec: str = "codec2"):
    """An untrained nano model for ``codec``'s codes and ``symbols``, saved as a training checkpoint."""
    import torch

    from valle.codec import facts_of
    from valle.models import VALLE, get_preset
    from valle.models.config import for_codec
    from valle.train.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    config = for_codec(get_preset("nano", text_vocab_size=max(len(symbols), 8)), codec.split(":")[0])
    model = VALLE(config)
    return save_checkpoint(path, model=model.state_dict(), model_config=config.to_dict(), text_symbols=list(symbols),
                           train_stage=0, codec=facts_of(codec))


@pytest.fixture(scope="session")
def codec2_corpus(tmp_path_factory, espeak_wav):
    """``(tokenized dir, cuts file, checkpoint)``: a prepared codec2 corpus (prepare's real stages 1-3)
    and a nano codec2 checkpoint with its symbol table."""
    from tests.prepared_corpus import prepare_in_process
    from valle.text.symbol_table import SymbolTable

    root = tmp_path_factory.mktemp("voice_corpus")
    corpus, man, tok = root / "corpus", root / "manifests", root / "tokenized"
    for speaker, voice, sentences in (("1001", "en-us", LONG_SENTENCES), ("1002", "en-gb", SHORT_SENTENCES)):
        for i, text in enumerate(sentences):  # LibriTTS layout: <speaker>/<chapter>/<utt>.wav + .normalized.txt
            stem = corpus / speaker / "1" / f"{speaker}_1_{i:06d}"
            espeak_wav(text, stem.with_suffix(".wav"), voice, 160)
            stem.with_suffix(".normalized.txt").write_text(text + "\n")
    cuts = prepare_in_process(corpus, man, tok)
    symbols = SymbolTable.from_file(tok / "unique_text_tokens.k2symbols").symbols
    ckpt = nano_codec2_checkpoint(root / "exp" / "best-valid-loss.pt", symbols)
    return tok, cuts, ckpt
