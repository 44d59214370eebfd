"""The model's width when the user leaves it (``--hidden 0``, the default): by the budget.

A short budget buys few steps, and a narrower LSTM takes more of them: on the bench's
nonlinear effects (bench/notes.md, 2026-12-04) LSTM-16 given 20 s scored 1.1-2.6x lower
held-out ESR than LSTM-32 by the median of two seeds (sox's amp 0.0011 / 0.00055 against
0.0022 / 0.0015), and at 30 s 2-3x. Beyond that the wider model's capacity pays (its 180 s
figures are the ones the recipe was tuned on), so budgets over ``SHORT_BUDGET_S``, runs
without a budget and knob data, measured only at 32, keep 32. A number given is kept.
"""

from __future__ import annotations

import dataclasses

from ..config import TrainConfig
from ..models import DEFAULT_HIDDEN

SHORT_BUDGET_S = 30.0  # budgets up to this many seconds train the narrow model
SHORT_HIDDEN = 16


def resolve_hidden(cfg: TrainConfig, knobs: bool) -> TrainConfig:
    """``--hidden 0`` made a number, saved so a resume and the exports read it."""
    if cfg.model.hidden_size:
        return cfg
    short = 0 < cfg.budget_s <= SHORT_BUDGET_S and not knobs and not cfg.init_model
    hidden = SHORT_HIDDEN if short else DEFAULT_HIDDEN
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, hidden_size=hidden))
