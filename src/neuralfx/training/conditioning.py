"""What training does differently for knob data: the model's inputs, scores per setting,
and the few settings the guitar demo is rendered at.

Everything else (segments, steps, records, resume) is the one loop in ``loop.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..config import TrainConfig
from ..data import Setting, Split
from ..data.knobs import knob_metadata
from ..errors import RunError, plural
from ..render import with_knobs
from .tbptt import evaluate_blocks, render_blocks, score_blocks

MAX_DEMO_SETTINGS = 4


def conditioned_config(cfg: TrainConfig, split: Split) -> TrainConfig:
    """The run's config with the model taking one input per knob of the data."""
    if cfg.model.knobs == len(split.knobs):
        return cfg
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, knobs=len(split.knobs)))


def check_resume(cfg: TrainConfig, split: Split, run: object) -> None:
    """A run resumes on the data it started with: the same number of knobs."""
    if cfg.model.knobs != len(split.knobs):
        raise RunError(
            f"{run}: was trained with {plural(cfg.model.knobs, 'knob input')}, the data now has "
            f"{len(split.knobs)} ({split.name}); restore its knobs.csv or start a new run"
        )


def score_settings(model, settings: list[Setting], part: str, loss_fn, device):
    """(loss, ESR over all of them, each one's ESR) on the ``val`` or ``test`` blocks."""
    blocks = [(getattr(s, f"{part}_x"), getattr(s, f"{part}_y")) for s in settings]
    return evaluate_blocks(model, blocks, loss_fn, device)


def test_scores(model, split: Split, loss_fn, device) -> tuple[float, list[dict[str, Any]]]:
    """The test ESR over the trained settings and every setting's own (held-out ones included),
    from one render of each test block: what training records and the report's analysis
    recomputes, through this one function so they agree exactly."""
    settings = list(split.settings)
    preds = render_blocks(model, [s.test_x for s in settings], device)
    _, _, esrs = score_blocks(preds, [s.test_y for s in settings], loss_fn)
    seen = [i for i, s in enumerate(settings) if not s.holdout]
    _, test_esr, _ = score_blocks(
        [preds[i] for i in seen], [settings[i].test_y for i in seen], loss_fn
    )
    scores = [
        {
            "output": s.output,
            "label": s.label,
            "knobs": dict(zip((k.name for k in split.knobs), s.values)),
            "holdout": s.holdout,
            "test_esr": e,
        }
        for s, e in zip(settings, esrs)
    ]
    return test_esr, scores


def knob_model_metadata(split: Split) -> dict[str, Any]:
    """The knob inputs (name, unit, range; input 1 + i is knob i) and the held-out settings."""
    if not split.knobs:
        return {}
    return {
        "knobs": knob_metadata(split.knobs),
        "holdout": [s.label for s in split.settings if s.holdout],
    }


def demo_settings(split: Split) -> list[Setting]:
    """The settings the guitar demo is rendered at: the lowest and the highest (by their
    values), every held-out one, and a middle one while there is room."""
    if not split.settings:
        return []
    by_value = sorted(split.settings, key=lambda s: s.values)
    picks = [by_value[0], by_value[-1]] + [s for s in split.settings if s.holdout]
    picks.append(by_value[len(by_value) // 2])
    unique = list({s.output: s for s in picks}.values())
    return sorted(unique[:MAX_DEMO_SETTINGS], key=lambda s: s.values)


def demo_input(audio: np.ndarray, split: Split, setting: Setting) -> np.ndarray:
    """The guitar demo at one setting: the model's ``(time, 1 + N)`` input."""
    scaled = [k.scale(v) for k, v in zip(split.knobs, setting.values)]
    return with_knobs(audio, scaled)
