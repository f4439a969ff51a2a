"""bench/learn.py's budget split: the AR and the NAR trained apart share each CPU budget."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "learn.py"


def _learn():
    spec = importlib.util.spec_from_file_location("bench_learn", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_budget_split_between_the_stages_adds_up_and_zero_means_one_joint_model():
    learn = _learn()
    assert learn.stage_budgets(1200, 0.2) == [(1, 240.0), (2, 960.0)]  # AR alone, then NAR alone
    ar, nar = learn.stage_budgets(300, 0.35)
    assert ar[0] == 1 and nar[0] == 2 and ar[1] + nar[1] == pytest.approx(300)
    assert learn.stage_budgets(600, 0) == [(0, 600)]  # AR+NAR together (--train-stage 0)
    assert {learn.STAGE_NAMES[s] for s, _ in learn.stage_budgets(60, 0.5)} == {"ar", "nar"}  # one exp dir each
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="--ar-fraction"):
            learn.stage_budgets(60, bad)


def test_a_rerun_scores_each_budget_with_the_checkpoint_it_had_then(tmp_path):
    """A rerun trains nothing for budgets already reached and returns each one's own checkpoint
    (before, every budget of a rerun got the newest model); a budget it passed without a record
    stops with the fix instead of scoring the wrong model."""
    import json

    learn = _learn()
    exp = tmp_path / "ar"
    exp.mkdir()
    (exp / learn.SPENT_FILE).write_text(json.dumps(
        {"cpu_seconds": 400.5, "checkpoints": {"120": ["checkpoint-508.pt", 120.2], "240": ["checkpoint-986.pt", 240.1],
                                               "400": ["checkpoint-1667.pt", 400.5]}}))
    assert learn.train_stage(exp, 1, 120.0, None) == (str(exp / "checkpoint-508.pt"), 120.2)
    assert learn.train_stage(exp, 1, 400.0, None) == (str(exp / "checkpoint-1667.pt"), 400.5)
    with pytest.raises(SystemExit, match="past the budget of 300.*new --work-dir"):
        learn.train_stage(exp, 1, 300.0, None)


def test_the_ar_and_the_nar_train_side_by_side_each_on_its_own_cpu_budget(tmp_path):
    """Both stages of a budget train at once in processes of their own; each exp dir records the CPU
    seconds its own process used (at least its budget: the trainer stops after it), and a rerun of the
    same budget returns the recorded checkpoints without training again."""
    import argparse
    import json
    import re
    import shutil

    from tests.prepared_corpus import prepare_in_process
    from valle.bin import split_and_report
    from valle.demo.grammar import split_sentences
    from valle.demo.make_corpus import GRAMMAR_VOICES, speak_sentences

    learn = _learn()
    work = tmp_path / "learn"
    corpus, manifests, tokenized = tmp_path / "corpus", work / "data" / "manifests", work / "data" / "tokenized"
    speak_sentences(shutil.which("espeak-ng"), corpus, GRAMMAR_VOICES[:1], split_sentences(10, 0)[0][:6], True, 1)
    prepare_in_process(corpus, manifests, tokenized, codec="codec2:1200")
    split_and_report.main(["--tokenized-dir", str(tokenized), "--manifests-dir", str(manifests), "--dev-size", "1",
                           "--test-size", "0", "--filter-min-duration", "0.1"])
    args = argparse.Namespace(work_dir=work, model=["--model-preset", "nano", "--filter-min-duration", "0.1"],
                              max_duration=20.0, seed=1, threads=1)
    budgets = {1: 2.0, 2: 4.0}
    jobs = [(work / "exp" / learn.STAGE_NAMES[s], s, seconds) for s, seconds in budgets.items()]
    done = learn.train_stages(jobs, args, side_by_side=True)
    assert set(done) == {1, 2}
    for exp, stage, seconds in jobs:
        checkpoint, used = done[stage]
        assert Path(checkpoint).is_file() and Path(checkpoint).parent == exp
        assert used >= seconds  # the child's own CPU time, not the parent's (which trains nothing)
        record = json.loads((exp / learn.SPENT_FILE).read_text())
        assert record["cpu_seconds"] == used and record["checkpoints"][f"{seconds:g}"] == [Path(checkpoint).name, used]
        assert re.search(r"--max-cpu-seconds [\d.]+ reached", (exp / "train.log").read_text())  # the budget stopped it
    assert learn.train_stages(jobs, args, side_by_side=True) == done  # recorded: nothing trains again
    # What the NAR alone loses: the held-out audio's own codebook 0 through the trained NAR, decoded to
    # one codec frame of audio per codebook-0 frame.
    import soundfile as sf

    from valle.infer.synthesizer import Synthesizer

    synth = Synthesizer.from_checkpoints(ar_checkpoint=done[1][0], nar_checkpoint=done[2][0], device="cpu")
    prompt_id = learn.prompt_of({"id": "2001_1_000001", "speaker": "2001"}, "first", 6)
    assert prompt_id == "2001_1_000000"
    held = sorted(corpus.rglob("*.wav"))[-1]
    wav, sr = sf.read(str(held), dtype="float32")
    true = synth.codec.encode(wav, sr).long()
    out = learn.nar_alone(synth, "place red ball near one please", "place blue box behind five again",
                          synth.prompt_codes(str(learn.wav_of(corpus, prompt_id))), true)
    assert out.ndim == 1 and len(out) == true.shape[0] * synth.codec.sample_rate // synth.codec.frame_rate


def test_each_heldout_utterance_gets_its_own_prompt_of_its_voice_unless_asked_for_the_first():
    learn = _learn()
    items = [{"id": f"{spk}_1_{k:06d}", "speaker": spk} for spk in ("2001", "2003") for k in range(3)]
    per = [learn.prompt_of(it, "per-utterance", 1200) for it in items]
    assert per == [it["id"] for it in items]  # sentence k of a voice: that voice's corpus utterance k
    assert {learn.prompt_of(it, "first", 1200) for it in items} == {"2001_1_000000", "2003_1_000000"}
    # more held-out sentences than the corpus has: the prompts go round again, never past its end
    assert [learn.prompt_of(it, "per-utterance", 2) for it in items][:3] == ["2001_1_000000", "2001_1_000001",
                                                                            "2001_1_000000"]


def test_voice_centroids_hold_no_prompt_of_a_heldout_item():
    learn = _learn()
    items = [{"id": f"2001_1_{k:06d}", "speaker": "2001"} for k in range(25)]
    prompts = {learn.prompt_of(it, "per-utterance", 1200) for it in items}
    ids = learn.centroid_utterances("2001", prompts, 1200)
    assert len(ids) == learn.VOICE_RECORDINGS and not set(ids) & prompts
    assert ids[0] == "2001_1_001199"  # the corpus's last utterances
    # a corpus whose every utterance prompts an item: its last ones all the same (a centroid is still needed)
    assert learn.centroid_utterances("2001", {f"2001_1_{k:06d}" for k in range(3)}, 3) == [
        "2001_1_000002", "2001_1_000001", "2001_1_000000"]


def test_voice_scores_of_the_heldout_recordings_identify_their_voices(tmp_path):
    """bench/learn.py's speaker part on a real grammar corpus (espeak-ng voices): each held-out recording's
    prompt is embedded, and the recordings themselves are nearest to their own voice."""
    import argparse

    import soundfile as sf

    from valle.demo import make_corpus

    learn = _learn()
    corpus, heldout = tmp_path / "corpus", tmp_path / "heldout"
    make_corpus.main(["--output-dir", str(corpus), "--heldout-dir", str(heldout), "--sentences", "grammar",
                      "--num-sentences", "10", "--num-heldout", "2", "--num-voices", "2"])
    items = learn.read_heldout(heldout)
    args = argparse.Namespace(prompts="per-utterance", num_sentences=10)
    matcher, prompts = learn.voice_matcher(corpus, items, args)
    assert len(prompts) == len(items) == 4 and all(p is not None for p in prompts)
    assert set(matcher.centroids) == {it["speaker"] for it in items}
    wavs = [sf.read(str(learn.wav_of(heldout, it["id"])), dtype="float32") for it in items]
    scores = matcher.score(wavs, [it["speaker"] for it in items], prompts)
    assert scores["voice_identified"] == 1.0 and scores["not_embedded"] == 0
    assert scores["sim_own_voice"] > scores["sim_other_voices"]


def test_code_agreement_counts_equal_items_and_equal_codebook0_frames():
    import torch

    learn = _learn()
    ref = [torch.zeros(4, 2, dtype=torch.long), torch.arange(6).view(3, 2), torch.ones(2, 2, dtype=torch.long)]
    other = [ref[0].clone(), torch.tensor([[0, 1], [9, 3], [4, 5]]), torch.ones(3, 2, dtype=torch.long)]
    got = learn.code_agreement(other, ref)
    # item 0 equal; item 1: frame 1's codebook 0 differs; item 2: one frame longer (counted as unequal)
    assert got == {"items_with_equal_codes": 1, "items": 3, "codebook0_frames_equal": round((4 + 2 + 2) / 10, 4)}
