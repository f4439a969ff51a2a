"""What a voice is made for: a codec, a symbol table and a tokenizer, read from prepared data or a checkpoint.

A voice's codes and tokens are only meaningful to models of the same codec and symbol table, so
``make_voice`` takes both from where the model comes from: the prepared data it trains on
(``data/tokenized``: ``codec.json``, ``unique_text_tokens.k2symbols``, the stage-2 report's
tokenizer) or the checkpoint itself (its ``codec`` facts and ``text_symbols``). ``--codec`` may
name other weights of the same codec (``encodec:PATH``), never another codec.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from valle.codec import check_same_codec, facts_of
from valle.voice.voice_file import VoiceError


@dataclass
class VoiceTarget:
    codec_spec: str  # the --codec value that loads the codec
    symbols: List[str]  # the symbol table, in id order
    tokenizer: str  # espeak, pinyin, openjtalk or vallex
    where: str  # "data dir X" / "checkpoint Y", for messages

    def load_codec(self, device: str = "cpu"):
        from valle.codec import load_codec

        return load_codec(self.codec_spec, device)


def _codec_spec(recorded: dict, override: Optional[str], where: str) -> str:
    if not override:
        return str(recorded.get("codec") or recorded.get("name"))
    check_same_codec(recorded, facts_of(override), where, f"--codec {override}")
    return override


def target_of_data(tokenized_dir, codec: Optional[str] = None) -> VoiceTarget:
    """The codec (``codec.json``), table and tokenizer of prepared data (``prepare.sh`` stages 2-3)."""
    from valle.data.codes_archive import read_codec_record
    from valle.text.symbol_table import SymbolTable

    d = Path(tokenized_dir)
    table_path = d / "unique_text_tokens.k2symbols"
    if not table_path.is_file():
        raise VoiceError(f"--tokenized-dir {d} has no unique_text_tokens.k2symbols: pass the tokenized folder "
                         "prepare.sh wrote (data/tokenized), after its stages 2 and 3")
    recorded = read_codec_record(d) or facts_of("encodec")  # data from before codec.json: Encodec
    report = d / "text_tokens_report.json"
    tokenizer = json.loads(report.read_text()).get("text_tokenizer", "espeak") if report.is_file() else "espeak"
    where = f"the data in {d}"
    return VoiceTarget(_codec_spec(recorded, codec, where), SymbolTable.from_file(table_path).symbols,
                       tokenizer, where)


def target_of_checkpoint(path, model_preset: Optional[str] = None, codec: Optional[str] = None,
                         tokenizer: str = "auto") -> VoiceTarget:
    """The codec, table and tokenizer a checkpoint synthesizes with (as ``valle.bin.infer`` picks them)."""
    from valle.infer.text_ids import detect_tokenizer, vallex_symbols
    from valle.models.checkpoint_import import read_checkpoint
    from valle.utils.input_path import not_a_file

    path = Path(path)
    why = not_a_file(path)
    if why:
        raise VoiceError(f"--checkpoint {path} {why}: pass the checkpoint the voice is for")
    try:
        config, _, symbols, info = read_checkpoint(path, model_preset=model_preset)
    except (ValueError, KeyError, RuntimeError) as e:
        raise VoiceError(f"cannot read --checkpoint {path}: {e}") from e
    symbols = list(symbols) if symbols else vallex_symbols()
    recorded = info.get("codec") or facts_of(getattr(config, "codec", "encodec"))
    name = detect_tokenizer(symbols, info.get("args")) if tokenizer == "auto" else tokenizer
    where = f"the checkpoint {path}"
    return VoiceTarget(_codec_spec(recorded, codec, where), symbols, name, where)
