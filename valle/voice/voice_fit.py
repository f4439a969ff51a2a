"""Does a voice fit a model? Its codes must be the model's codec's, its tokens the model's table's.

Codes of another codec (or of other Encodec weights) mean nothing to the model; token ids of
another symbol table would name other phonemes. Both are refused before any synthesis, with the
fix: make the voice again for this model (``make_voice --from-voice`` re-encodes the stored clip
and re-tokenizes its transcript with the model's codec and table).
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

from valle.codec import same_codec
from valle.voice.voice_file import Voice, VoiceError, symbols_digest


def _remake(voice: Voice, checkpoint: str) -> str:
    ckpt = checkpoint or "<the model's checkpoint>"
    return (f"make the voice again for this model: python -m valle.bin.make_voice --from-voice "
            f"{voice.name} --checkpoint {ckpt} --name {voice.name}-new "
            "(or pass the clip and its transcript with --audio-prompt and --text-prompt)")


def check_voice_fits(voice: Voice, codec, text_symbols: Sequence[str], checkpoint: str = "") -> None:
    """Raise ``VoiceError`` unless ``voice`` was made with ``codec`` (a loaded ``Codec``) and the
    symbol table ``text_symbols``; ``checkpoint`` names the model in the message."""
    model = f"the checkpoint {checkpoint}" if checkpoint else "the model"
    got, want = voice.codec, codec.facts()
    if not same_codec(want, got):
        raise VoiceError(
            f"codec mismatch: voice {voice.name!r} holds {got.get('name')} codes ({got.get('sample_rate')} Hz, "
            f"{got.get('num_quantizers')} x {got.get('codebook_size')}) but {model} uses {want.get('name')} "
            f"({want.get('sample_rate')} Hz, {want.get('num_quantizers')} x {want.get('codebook_size')}); "
            f"{_remake(voice, checkpoint)}")
    identity = codec.identity
    if voice.codec_identity != identity:
        raise VoiceError(
            f"codec mismatch: voice {voice.name!r} was encoded by {voice.codec_identity} but {model} decodes "
            f"with {identity} (other weights: other codes); {_remake(voice, checkpoint)}")
    digest = symbols_digest(text_symbols)
    if voice.symbols_sha256 != digest:
        raise VoiceError(
            f"symbol table mismatch: voice {voice.name!r}'s text tokens belong to a table of {voice.num_symbols} "
            f"symbols (sha256 {voice.symbols_sha256[:12]}, tokenizer {voice.tokenizer}) but {model} has "
            f"{len(text_symbols)} symbols (sha256 {digest[:12]}): its token ids would name other phonemes; "
            f"{_remake(voice, checkpoint)}")


def voice_prompt_ids(voice: Voice, table) -> Tuple[List[int], List[int]]:
    """``(symbol ids, language ids)`` of the voice's transcript in ``table`` (a ``SymbolTable``)."""
    from valle.text.languages import language_id

    ids = table.encode(voice.text_tokens)
    if voice.text_token_langs:
        return ids, [language_id(x) for x in voice.text_token_langs]
    return ids, [language_id(voice.language)] * len(ids)


def fitted_voice_prompt(voice: Voice, codec, table, checkpoint: str = "") -> Tuple[object, Tuple[List[int], List[int]]]:
    """``(prompt codes, (symbol ids, language ids))`` of ``voice`` for a model with ``codec`` and the
    symbol table ``table``, after ``check_voice_fits`` (what synthesis and the server prompt with)."""
    check_voice_fits(voice, codec, table.symbols, checkpoint)
    return voice.prompt_codes(), voice_prompt_ids(voice, table)
