"""Training faults and bad input: NaN batches, symbol mismatch, empty manifest, max-duration,
truncated checkpoints, SIGKILL during a checkpoint write (nano model, tiny lhotse corpus)."""
from __future__ import annotations

import json
import logging

import pytest
import torch

from robust_helpers import assert_killed, copy_tree, leftovers, run_module
from robust_train_data import PHONES, train_args
from valle.bin.train import main as train_main
from valle.train.checkpoint import CheckpointError, list_checkpoints, load_checkpoint, load_latest

REF_OPTS = ("--num-epochs", "2", "--save-every-n", "2", "--keep-last-k", "0", "--dropout", "0.1")


def _steps(exp):
    return {r["step"]: r for r in map(json.loads, (exp / "steps.jsonl").read_text().splitlines())}


@pytest.fixture(scope="module")
def reference(train_dir, tmp_path_factory):
    """An uninterrupted 2-epoch run with a checkpoint every 2 steps."""
    exp = tmp_path_factory.mktemp("ref") / "exp"
    train_main(train_args(train_dir, exp, *REF_OPTS))
    assert len(_steps(exp)) >= 5
    return exp


class PoisonBatches:
    """A forward hook that turns the AR text embedding into NaN for chosen training batches."""

    def __init__(self, which):
        self.which, self.calls = which, 0

    def __call__(self, module, inputs, output):
        if not module.training:
            return output
        self.calls += 1
        return output * float("nan") if self.which(self.calls) else output


def _trainer(train_dir, exp, *extra):
    from valle.train.options import parse_args
    from valle.train.trainer import Trainer

    return Trainer(parse_args(train_args(train_dir, exp, *extra)))


def test_nan_batch_is_skipped_and_logged(train_dir, tmp_path, caplog):
    trainer = _trainer(train_dir, tmp_path / "exp", "--num-epochs", "1")
    hook = PoisonBatches(lambda n: n == 2)
    trainer.model.ar_text_embedding.register_forward_hook(hook)
    caplog.set_level(logging.WARNING)
    trainer.fit()
    assert hook.calls >= 3
    assert "inf/NaN loss" in caplog.text and "batch skipped (1 in a row)" in caplog.text
    steps = _steps(tmp_path / "exp")
    assert len(steps) == hook.calls - 1, "the poisoned batch made no optimizer step"
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    saved = load_checkpoint(tmp_path / "exp" / "epoch-1.pt")
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())


def test_nan_batches_in_a_row_stop_training(train_dir, tmp_path):
    from valle.train.trainer import TrainingStopped

    trainer = _trainer(train_dir, tmp_path / "exp", "--num-epochs", "1", "--max-bad-batches", "2",
                       "--save-every-n", "1")
    trainer.model.ar_text_embedding.register_forward_hook(PoisonBatches(lambda n: True))
    with pytest.raises(TrainingStopped, match="2 inf/NaN batches in a row.*--max-bad-batches"):
        trainer.fit()
    assert list_checkpoints(tmp_path / "exp") == [], "no checkpoint of a diverged model"


def test_init_from_with_missing_symbols_names_them(train_dir, tmp_path):
    from valle.models import VALLE, get_preset
    from valle.train.checkpoint import save_checkpoint

    table = ["<pad>", "<unk>"] + [p for p in PHONES if p not in ("s", "t")]
    config = get_preset("nano", text_vocab_size=len(table))
    ckpt = save_checkpoint(tmp_path / "other.pt", model=VALLE(config).state_dict(), model_config=config.to_dict(),
                           text_symbols=table, train_stage=0)
    with pytest.raises(ValueError) as e:
        train_main(train_args(train_dir, tmp_path / "exp", "--init-from", str(ckpt)))
    msg = str(e.value)
    assert str(ckpt) in msg and "lacks 2 symbol(s)" in msg and ": s t." in msg and "--init-mismatch resize" in msg


