"""valle.bin.infer end to end on a tiny trained checkpoint, real espeak-ng text and prompt,
and the real Encodec architecture (random weights): one test per option family."""
from __future__ import annotations

import json

import pytest
import soundfile as sf

from valle.bin.infer import main

PROMPT_TEXT = "The museum keeps its oldest maps in a dark room."


def _run(ckpts, prompt_wav, out, *extra, text="Seven geese flew low over the frozen lake."):
    argv = ["--checkpoint", str(ckpts["both"]), "--codec", "encodec:random", "--text", text,
            "--text-prompt", PROMPT_TEXT, "--audio-prompt", str(prompt_wav), "--output", str(out),
            "--max-len-ratio", "0.5", *extra]
    assert main(argv) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    wav, sr = sf.read(str(out), always_2d=True)
    return wav, sr, meta


def test_basic_synthesis_wav_and_sidecar(nano_checkpoints, prompt_wav, tmp_path, capsys):
    wav, sr, meta = _run(nano_checkpoints, prompt_wav, tmp_path / "out.wav")
    out = capsys.readouterr()
    assert sr == 24000 and wav.shape[1] == 1
    assert meta["generated_frames"] > 0
    assert wav.shape[0] == 320 * meta["generated_frames"] == meta["samples"]
    # Prompt: the espeak recording (> 3 s) is used whole, never cut away from its transcript.
    assert abs(meta["prompt_frames"] - sf.info(str(prompt_wav)).duration * 75) <= 1
    # Random codec weights are announced and recorded.
    assert meta["codec_random_weights"] is True and "RANDOM" in meta["warning"]
    assert "RANDOM weights" in out.err
    assert "RTF" in out.out and meta["rtf"] > 0
    assert meta["text_tokenizer"] == "espeak"
    # The fixture's model never emits EOS: every chunk ends at the length guard, which is reported.
    assert meta["length_guard_hits"] == [0]
    assert "LENGTH GUARD HIT" in out.out


def test_length_guard_scales_with_ratio(nano_checkpoints, prompt_wav, tmp_path):
    _, _, short = _run(nano_checkpoints, prompt_wav, tmp_path / "a.wav", "--max-len-ratio", "0.25")
    _, _, long = _run(nano_checkpoints, prompt_wav, tmp_path / "b.wav", "--max-len-ratio", "0.5")
    assert long["generated_frames"] == 2 * short["generated_frames"]


def test_sampling_options_and_seed(nano_checkpoints, prompt_wav, tmp_path):
    opts = ["--top-k", "20", "--top-p", "0.9", "--temperature", "0.8"]
    a, _, meta_a = _run(nano_checkpoints, prompt_wav, tmp_path / "a.wav", *opts, "--seed", "7")
    b, _, _ = _run(nano_checkpoints, prompt_wav, tmp_path / "b.wav", *opts, "--seed", "7")
    c, _, _ = _run(nano_checkpoints, prompt_wav, tmp_path / "c.wav", *opts, "--seed", "8")
    assert meta_a["sampling"]["top_k"] == 20 and meta_a["sampling"]["temperature"] == 0.8
    assert (a == b).all(), "same seed must give the same audio"
    assert a.shape != c.shape or not (a == c).all(), "another seed must sample other codes"
    d, _, meta_d = _run(nano_checkpoints, prompt_wav, tmp_path / "d.wav", *opts, "--best-of", "3")
    assert meta_d["sampling"]["best_of"] == 3 and d.shape[0] == 320 * meta_d["generated_frames"]


def test_kv_cache_off_gives_the_same_greedy_output(nano_checkpoints, prompt_wav, tmp_path):
    a, _, _ = _run(nano_checkpoints, prompt_wav, tmp_path / "a.wav", "--top-k", "1")
    b, _, meta = _run(nano_checkpoints, prompt_wav, tmp_path / "b.wav", "--top-k", "1", "--use-kv-cache", "false")
    assert meta["sampling"]["use_kv_cache"] is False
    assert a.shape == b.shape and abs(a - b).max() < 1e-3


def test_continual_prepends_the_prompt(nano_checkpoints, prompt_wav, tmp_path):
    wav, _, meta = _run(nano_checkpoints, prompt_wav, tmp_path / "c.wav", "--continual", "true")
    assert meta["prompt_frames"] > 225  # the whole prompt (> 3 s)
    assert wav.shape[0] == 320 * (meta["prompt_frames"] + meta["generated_frames"])


def test_long_text_is_split_and_joined(nano_checkpoints, prompt_wav, tmp_path):
    text = "Please put the green folder on the second shelf. Hello there, how are you today? The end."
    wav, _, meta = _run(nano_checkpoints, prompt_wav, tmp_path / "long.wav", "--max-sentence-chars", "40",
                        text=text)
    assert meta["chunks"] == ["Please put the green folder on the second shelf.",
                              "Hello there, how are you today? The end."]
    assert len(meta["chunk_frames"]) == 2 and sum(meta["chunk_frames"]) == meta["generated_frames"]
    assert wav.shape[0] == 320 * meta["generated_frames"]


