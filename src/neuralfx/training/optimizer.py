"""The optimiser every learner in a run steps with: Adam whose second moment forgets fast.

PyTorch's Adam averages the squared gradients over about 1,000 steps (beta2 = 0.999). In the
first thousands of steps of a run the gradients shrink as fast as the loss falls, so that
average still holds the large ones of the start, and every step is a fraction of the rate
the schedule asks for. With 0.99 (about 100 steps) the step follows the schedule: the hold is
as fast as it is meant to be, and the landing lands where it should (bench/notes.md,
"Adam's second moment"). The first moment keeps PyTorch's 0.9. Knob data keeps PyTorch's
betas: its runs (the knob teacher's included) were tuned with them and 0.99 is unmeasured there.

The step is PyTorch's Adam done in numpy on the tensors' own memory (``Adam.step``): for the
half-dozen small tensors of these models torch's per-operation overhead, about 5 us an
operation, was 0.2 ms a step, an eighth of a whole training step at 128-sample chunks.
"""

from __future__ import annotations

import math

import numpy as np
import torch

BETAS = (0.9, 0.99)
KNOB_BETAS = (0.9, 0.999)  # PyTorch's


class Adam(torch.optim.Adam):
    """``torch.optim.Adam`` (same state, same checkpoints) whose plain CPU float32 steps run
    in numpy; anything else (a closure, weight decay, AMSGrad, a GPU) takes torch's step.
    Not torch's fused CPU Adam: it was 3x faster a step, but over 300 steps of an LSTM-16 its
    weights drifted from the loop's by up to 5 (2026-12-04) and it wrecked every knob run."""

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None or not all(map(_plain, self.param_groups)):
            return super().step(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # what torch's first step creates
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                step = state["step"].numpy()  # a 0-d view: += 1 counts in the tensor
                step += 1
                t = float(step)
                g, m, v = p.grad.numpy(), state["exp_avg"].numpy(), state["exp_avg_sq"].numpy()
                m += (1.0 - beta1) * (g - m)
                v *= beta2
                v += (1.0 - beta2) * (g * g)
                denom = np.sqrt(v) / math.sqrt(1.0 - beta2**t) + group["eps"]
                w = p.detach().numpy()
                w -= (group["lr"] / (1.0 - beta1**t)) * (m / denom)
        return None


def _plain(group: dict) -> bool:
    """A group the numpy step computes exactly as torch's single-tensor Adam would."""
    if group["weight_decay"] or group["amsgrad"] or group["maximize"]:
        return False
    if group.get("fused") or group.get("capturable") or group.get("differentiable"):
        return False
    return all(
        p.device.type == "cpu"
        and p.dtype == torch.float32
        and p.is_contiguous()
        and (p.grad is None or (p.grad.dtype == torch.float32 and p.grad.is_contiguous()))
        for p in group["params"]
    )


def clip_grads(params: list[torch.nn.Parameter], max_norm: float) -> float:
    """``torch.nn.utils.clip_grad_norm_`` (the same rule: scale by ``max_norm / (norm +
    1e-6)`` when that is below 1) in numpy for CPU float32 gradients, a tenth of its cost
    on these small tensors; returns the norm before clipping (not finite: nothing scaled)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not all(g.device.type == "cpu" and g.dtype == torch.float32 for g in grads):
        return float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    arrays = [g.numpy() for g in grads]
    norm = math.sqrt(sum(float(np.vdot(a, a)) for a in arrays))
    scale = max_norm / (norm + 1e-6)
    if math.isfinite(norm) and scale < 1.0:
        for a in arrays:
            a *= np.float32(scale)
    return norm


def adam(params, learning_rate: float, knobs: bool = False) -> torch.optim.Adam:
    """Adam with the run's betas."""
    return Adam(params, lr=learning_rate, betas=KNOB_BETAS if knobs else BETAS)