def test_empty_train_manifest_is_a_clear_error(train_dir, tmp_path):
    from lhotse import CutSet

    empty = tmp_path / "cuts_empty.jsonl.gz"
    CutSet.from_cuts([]).to_file(empty)
    with pytest.raises(ValueError, match=r"--train-cuts .*cuts_empty\.jsonl\.gz: the CutSet is empty"):
        train_main(train_args(train_dir, tmp_path / "exp", "--train-cuts", str(empty)))
    assert not (tmp_path / "exp").exists() or not list_checkpoints(tmp_path / "exp")


def test_max_duration_smaller_than_every_cut_is_a_clear_error(train_dir, tmp_path):
    # every cut is 40-80 frames = 0.53-1.07 s
    args = train_args(train_dir, tmp_path / "exp")
    args[args.index("--max-duration") + 1] = "0.3"
    with pytest.raises(ValueError, match=r"--max-duration 0\.3 s is shorter than the longest cut"):
        train_main(args)


def test_truncated_checkpoint_is_named_and_resume_falls_back(reference, train_dir, tmp_path, caplog):
    exp = copy_tree(reference, tmp_path / "exp")
    newest = list_checkpoints(exp)[0]
    previous = list_checkpoints(exp)[1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=f"checkpoint {newest} cannot be read.*truncated"):
        load_checkpoint(newest)
    with pytest.raises(CheckpointError, match=str(newest)):
        train_main(train_args(train_dir, exp, "--resume", str(newest)))
    caplog.set_level(logging.WARNING)
    path, ckpt = load_latest(exp)
    assert path == previous and "step" in ckpt
    assert str(newest) in caplog.text and "falling back" in caplog.text
    # training itself resumes from the newest readable step: truncated files of later steps (every file of the
    # last step here, so the resume goes back to an earlier checkpoint-<n>.pt) are not another run's checkpoints
    steps = {p: load_checkpoint(p)["step"] for p in list_checkpoints(exp) if p != newest}
    for p, step in steps.items():
        if step == max(steps.values()):
            p.write_bytes(p.read_bytes()[:1000])
    train_main(train_args(train_dir, exp, *REF_OPTS))
    assert _steps(exp).keys() == _steps(reference).keys()