def test_languages_and_separate_ar_nar_checkpoints(nano_checkpoints, prompt_wav, tmp_path):
    out = tmp_path / "x.wav"
    argv = ["--ar-checkpoint", str(nano_checkpoints["ar"]), "--nar-checkpoint", str(nano_checkpoints["nar"]),
            "--codec", "encodec:random", "--text", "Seven geese flew low.", "--language", "en-gb",
            "--prompt-language", "en-us", "--text-prompt", PROMPT_TEXT, "--audio-prompt", str(prompt_wav),
            "--output", str(out), "--max-len-ratio", "0.5", "--device", "cpu"]
    assert main(argv) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["language"] == "en-gb" and meta["prompt_language"] == "en-us"
    assert meta["checkpoints"] == {"ar": str(nano_checkpoints["ar"]), "nar": str(nano_checkpoints["nar"])}
    assert sf.info(str(out)).frames == 320 * meta["generated_frames"]


def test_tsv_batch_makes_one_file_per_row(nano_checkpoints, prompt_wav, tmp_path, samples_dir):
    mp3 = samples_dir / "formats" / "stereo.mp3"  # any format, rate, channel count
    rows = [
        "prompt_text\tprompt_audio\ttext\tout_wav",
        f"{PROMPT_TEXT}\t{prompt_wav}\tSeven geese flew low.\tout/one.wav",
        f"{PROMPT_TEXT}\t{mp3}\tHello there.\tout/two.wav",
        "\t\tPlease put the green folder down.\tthree.wav",
    ]
    tsv = tmp_path / "list.tsv"
    tsv.write_text("\n".join(rows) + "\n")
    assert main(["--checkpoint", str(nano_checkpoints["both"]), "--codec", "encodec:random",
                 "--tsv", str(tsv), "--max-len-ratio", "0.5"]) == 0
    whole = {p: sf.info(str(p)).duration * 75 for p in (prompt_wav, mp3)}  # prompts are used whole
    for name, prompt_frames in (("out/one.wav", whole[prompt_wav]), ("out/two.wav", whole[mp3]), ("three.wav", 0)):
        wav = tmp_path / name
        meta = json.loads(wav.with_suffix(".json").read_text())
        info = sf.info(str(wav))
        assert info.samplerate == 24000 and info.channels == 1
        assert info.frames == 320 * meta["generated_frames"] > 0
        assert abs(meta["prompt_frames"] - prompt_frames) <= 2


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for opt in ("--top-k", "--best-of", "--use-kv-cache", "--continual", "--max-len-ratio", "--tsv",
                "--codec", "--output-rate", "--prompt-seconds"):
        assert opt in text
    assert "(default: 0.0)" in text and "(default: 16.0)" in text


def test_int8_and_dtype_options(nano_checkpoints, prompt_wav, tmp_path, caplog):
    """--quantize int8 runs the whole path with int8 linear maps; --dtype auto resolves to a concrete
    dtype (float32 on a CPU without native bf16) and, on a CPU, the AR's own (timed; an explicit dtype is
    kept for both); all are recorded in the sidecar."""
    from valle.utils.precision import cpu_info

    wav, sr, meta = _run(nano_checkpoints, prompt_wav, tmp_path / "q.wav", "--quantize", "int8")
    assert meta["quantize"] == "int8" and meta["generated_frames"] > 0
    assert wav.shape[0] == 320 * meta["generated_frames"]
    assert meta["dtype"] == meta["ar_dtype"] == "float32"  # int8 products take fp32 activations
    wav, sr, meta = _run(nano_checkpoints, prompt_wav, tmp_path / "a.wav")
    assert meta["dtype"] in ("float32", "bfloat16") and meta["ar_dtype"] in ("float32", meta["dtype"])
    if not cpu_info()["native_bf16"]:
        assert meta["dtype"] == meta["ar_dtype"] == "float32"
    # an explicit bf16 runs the AR (fused step) and NAR under autocast, warned about without native bf16
    wav, _, meta = _run(nano_checkpoints, prompt_wav, tmp_path / "b.wav", "--dtype", "bfloat16")
    assert meta["dtype"] == meta["ar_dtype"] == "bfloat16" and wav.shape[0] == 320 * meta["generated_frames"] > 0
    # int8 products take fp32 activations: with --quantize int8, auto means float32 (above, on every CPU)
    # and an explicit bf16 is refused with the fix
    with pytest.raises(SystemExit, match="--quantize int8 .* cannot run under --dtype bfloat16: use --dtype float32"):
        _run(nano_checkpoints, prompt_wav, tmp_path / "qb.wav", "--quantize", "int8", "--dtype", "bfloat16")
    assert cpu_info()["native_bf16"] or "without native bf16" in caplog.text
