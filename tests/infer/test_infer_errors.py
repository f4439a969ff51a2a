"""valle.bin.infer refuses bad input with a message naming the file or option and the fix."""
from __future__ import annotations

import pytest
import torch

from cli_exit import exit_message
from valle.bin.infer import main

PROMPT_TEXT = "The museum keeps its oldest maps in a dark room."


def _base(ckpts, tmp_path, prompt=None, **over):
    opts = {"--checkpoint": str(ckpts["both"]), "--codec": "encodec:random",
            "--text": "Seven geese flew low.", "--output": str(tmp_path / "o.wav"), "--max-len-ratio": "0.25"}
    if prompt is not None:
        opts.update({"--text-prompt": PROMPT_TEXT, "--audio-prompt": str(prompt)})
    opts.update(over)
    return [x for kv in opts.items() for x in kv]


def test_no_espeak_voice_for_language(nano_checkpoints, tmp_path):
    msg = exit_message(main, _base(nano_checkpoints, tmp_path, **{"--language": "qq"}))
    assert "no espeak-ng voice" in msg and "'qq'" in msg and "--language" in msg
    msg = exit_message(main, _base(nano_checkpoints, tmp_path, **{"--prompt-language": "xx-yy", "--text-prompt": "hi"}))
    assert "--prompt-language" in msg and "xx-yy" in msg


def test_symbols_missing_from_checkpoint_table_are_named(nano_checkpoints, tmp_path):
    from valle.text.tokenizer import get_text_tokenizer

    text = "Über die Brücke fährt ein Zug."
    tokens = get_text_tokenizer("espeak", "de")(text, "de").tokens
    missing = sorted({t for t in tokens if t not in set(nano_checkpoints["symbols"])})
    assert missing, "the German text must need symbols the English table lacks"
    msg = exit_message(main, _base(nano_checkpoints, tmp_path, **{"--text": text, "--language": "de"}))
    assert "not in the checkpoint's symbol table" in msg
    for sym in missing:
        assert repr(sym) in msg


def test_unreadable_or_missing_prompt_audio(nano_checkpoints, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    msg = exit_message(main, _base(nano_checkpoints, tmp_path, prompt=bad))
    assert "cannot read prompt audio" in msg and str(bad) in msg and "ffmpeg" in msg
    msg = exit_message(main, _base(nano_checkpoints, tmp_path, prompt=tmp_path / "nope.flac"))
    assert "does not exist" in msg and "nope.flac" in msg


def test_checkpoint_without_nar_half(nano_checkpoints, tmp_path):
    msg = exit_message(main, _base(nano_checkpoints, tmp_path, **{"--checkpoint": str(nano_checkpoints["ar"])}))
    assert "NAR" in msg and "--nar-checkpoint" in msg and "train-stage 2" in msg
    # A file whose nar_* weights were stripped.
    ck = torch.load(nano_checkpoints["both"], weights_only=True)
    ck["model"] = {k: v for k, v in ck["model"].items() if k.startswith("ar_")}
    ck.pop("train_stage")
    stripped = tmp_path / "ar_only.pt"
    torch.save(ck, stripped)
    msg = exit_message(main, _base(nano_checkpoints, tmp_path, **{"--checkpoint": str(stripped)}))
    assert str(stripped) in msg and "NAR" in msg
    # The stages swapped.
    argv = _base(nano_checkpoints, tmp_path)
    i = argv.index("--checkpoint")
    argv[i:i + 2] = ["--ar-checkpoint", str(nano_checkpoints["nar"]), "--nar-checkpoint", str(nano_checkpoints["ar"])]
    assert "--train-stage 2" in exit_message(main, argv)


def test_bad_options_and_tsv(nano_checkpoints, tmp_path):
    assert "--top-p" in exit_message(main, _base(nano_checkpoints, tmp_path, **{"--top-p": "1.5"}))
    assert "exactly one of --text" in exit_message(main, ["--checkpoint", str(nano_checkpoints["both"])])
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("only\ttwo\n")
    msg = exit_message(main, ["--checkpoint", str(nano_checkpoints["both"]), "--tsv", str(tsv)])
    assert "line 1" in msg and "4" in msg and str(tsv) in msg
    if not torch.cuda.is_available():
        assert "no CUDA device" in exit_message(main, _base(nano_checkpoints, tmp_path, **{"--device": "cuda"}))


def test_tsv_rows_that_would_overwrite_each_other_or_a_prompt_are_refused_before_any_work(nano_checkpoints, tmp_path,
                                                                                       espeak_wav):
    from valle.bin.infer import check_output_rows, read_tsv

    espeak_wav("Hi there.", tmp_path / "p1.wav")
    p2 = espeak_wav("Hello.", tmp_path / "p2.wav")
    before = p2.read_bytes()
    cases = {  # row 1's output is row 2's prompt / two rows write one file / a wav named as a sidecar
        "prompt": (["Hi there.\tp1.wav\tOne.\tp2.wav", "Hello.\tp2.wav\tTwo.\tout2.wav"], "is line 3's --audio-prompt"),
        "same": (["Hi there.\tp1.wav\tOne.\tsame.wav", "\t\tTwo.\tsame.wav"], "is also the out_wav of line 2"),
        "sidecar": (["\t\tOne.\tx.wav", "\t\tTwo.\tx.json"], "ends in .json, the name of its own metadata sidecar"),
    }
    for name, (lines, expected) in cases.items():
        tsv = tmp_path / f"{name}.tsv"
        tsv.write_text("\ufeffprompt_text\tprompt_audio\ttext\tout_wav\n" + "\n".join(lines) + "\n")  # a BOM too
        rows = read_tsv(tsv)
        assert len(rows) == 2  # the BOM'd header is a header, not a row
        msg = exit_message(main, ["--checkpoint", str(nano_checkpoints["both"]), "--tsv", str(tsv),
                                  "--codec", "encodec:random"])
        assert expected in msg and "line 3" in msg, msg
        with pytest.raises(ValueError):
            check_output_rows(rows)
    assert p2.read_bytes() == before and not list(tmp_path.glob("same*.wav")) and not (tmp_path / "x.wav").exists()
