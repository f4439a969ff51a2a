"""Which codec made the training codes: what training inherits from the prepared data.

Stage 3 records the codec's facts in ``<tokenized>/codec.json`` and in every cut
(``cut.custom["codec"]``). Training reads them so the model's vocabularies follow the codec's
codebook size, the checkpoints record the codec, and the TensorBoard validation audio and synthesis decode
with the same codec: the codec is chosen once, at ``prepare.sh --codec``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

from valle.codec import CodecError, check_same_codec, code_space, facts_of
from valle.data.codes_archive import read_codec_record


def _first_cut_facts(cuts) -> Optional[Dict[str, object]]:
    for cut in cuts:
        custom = cut.custom or {}
        if "codec" in custom:
            return dict(custom["codec"])
        if "codec_weights" in custom:  # prepared before codecs were recorded: Encodec
            weights = str(custom["codec_weights"])
            return facts_of("encodec" if weights.startswith("pretrained") else f"encodec:{weights}")
        return None
    return None


def data_codec_facts(train_cuts_path, train_cuts, valid_cuts=None) -> Dict[str, object]:
    """The facts of the codec behind ``train_cuts`` (and ``valid_cuts``, which must agree)."""
    record = read_codec_record(Path(train_cuts_path).parent)
    facts = _first_cut_facts(train_cuts)
    if record is not None and facts is not None:
        check_same_codec(record, facts, f"{Path(train_cuts_path).parent}/codec.json", f"the cuts in {train_cuts_path}")
    facts = record or facts or facts_of("encodec")
    if valid_cuts is not None:
        valid = _first_cut_facts(valid_cuts)
        if valid is not None:
            check_same_codec(facts, valid, f"the training cuts {train_cuts_path}", "the validation cuts")
    return facts


def check_model_codec(config_codec: str, facts: Dict[str, object], source: str) -> None:
    """A model read from ``source`` must model the data's codec: refuse with the fix otherwise."""
    data_space = code_space(str(facts.get("codec") or facts.get("name")))
    if code_space(config_codec) != data_space:
        raise CodecError(
            f"{source} models {config_codec} codes but the training data hold {data_space} codes; "
            f"prepare the data with prepare.sh --codec {config_codec}, or train a new model from scratch "
            f"on these data (drop --init-from/--resume)"
        )
