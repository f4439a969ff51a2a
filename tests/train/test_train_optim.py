"""ScaledAdam and the learning-rate schedules: the facts each one promises."""
from __future__ import annotations

import math

import pytest
import torch

from valle.train.optim import ScaledAdam
from valle.train.schedulers import BudgetCosine, Cosine, Eden, Noam


def test_first_step_is_relative_to_parameter_rms():
    small = torch.nn.Parameter(torch.full((4, 4), 0.01))
    big = torch.nn.Parameter(torch.full((4, 4), 1.0))
    opt = ScaledAdam([small, big], lr=0.1, clipping_scale=None)
    g = torch.randn(4, 4)
    small.grad, big.grad = g.clone(), g.clone()
    opt.step()
    # Adam's first direction is sign(grad); ScaledAdam multiplies it by lr * RMS(param).
    assert torch.allclose(0.01 - small.detach(), 0.1 * 0.01 * g.sign(), atol=1e-7)
    assert torch.allclose(1.0 - big.detach(), 0.1 * 1.0 * g.sign(), atol=1e-6)


def test_scalars_use_plain_adam_and_are_clamped():
    s = torch.nn.Parameter(torch.tensor([9.99]))
    opt = ScaledAdam([s], lr=1.0, scalar_lr_scale=0.1, scalar_max=10.0, clipping_scale=None)
    s.grad = torch.tensor([-1.0])
    opt.step()
    assert float(s.detach()) == pytest.approx(10.0)  # 9.99 + 0.1 clamped at scalar_max


def test_clipping_at_multiple_of_median_norm():
    p = torch.nn.Parameter(torch.ones(10))
    opt = ScaledAdam([p], lr=1e-3, clipping_scale=2.0)
    for _ in range(5):
        p.grad = torch.full((10,), 1.0 / math.sqrt(10))  # norm 1
        opt.step()
        assert not opt.last_clipped
    p.grad = torch.full((10,), 100.0 / math.sqrt(10))  # norm 100 -> clipped to 2
    before = opt.state[p]["exp_avg"].clone()
    opt.step()
    assert opt.last_clipped and opt.last_grad_norm == pytest.approx(100.0)
    used = (opt.state[p]["exp_avg"] - 0.9 * before) / 0.1
    assert float(used.norm()) == pytest.approx(2.0, rel=1e-5)


def test_learned_scale_grows_a_tensor_the_loss_wants_bigger():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(64) * 0.1)
    target = p.detach() * 5  # same direction, 5x larger
    opt = ScaledAdam([p], lr=0.02, clipping_scale=None)
    for _ in range(200):
        opt.zero_grad()
        ((p - target) ** 2).sum().backward()
        opt.step()
    assert opt.state[p]["param_rms"] > 0.3
    assert float((p - target).norm()) < 0.2 * float(target.norm())


def test_state_dict_round_trip_continues_identically():
    torch.manual_seed(1)
    w0 = torch.randn(8, 8)
    runs = []
    for split in (False, True):
        w = torch.nn.Parameter(w0.clone())
        opt = ScaledAdam([w], lr=0.05)
        for i in range(12):
            if split and i == 6:
                sd = opt.state_dict()
                w = torch.nn.Parameter(w.detach().clone())
                opt = ScaledAdam([w], lr=0.05)
                opt.load_state_dict(sd)
            w.grad = torch.sin(w.detach() * (i + 1))
            opt.step()
        runs.append(w.detach())
    assert torch.equal(runs[0], runs[1])


def test_eden_formula_and_warmup():
    p = torch.nn.Parameter(torch.zeros(2, 2))
    opt = ScaledAdam([p], lr=0.05)
    sched = Eden(opt, lr_batches=5000, lr_epochs=4, warmup_batches=500, warmup_start=0.5)
    assert sched.get_last_lr()[0] == pytest.approx(0.05 * 0.5)
    sched.step_batch(250)
    f_b = ((250**2 + 5000**2) / 5000**2) ** -0.25
    assert sched.get_last_lr()[0] == pytest.approx(0.05 * f_b * 0.75)
    sched.step_batch(20000)
    sched.step_epoch(6)
    expect = 0.05 * ((20000**2 + 5000**2) / 5000**2) ** -0.25 * ((36 + 16) / 16) ** -0.25
    assert sched.get_last_lr()[0] == pytest.approx(expect)
    other = Eden(ScaledAdam([torch.nn.Parameter(torch.zeros(2))], lr=0.05), 5000, 4)
    other.load_state_dict(sched.state_dict())
    assert other.get_last_lr()[0] == pytest.approx(expect)


def test_noam_peaks_at_base_lr_and_cosine_reaches_minimum():
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    noam = Noam(opt, warmup_batches=100)
    lrs = []
    for b in range(1, 400):
        noam.step_batch(b)
        lrs.append(noam.get_last_lr()[0])
    assert max(lrs) == pytest.approx(1e-3) and lrs.index(max(lrs)) == 99
    assert lrs[-1] == pytest.approx(1e-3 * (100 / 399) ** 0.5)
    opt2 = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    cos = Cosine(opt2, total_batches=1000, warmup_batches=10, min_ratio=0.01)
    cos.step_batch(10)
    assert cos.get_last_lr()[0] == pytest.approx(1e-3)
    cos.step_batch(505)
    assert cos.get_last_lr()[0] == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))
    cos.step_batch(5000)
    assert cos.get_last_lr()[0] == pytest.approx(1e-5)


def test_budget_cosine_warms_up_by_steps_then_follows_the_share_of_the_budget_spent():
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    cos = BudgetCosine(opt, warmup_batches=10, min_ratio=0.01)
    cos.spent = 0.3
    cos.step_batch(4)  # warm-up goes by steps, whatever share is spent
    assert cos.get_last_lr()[0] == pytest.approx(0.5e-3)
    for spent, factor in ((0.0, 1.0), (0.5, 0.01 + 0.99 * 0.5), (1.0, 0.01), (1.7, 0.01)):
        cos.spent = spent
        cos.step_batch(100)
        assert cos.get_last_lr()[0] == pytest.approx(1e-3 * factor)
    state = cos.state_dict()
    resumed = BudgetCosine(torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3), warmup_batches=10)
    resumed.load_state_dict(state)  # a resumed run starts its own budget: back at base_lr (a warm restart)
    assert resumed.get_last_lr()[0] == pytest.approx(1e-3)
