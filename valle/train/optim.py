"""ScaledAdam: Adam whose step size is relative to each parameter's own RMS.

Why (facts from the Zipformer paper and icefall's optimizer, re-implemented here):
- A plain Adam step of size ``lr`` is huge for a tensor whose entries are ~0.01 and tiny for
  one whose entries are ~1. Scaling the normalised Adam direction by the parameter's RMS makes
  ``lr`` mean "relative change per step", so one learning rate fits every tensor.
- Because the direction is RMS-scaled, a tensor could never change its overall size; a learned
  per-tensor scale (an Adam update on the log of the tensor's scale, driven by
  ``sum(grad * param)``) restores that freedom. The RMS is kept within
  ``[param_min_rms, param_max_rms]``.
- Scalars and one-element tensors get a plain Adam step at ``lr * scalar_lr_scale``, clamped to
  ``[-scalar_max, scalar_max]``.
- Gradients are clipped at ``clipping_scale`` times the median total gradient norm of the
  recent ``clipping_update_period`` steps, which adapts to the loss's scale instead of needing a
  hand-tuned absolute threshold.
"""
from __future__ import annotations

import math
from typing import Iterable, List, Optional

import torch
from torch.optim import Optimizer


class ScaledAdam(Optimizer):
    """See the module docstring. ``step()`` also records ``last_grad_norm`` and ``last_clipped``."""

    def __init__(
        self,
        params: Iterable,
        lr: float = 0.05,
        clipping_scale: Optional[float] = 2.0,
        betas=(0.9, 0.98),
        scalar_lr_scale: float = 0.1,
        eps: float = 1.0e-8,
        param_min_rms: float = 1.0e-5,
        param_max_rms: float = 3.0,
        scalar_max: float = 10.0,
        size_update_period: int = 4,
        clipping_update_period: int = 100,
    ):
        if lr <= 0:
            raise ValueError(f"ScaledAdam: lr must be > 0, got {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"ScaledAdam: betas must be in [0, 1), got {betas}")
        if clipping_scale is not None and clipping_scale <= 0:
            raise ValueError(f"ScaledAdam: clipping_scale must be > 0 or None, got {clipping_scale}")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            scalar_lr_scale=scalar_lr_scale,
            eps=eps,
            param_min_rms=param_min_rms,
            param_max_rms=param_max_rms,
            scalar_max=scalar_max,
            size_update_period=size_update_period,
        )
        super().__init__(params, defaults)
        self.clipping_scale = clipping_scale
        self.clipping_update_period = clipping_update_period
        # Recent total gradient norms (before clipping) for the median-based threshold.
        self.grad_norm_history: List[float] = []
        self.num_clipped = 0
        self.last_grad_norm = 0.0
        self.last_clipped = False

    # -- clipping -------------------------------------------------------------------------
    def _total_grad_norm(self) -> float:
        sq = 0.0
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    sq += float(p.grad.detach().float().pow(2).sum())
        return math.sqrt(sq)

    def _clip_factor(self, norm: float) -> float:
        """Multiplier for this step's gradients (1.0 = no clipping)."""
        self.last_grad_norm = norm
        factor = 1.0
        if self.clipping_scale is not None and self.grad_norm_history:
            hist = sorted(self.grad_norm_history)
            median = hist[len(hist) // 2]
            threshold = self.clipping_scale * median
            if norm > threshold > 0:
                factor = threshold / norm
        if math.isfinite(norm):
            self.grad_norm_history.append(norm)
            del self.grad_norm_history[: -self.clipping_update_period]
        self.last_clipped = factor < 1.0
        self.num_clipped += int(self.last_clipped)
        return factor

    # -- update ---------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        clip = self._clip_factor(self._total_grad_norm())
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("ScaledAdam does not support sparse gradients")
                grad = p.grad.float() * clip if clip != 1.0 else p.grad.float()
                state = self.state[p]
                if len(state) == 0:
                    self._init_state(p, state)
                if p.numel() == 1:
                    self._step_scalar(group, p, grad, state)
                else:
                    self._step_tensor(group, p, grad, state)
        return loss

    @staticmethod
    def _init_state(p: torch.Tensor, state: dict) -> None:
        state["step"] = 0
        state["exp_avg"] = torch.zeros_like(p, dtype=torch.float32, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, dtype=torch.float32, memory_format=torch.preserve_format)
        if p.numel() > 1:
            rms = p.detach().float().pow(2).mean().sqrt()
            state["param_rms"] = rms.reshape(1)
            state["scale_grads"] = torch.zeros(0, dtype=torch.float32, device=p.device)
            state["scale_exp_avg_sq"] = torch.zeros(1, dtype=torch.float32, device=p.device)
            state["scale_step"] = 0

    def _adam_direction(self, group: dict, grad: torch.Tensor, state: dict) -> torch.Tensor:
        beta1, beta2 = group["betas"]
        state["step"] += 1
        step = state["step"]
        state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias1 = 1 - beta1**step
        bias2 = 1 - beta2**step
        denom = (state["exp_avg_sq"] / bias2).sqrt_().add_(group["eps"])
        return (state["exp_avg"] / bias1) / denom

    def _step_scalar(self, group: dict, p: torch.Tensor, grad: torch.Tensor, state: dict) -> None:
        direction = self._adam_direction(group, grad, state)
        lr = group["lr"] * group["scalar_lr_scale"]
        new = (p.float() - lr * direction).clamp_(-group["scalar_max"], group["scalar_max"])
        p.copy_(new.to(p.dtype))

    def _step_tensor(self, group: dict, p: torch.Tensor, grad: torch.Tensor, state: dict) -> None:
        lr = group["lr"]
        period = group["size_update_period"]
        # d(loss)/d(log scale of p): how the loss changes if the whole tensor grows.
        scale_grad = (grad * p.float()).sum().reshape(1)
        state["scale_grads"] = torch.cat([state["scale_grads"], scale_grad])
        if state["scale_grads"].numel() >= period:
            self._update_scale(group, p, state)
        direction = self._adam_direction(group, grad, state)
        p.add_((-lr * state["param_rms"] * direction).to(p.dtype))

    def _update_scale(self, group: dict, p: torch.Tensor, state: dict) -> None:
        """Every ``size_update_period`` steps: Adam step on the tensor's log-scale, then refresh its RMS."""
        beta1, beta2 = group["betas"]
        grads = state["scale_grads"]
        n = grads.numel()
        state["scale_grads"] = grads.new_zeros(0)
        state["scale_step"] += 1
        k = state["scale_step"]
        decay = beta2**n
        state["scale_exp_avg_sq"].mul_(decay).add_((grads**2).mean() * (1 - decay))
        bias2 = 1 - decay**k
        denom = (state["scale_exp_avg_sq"] / bias2).sqrt() + group["eps"]
        size_lr = group["lr"] * group["scalar_lr_scale"]
        # Summed over the period: the change in log-scale equals n steps of size_lr.
        scale_step = -size_lr * n * grads.mean() / denom
        rms = state["param_rms"]
        # Keep the RMS inside its bounds: no shrinking below min, no growing above max.
        if float(rms) <= group["param_min_rms"]:
            scale_step = scale_step.clamp(min=0.0)
        if float(rms) >= group["param_max_rms"]:
            scale_step = scale_step.clamp(max=0.0)
        scale_step = scale_step.clamp(-0.5, 0.5)
        p.mul_((1.0 + scale_step).to(p.dtype))
        new_rms = p.detach().float().pow(2).mean().sqrt()
        state["param_rms"] = new_rms.clamp(group["param_min_rms"], group["param_max_rms"]).reshape(1)

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        sd = super().state_dict()
        sd["clipping"] = {
            "grad_norm_history": list(self.grad_norm_history),
            "num_clipped": self.num_clipped,
        }
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        clipping = state_dict.pop("clipping", None)
        super().load_state_dict(state_dict)
        if clipping is not None:
            self.grad_norm_history = [float(x) for x in clipping["grad_norm_history"]]
            self.num_clipped = int(clipping["num_clipped"])