@pytest.mark.parametrize("commit,truncate", [(2, True), (3, False)], ids=["mid-write", "epoch-2"])
def test_sigkill_during_checkpoint_write_then_resume_matches(reference, train_dir, tmp_path, commit, truncate):
    """mid-write: the 2nd checkpoint-<step>.pt (step 4) is cut in half and the process killed before
    the rename, so training resumes mid-epoch 1 from step 2; epoch-2: killed in the second epoch as
    checkpoint-6.pt is written, so it resumes from the end-of-epoch checkpoint epoch-1.pt."""
    exp = tmp_path / "exp"
    args = train_args(train_dir, exp, *REF_OPTS)
    proc = run_module("valle.bin.train", args, kill_before_commit=commit, match=r"^checkpoint-\d+\.pt$",
                      truncate_tmp=truncate)
    assert_killed(proc)
    assert len([p for p in list_checkpoints(exp) if p.name.startswith("checkpoint-")]) == commit - 1
    assert leftovers(exp), "the temporary file of the interrupted write is what a real kill leaves"
    train_main(args)  # --resume auto: from the newest complete checkpoint
    assert not leftovers(exp), "the rerun removes the interrupted write's temporary file"
    ref_steps, got = _steps(reference), _steps(exp)
    assert sorted(got) == sorted(ref_steps)
    for step, rec in ref_steps.items():
        assert abs(got[step]["loss"] - rec["loss"]) <= 1e-6, step
    a = load_checkpoint(reference / "epoch-2.pt")["model"]
    b = load_checkpoint(exp / "epoch-2.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_auto_with_only_unreadable_checkpoints_refuses_to_start_over(reference, train_dir, tmp_path):
    exp = copy_tree(reference, tmp_path / "exp")
    for path in list_checkpoints(exp):
        path.write_bytes(path.read_bytes()[:1000])
    before = {p.name: p.read_bytes() for p in exp.iterdir() if p.is_file()}
    with pytest.raises(ValueError, match=r"--resume auto: none of the \d+ checkpoint\(s\) in .* --resume none"):
        train_main(train_args(train_dir, exp, *REF_OPTS))
    after = {p.name: p.read_bytes() for p in exp.iterdir() if p.is_file()}
    assert after == before, "nothing in the experiment dir is overwritten"


def test_a_new_run_or_an_older_resume_among_later_checkpoints_is_refused(reference, train_dir, tmp_path):
    """--resume none, or --resume PATH below checkpoints already in --exp-dir: keep-last-k keeps the highest
    numbers, so it would delete each new save, and --resume auto would later continue the other run."""
    exp = copy_tree(reference, tmp_path / "exp")
    before = {p.name: p.read_bytes() for p in exp.iterdir() if p.is_file()}
    batch = sorted((p for p in list_checkpoints(exp) if p.name.startswith("checkpoint-")),
                   key=lambda p: int(p.stem.split("-")[1]))
    assert len(batch) >= 2
    with pytest.raises(ValueError, match=r"starts over \(--resume none\) in --exp-dir .*keep-last-k.*another --exp-dir"):
        train_main(train_args(train_dir, exp, *REF_OPTS, "--resume", "none"))
    with pytest.raises(ValueError, match=rf"resumes from {batch[0]} .*{batch[-1].name}"):
        train_main(train_args(train_dir, exp, *REF_OPTS, "--resume", str(batch[0])))
    assert {p.name: p.read_bytes() for p in exp.iterdir() if p.is_file()} == before


def _valid_steps(exp):
    return [json.loads(line)["step"] for line in (exp / "valid.jsonl").read_text().splitlines()]


def test_validation_lines_after_the_resumed_checkpoint_are_not_written_twice(train_dir, tmp_path):
    """Validating every step and saving every second one, killed as checkpoint-4 is committed: the run
    resumes from step 2 and validates steps 3 and 4 again; valid.jsonl is cut back as steps.jsonl is."""
    opts = ("--num-epochs", "1", "--save-every-n", "2", "--keep-last-k", "0", "--valid-interval", "1")
    reference = tmp_path / "reference"
    train_main(train_args(train_dir, reference, *opts))
    exp = tmp_path / "exp"
    args = train_args(train_dir, exp, *opts)
    assert_killed(run_module("valle.bin.train", args, kill_before_commit=2, match=r"^checkpoint-\d+\.pt$"))
    assert 3 in _valid_steps(exp), "the killed run had validated past its last checkpoint"
    train_main(args)
    assert _valid_steps(exp) == _valid_steps(reference) == sorted(set(_valid_steps(reference)))
    # (step 4 ends the epoch and is a --valid-interval step: validated once, not twice)


def test_a_run_killed_inside_its_cpu_budget_resumes_with_what_is_left_of_it(train_dir, tmp_path, caplog):
    """--max-cpu-seconds counts this process's CPU time; the checkpoint records the budget's seconds spent, so a
    killed run resumed with the same budget goes on with what is left (here: almost nothing) instead of a new
    full budget, while a run that ended by spending it starts a new one when resumed (a warm restart)."""
    exp = tmp_path / "exp"
    opts = ("--max-cpu-seconds", "1000", "--save-every-n", "1", "--keep-last-k", "0")
    train_main(train_args(train_dir, exp, *opts, "--max-steps", "2"))
    path = exp / "checkpoint-2.pt"
    ckpt = load_checkpoint(path)
    state = ckpt["train_state"]
    assert state["cpu_budget"] == 1000 and state["budget_done"] is False and 0 < state["cpu_seconds"] < 1000
    state["cpu_seconds"] = 999.99  # as if killed with a hundredth of a second of the budget left
    torch.save(ckpt, path)
    caplog.set_level(logging.INFO)
    train_main(train_args(train_dir, exp, *opts, "--max-steps", "50"))
    assert "budget with 1000.0 CPU-s already spent" in caplog.text and "--max-cpu-seconds 1000 reached" in caplog.text
    final = max(int(p.stem.split("-")[1]) for p in exp.glob("checkpoint-*.pt"))
    assert final < 10  # (a new full budget would have run to --max-steps 50)
    assert load_checkpoint(exp / f"checkpoint-{final}.pt")["train_state"]["budget_done"] is True

