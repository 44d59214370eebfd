"""A teacher for the knob positions nobody recorded: the run's model behind a learned input gain.

A model that takes the knobs as extra inputs (what AIDA-X and RTNeural run) fits the recorded
settings and leaves the gaps between them to chance: on a 4-setting drive grid with the middle
setting held out, its output between two recorded gains was a crossfade of theirs (held-out
ESR 0.067, where a dedicated model of that setting gets 0.0003). Many knobs act on levels
(drive, gain, input, sensitivity), and a level is a product, which additive inputs express
badly and a gain expresses exactly. So the teacher is the same network fed both ``x`` and
``x * exp(k . a)``, with ``a`` learned per knob (where no gain helps, it stays near 0), and
the deployed model, the student, learns from the recorded settings and, for a share of every
batch, from the teacher's output at knob values drawn anywhere in the range. With a budget the
teacher trains alone for its first ``TEACHER_SHARE`` and the student then starts from its
network; without one they train side by side. The student is what is validated, kept and
exported, so every model.json is a plain model any plugin runs. On the grid above, 180 s in
all: held-out ESR 0.0002-0.0004 (0.0005-0.0012 before the teacher had the dry channel) against
0.067-0.43 without a teacher (bench/notes.md).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..errors import RunError
from ..models import build_model
from .averaging import WeightAverage
from .optimizer import adam
from .schedule import lr_factor
from .tbptt import validation_scores

SYNTHETIC_SHARE = 0.5  # of each batch's segments, at knob values drawn by the teacher's rng
TEACHER_SHARE = 0.3  # of a budget that the teacher trains alone, before the model starts


def with_column(w: torch.Tensor, at: int) -> torch.Tensor:
    """``w`` with a zero input column (dim 1) inserted at ``at``."""
    return torch.cat([w[:, :at], torch.zeros_like(w[:, :1]), w[:, at:]], 1)


class GainTeacher(nn.Module):
    """The run's architecture fed ``[x, x * exp(k . log_gain), k]``: the audio as it came and
    behind a gain (in nepers per unit of scaled knob) the knobs set. The first is the path a
    drive knob does not touch: many drive circuits pass the dry signal around the clipper (a
    Tube Screamer's op-amp adds it at unity, a Klon blends it), and a network that saw only the
    gained signal would have to undo the gain to rebuild it, which it does badly."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.net = build_model(cfg, extra_inputs=1)
        self.log_gain = nn.Parameter(torch.zeros(cfg.knobs))

    @property
    def cell(self) -> str:
        return self.net.cell

    @property
    def in_channels(self) -> int:
        return self.net.in_channels - 1  # what it is fed: the gained channel is its own

    def forward(self, x: torch.Tensor, state=None):
        gain = torch.exp(x[..., 1:] @ self.log_gain).unsqueeze(-1)
        return self.net(torch.cat([x[..., :1], x[..., :1] * gain, x[..., 1:]], -1), state)

    @property
    def first_layer(self) -> str:
        """The weight that reads the inputs: the first conv's, else the recurrent layer's."""
        return "convs.0.conv.weight" if len(self.net.convs) else f"{self.net.cell}.weight_ih_l0"

    @torch.no_grad()
    def student_weights(self) -> dict:
        """The network's weights for the model, which has no gained channel: the first layer
        reads the audio through both channels' weights at the middle of the knobs' range."""
        weights = {k: v.clone() for k, v in self.net.state_dict().items()}
        w = weights[self.first_layer]
        mid_gain = torch.exp(0.5 * self.log_gain.sum())
        weights[self.first_layer] = torch.cat([w[:, :1] + mid_gain * w[:, 1:2], w[:, 2:]], 1)
        return weights

    def gain_db(self) -> list[float]:
        """Each knob's gain from one end of its range to the other, in dB."""
        return [float(a) * 20 / math.log(10) for a in self.log_gain.detach().cpu()]


class KnobTeacher:
    """The teacher with its optimiser and weight average, and what the loop asks of it."""

    def __init__(self, cfg: ModelConfig, learning_rate: float, average: float, device, start=None):
        self.done = False  # trained and frozen: it only teaches now
        self.epochs = 0
        self.model = GainTeacher(cfg).to(device)
        if start is not None:  # the model's first weights (--init's, say), so both start alike
            weights = dict(start.state_dict())
            first = self.model.first_layer  # the gained channel starts at zero: the model
            weights[first] = with_column(weights[first], 1)
            self.model.net.load_state_dict(weights)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = adam(self.params, learning_rate, knobs=True)
        self.average = WeightAverage(self.params, average) if average else None

    def leads(self, seconds: float, budget_s: float) -> bool:
        """Whether the teacher trains alone now: the first ``TEACHER_SHARE`` of a budget.
        Without a budget there is no share to give it, and it trains beside the model."""
        return bool(budget_s) and not self.done and seconds < TEACHER_SHARE * budget_s

    def beside(self, x, y, shards: int, budget_s: float) -> list | None:
        """Without a budget, the recorded batch's shards and their states for the teacher to
        step on beside the model (before the batch is mixed); with one, None."""
        if budget_s or self.done:
            return None
        xs, ys = x.chunk(shards), y.chunk(shards)
        return [xs, ys, [None] * len(xs)]

    def validate(self, split, loss_fn, device) -> float:
        """The teacher's validation ESR over the trained settings (its average, if any)."""
        with self.average.applied() if self.average else contextlib.nullcontext():
            _, val_esr = validation_scores(self.model, split, loss_fn, device)
        self.epochs += 1
        return val_esr

    def hand_over(self, student: nn.Module) -> None:
        """Freeze the teacher at its average and start the student from its network."""
        if self.average is not None:
            self.average.copy_to_params()
        self.average, self.done = None, True
        student.load_state_dict(self.model.student_weights())

    def gains_text(self, knobs) -> str:
        return ", ".join(f"{k.name} {db:+.1f} dB" for k, db in zip(knobs, self.model.gain_db()))

    def summary(self, train_loss: float, val_esr: float, knobs) -> str:
        then = "; the model starts from it and learns from it now" if self.done else ""
        return (
            f"knob teacher {self.epochs - 1:4d}  train {train_loss:.5f}  val ESR {val_esr:.5f}  "
            f"input gain over the range: {self.gains_text(knobs)}{then}"
        )

    def set_rate(self, peak: float, fraction: float, seconds: float, budget_s: float) -> None:
        """The run's rate at ``fraction``; while it trains alone, its own cosine lands at the
        end of its share."""
        share = fraction / TEACHER_SHARE if self.leads(seconds, budget_s) else fraction
        for group in self.opt.param_groups:
            group["lr"] = peak * lr_factor(share)

    @torch.no_grad()
    def mix(
        self, x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch with a share of its segments moved to random knob values, each target
        the teacher's output there (from a zero state, as the student plays the segment)."""
        rows = np.flatnonzero(rng.random(x.shape[0]) < SYNTHETIC_SHARE)
        if not len(rows):
            return x, y
        knobs = rng.random((len(rows), x.shape[-1] - 1)).astype(np.float32)
        idx = torch.from_numpy(rows).to(x.device)
        xs = x[idx].clone()
        xs[..., 1:] = torch.from_numpy(knobs).to(x.device)[:, None, :]
        was_training = self.model.training
        self.model.eval()
        with self.average.applied() if self.average else contextlib.nullcontext():
            ys, _ = self.model(xs)
        self.model.train(was_training)
        x, y = x.clone(), y.clone()
        x[idx], y[idx] = xs, ys
        return x, y

    def _widened(self, state: dict) -> dict:
        """A checkpoint of the teacher before it had the dry channel (fed ``[x * gain, k]``)
        as the same teacher with zero weights on the dry channel: resumes go on exactly."""
        name = "net." + self.model.first_layer
        old = state["model"].get(name)
        if not isinstance(old, torch.Tensor) or old.shape[1] != self.model.net.in_channels - 1:
            return state
        index = [n for n, _ in self.model.named_parameters()].index(name)
        state = {**state, "model": {**state["model"], name: with_column(old, 0)}}
        moments = state["optimizer"].get("state", {}).get(index)
        if moments:
            moments = {
                k: with_column(v, 0) if k.startswith("exp_") else v for k, v in moments.items()
            }
            opt = state["optimizer"]
            state["optimizer"] = {**opt, "state": {**opt["state"], index: moments}}
        if state.get("average"):
            avg = list(state["average"]["average"])
            avg[index] = with_column(avg[index], 0)
            state["average"] = {**state["average"], "average": avg}
        return state

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "average": self.average.state_dict() if self.average else None,
            "done": self.done,
            "epochs": self.epochs,
        }

    def load_state_dict(self, state, where: str) -> None:
        if not isinstance(state, dict) or "model" not in state or "optimizer" not in state:
            raise RunError(
                f"{where}: the checkpoint has no knob teacher, and this run trains one; resume "
                "with --knob-teacher off, or start a new run"
            )
        try:
            state = self._widened(state)
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, TypeError, ValueError):
            raise RunError(
                f"{where}: its knob teacher does not fit this run's model; start a new run"
            ) from None
        self.done, self.epochs = bool(state.get("done")), int(state.get("epochs", 0))
        if self.done:
            self.average = None
        elif self.average is not None:
            self.average.load_state_dict(state.get("average"), where)
