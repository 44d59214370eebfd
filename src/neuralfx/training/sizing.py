"""The model's width when the user leaves it (``--hidden 0``, the default): by the budget.

A short budget buys few steps, and a narrower LSTM takes more of them (3-5 epochs in 20 s
against 2-3): given 20 s, LSTM-16 scored 1.8-2.3x lower held-out ESR than LSTM-32 by the
median of two seeds on sox's amp, overdrive and fuzz and on our fuzz, 1.5x on our compressor
and the same on sox's compander (bench/notes.md, "The width by the budget"). Beyond that the
wider model's capacity pays (the recipe's 180 s figures were all measured at 32), so budgets
over ``SHORT_BUDGET_S``, runs without a budget and knob data (measured only at 32) keep 32.
A number given is kept.
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
