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
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return 0.0
        norms = torch._foreach_norm([g.float() if g.dtype != torch.float32 else g for g in grads])
        return float(torch.linalg.vector_norm(torch.stack(norms)))

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
            tensors, scalars = [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("ScaledAdam does not support sparse gradients")
                state = self.state[p]
                if len(state) == 0:
                    self._init_state(p, state, group)
                (scalars if p.numel() == 1 else tensors).append(p)
            grads = [p.grad.float() for p in tensors + scalars]
            if clip != 1.0 and grads:
                torch._foreach_mul_(grads, clip)
            n = len(tensors)
            if tensors:
                self._step_tensors(group, tensors, grads[:n])
            if scalars:
                self._step_scalars(group, scalars, grads[n:])
        return loss

    @staticmethod
    def _init_state(p: torch.Tensor, state: dict, group: dict) -> None:
        state["step"] = 0
        state["exp_avg"] = torch.zeros_like(p, dtype=torch.float32, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, dtype=torch.float32, memory_format=torch.preserve_format)
        if p.numel() > 1:
            rms = float(p.detach().float().pow(2).mean().sqrt())
            state["param_rms"] = min(max(rms, group["param_min_rms"]), group["param_max_rms"])
            state["scale_grads"] = torch.zeros(group["size_update_period"], dtype=torch.float32, device=p.device)
            state["scale_exp_avg_sq"] = 0.0
            state["scale_step"] = 0

    def _adam_directions(self, group: dict, params: List[torch.Tensor], grads: List[torch.Tensor]):
        """Bias-corrected Adam directions m/(sqrt(v)+eps), one per parameter (foreach for speed)."""
        beta1, beta2 = group["betas"]
        states = [self.state[p] for p in params]
        for st in states:
            st["step"] += 1
        exp_avgs = [st["exp_avg"] for st in states]
        exp_avg_sqs = [st["exp_avg_sq"] for st in states]
        torch._foreach_mul_(exp_avgs, beta1)
        torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, [math.sqrt(1 - beta2 ** st["step"]) for st in states])
        torch._foreach_add_(denom, group["eps"])
        directions = torch._foreach_div(exp_avgs, denom)
        bias1 = [1 - beta1 ** st["step"] for st in states]
        return directions, bias1, states

    def _step_scalars(self, group: dict, params: List[torch.Tensor], grads: List[torch.Tensor]) -> None:
        directions, bias1, _ = self._adam_directions(group, params, grads)
        lr = group["lr"] * group["scalar_lr_scale"]
        for p, d, b in zip(params, directions, bias1):
            new = (p.float() - (lr / b) * d).clamp_(-group["scalar_max"], group["scalar_max"])
            p.copy_(new.to(p.dtype))

    def _step_tensors(self, group: dict, params: List[torch.Tensor], grads: List[torch.Tensor]) -> None:
        """RMS-scaled Adam step, written as few passes over memory as possible (it was ~25% of a
        CPU training step): one lerp for m, two for v, sqrt + eps, and one addcdiv into the
        parameters. ``m / (sqrt(v / b2) + eps) == sqrt(b2) * m / (sqrt(v) + eps * sqrt(b2))``, so
        the bias correction of v moves into the per-tensor step size (same update up to rounding).
        """
        lr = group["lr"]
        period = group["size_update_period"]
        beta1, beta2 = group["betas"]
        states = [self.state[p] for p in params]
        for p, g, state in zip(params, grads, states):
            # d(loss)/d(log scale of p): how the loss changes if the whole tensor grows.
            state["scale_grads"][state["step"] % period] = torch.dot(g.reshape(-1), p.reshape(-1).float())
            if state["step"] % period == period - 1:
                self._update_scale(group, p, state)
        for st in states:
            st["step"] += 1
        exp_avgs = [st["exp_avg"] for st in states]
        exp_avg_sqs = [st["exp_avg_sq"] for st in states]
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
        bias2_sqrt = [math.sqrt(1 - beta2 ** st["step"]) for st in states]
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_add_(denom, [group["eps"] * b for b in bias2_sqrt])
        steps = [-lr * st["param_rms"] * b2 / (1 - beta1 ** st["step"]) for st, b2 in zip(states, bias2_sqrt)]
        if all(p.dtype == torch.float32 for p in params):
            torch._foreach_addcdiv_(params, exp_avgs, denom, steps)
        else:
            for p, m, d, s in zip(params, exp_avgs, denom, steps):
                p.add_((m / d).mul_(s).to(p.dtype))

    def _update_scale(self, group: dict, p: torch.Tensor, state: dict) -> None:
        """Every ``size_update_period`` steps: Adam step on the tensor's log-scale, then refresh its RMS."""
        beta1, beta2 = group["betas"]
        grads = state["scale_grads"]
        n = grads.numel()
        state["scale_step"] += 1
        k = state["scale_step"]
        decay = beta2**n
        state["scale_exp_avg_sq"] = state["scale_exp_avg_sq"] * decay + float((grads**2).mean()) * (1 - decay)
        bias2 = 1 - decay**k
        denom = math.sqrt(state["scale_exp_avg_sq"] / bias2) + group["eps"]
        size_lr = group["lr"] * group["scalar_lr_scale"]
        # Summed over the period: the change in log-scale equals n steps of size_lr.
        scale_step = -size_lr * n * float(grads.mean()) / denom
        rms = state["param_rms"]
        # Keep the RMS inside its bounds: no shrinking below min, no growing above max.
        if rms <= group["param_min_rms"]:
            scale_step = max(scale_step, 0.0)
        if rms >= group["param_max_rms"]:
            scale_step = min(scale_step, 0.0)
        scale_step = min(max(scale_step, -0.5), 0.5)
        p.mul_(1.0 + scale_step)
        new_rms = float(p.detach().float().pow(2).mean().sqrt())
        state["param_rms"] = min(max(new_rms, group["param_min_rms"]), group["param_max_rms"])

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
