"""One spelling of yes/no options for every command (valle.utils.cli.str2bool)."""
import argparse

import pytest

from valle.bin.infer import get_parser as infer_parser
from valle.bin.prepare_manifests import get_parser as prepare_parser
from valle.utils.cli import str2bool


@pytest.mark.parametrize("word,value", [("true", True), ("Yes", True), ("ON", True), ("1", True),
                                        ("false", False), ("no", False), ("Off", False), ("0", False)])
def test_the_same_words_mean_the_same_everywhere(word, value):
    assert str2bool(word) is value
    assert prepare_parser().parse_args(["--stage", "1", "--trim-silence", word]).trim_silence is value
    assert infer_parser().parse_args(["--text", "hi", "--use-kv-cache", word]).use_kv_cache is value


def test_anything_else_is_refused_with_the_word():
    with pytest.raises(argparse.ArgumentTypeError, match="'maybe'"):
        str2bool("maybe")
    for parse in (lambda: infer_parser().parse_args(["--text", "hi", "--use-kv-cache", "maybe"]),
                  lambda: prepare_parser().parse_args(["--stage", "1", "--trim-silence", "maybe"])):
        with pytest.raises(SystemExit):
            parse()
