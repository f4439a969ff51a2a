"""Batched synthesis (valle/infer/batch_synthesis.py, ``valle.bin.infer --tsv --batch-size N``): greedy
codes of every sentence decoded in a batch equal its codes decoded alone, on the tiny trained
checkpoint (its AR never says end-of-speech, so each item stops at its own length guard: the items
finish at different steps), real espeak-ng text, real prompts of different lengths (and none), and
the real Encodec architecture with random weights."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from valle.bin.infer import main
from valle.infer import SamplingOptions, Synthesizer
from valle.infer.batch_synthesis import BatchRowError, synthesize_batched

PROMPT_TEXT = "The museum keeps its oldest maps in a dark room."


@pytest.fixture(scope="module")
def synth(nano_checkpoints):
    return Synthesizer.from_checkpoints(checkpoint=nano_checkpoints["both"], codec="encodec:random")


def test_batched_greedy_codes_equal_each_sentence_alone(synth, prompt_wav):
    long_prompt = synth.prompt_codes(str(prompt_wav))  # encoded once: the test is about the model
    short_prompt = long_prompt[:60]  # prompts of different lengths (and none) in one batch
    requests = [
        dict(text="Seven geese flew low over the frozen lake.", prompt_text=PROMPT_TEXT, prompt_audio=long_prompt),
        dict(text="Hello there.", prompt_text="The museum keeps", prompt_audio=short_prompt),
        dict(text="Please put the green folder on the second shelf. Could you read it again?",
             max_sentence_chars=50, prompt_text=PROMPT_TEXT, prompt_audio=long_prompt),  # two chunks
        dict(text="The kettle began to sing.", continual=True, prompt_text=PROMPT_TEXT, prompt_audio=short_prompt),
        dict(text="Could you read the last line of the letter again?"),  # no prompt at all
    ]
    opts = SamplingOptions(top_k=1, max_len_ratio=0.3)
    batched = {}
    synthesize_batched(synth, requests, opts, 4, lambda i, r: batched.setdefault(i, r))
    assert sorted(batched) == list(range(len(requests)))
    frames = set()
    for i, req in enumerate(requests):
        alone = synth.synthesize(options=opts, **req)
        got = batched[i]
        assert torch.equal(got.codes, alone.codes), f"request {i}: batched codes differ from alone"
        assert got.chunk_frames == alone.chunk_frames and got.chunks == alone.chunks
        assert got.length_guard_hits == alone.length_guard_hits
        assert got.prompt_frames == alone.prompt_frames
        assert torch.equal(got.wav, alone.wav)
        assert got.compute_seconds > 0
        frames.update(alone.chunk_frames)
    assert len(frames) >= 4  # the items really stopped at different steps
    assert len(batched[2].chunks) == 2 and batched[3].prompt_frames > 0
    assert batched[3].codes.shape[0] == batched[3].prompt_frames + batched[3].generated_frames  # continual


def test_bad_request_is_named_before_any_model_work(synth):
    requests = [dict(text="Hello there."), dict(text="   ,;  ")]
    seen = []
    with pytest.raises(BatchRowError) as err:
        synthesize_batched(synth, requests, SamplingOptions(top_k=1), 2, lambda i, r: seen.append(i))
    assert err.value.index == 1 and seen == []


def test_tsv_batch_size_gives_the_row_by_row_files(synth, nano_checkpoints, prompt_wav, tmp_path):
    rows = [(PROMPT_TEXT, prompt_wav, "Seven geese flew low.", "b/one.wav"),
            ("", "", "Please put the green folder on the second shelf.", "b/two.wav"),
            (PROMPT_TEXT, prompt_wav, "Hello there.", "b/three.wav")]  # the same prompt, encoded once
    tsv = tmp_path / "list.tsv"
    tsv.write_text("".join(f"{a}\t{b}\t{c}\t{d}\n" for a, b, c, d in rows))
    base = ["--checkpoint", str(nano_checkpoints["both"]), "--codec", "encodec:random", "--tsv", str(tsv),
            "--max-len-ratio", "0.3", "--top-k", "1",
            "--dtype", "float32"]  # as the fixture: on a CPU with native bf16 auto runs the NAR in bf16
    assert main(base + ["--batch-size", "2"]) == 0
    for prompt_text, prompt, text, name in rows:  # what --batch-size 1 writes: each row alone
        alone = synth.synthesize(text, prompt_text=prompt_text, prompt_audio=str(prompt) if prompt else None,
                                 options=SamplingOptions(top_k=1, max_len_ratio=0.3))
        wav, _ = sf.read(str(tmp_path / name), dtype="float32")
        meta = json.loads((tmp_path / name).with_suffix(".json").read_text())
        assert meta["batch_size"] == 2 and meta["generated_frames"] == alone.generated_frames > 0
        assert np.abs(wav - alone.wav.clamp(-1, 1).numpy()).max() <= 1 / 32768
    tsv.write_text("\t\tHello.\tb/x.wav\n\t\t ,; \tb/y.wav\n")
    with pytest.raises(SystemExit, match=r"--tsv line 2\): .*symbol table"):
        main(base + ["--batch-size", "2"])
    with pytest.raises(SystemExit, match="--batch-size must be >= 1"):
        main(base + ["--batch-size", "0"])
