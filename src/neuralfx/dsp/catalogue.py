"""The effect catalogue: names, parameters with units and ranges, and the lookup by name.

Every effect takes a 1-D float32 array and returns a float32 array of the same length. They are
deterministic: pedalboard processors are built fresh for every call, so no state (reverb tails,
LFO phase, envelope followers) leaks from one render into the next.

Parameter defaults come from each function's signature; units and valid ranges come from
``_PARAM_TABLE`` (shared by name) plus per-effect overrides in the ``@register`` decorator.
The effects themselves live in ``effects.py``; chains and the ``vst3:`` host in ``chains.py``.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EffectError

FAMILIES = ("filter", "nonlinear", "dynamics", "time", "preset", "plugin")

# name -> (unit, minimum, maximum); "" is a plain number (a ratio, a fraction, a Q).
_PARAM_TABLE: dict[str, tuple[str, float, float]] = {
    "cutoff_hz": ("Hz", 10.0, 20000.0),
    "centre_hz": ("Hz", 10.0, 20000.0),
    "q": ("", 0.1, 40.0),
    "gain_db": ("dB", -24.0, 24.0),
    "drive_db": ("dB", 0.0, 60.0),
    "threshold_db": ("dB", -100.0, 0.0),
    "ratio": ("", 1.0, 100.0),
    "attack_ms": ("ms", 0.01, 1000.0),
    "release_ms": ("ms", 1.0, 5000.0),
    "makeup_db": ("dB", -24.0, 24.0),
    "mix": ("", 0.0, 1.0),
    "delay_ms": ("ms", 0.0, 5000.0),
    "centre_delay_ms": ("ms", 0.0, 50.0),
    "feedback": ("", 0.0, 0.95),
    "rate_hz": ("Hz", 0.01, 20.0),
    "depth": ("", 0.0, 1.0),
    "bits": ("bits", 1, 24),
    "downsample": ("samples", 1, 64),
    "resonance": ("", 0.0, 1.0),
    "bias": ("", -0.9, 0.9),
    "asymmetry": ("", 1.0, 4.0),
    "room_size": ("", 0.0, 1.0),
    "damping": ("", 0.0, 1.0),
    "wet_level": ("", 0.0, 1.0),
    "dry_level": ("", 0.0, 1.0),
    "bass_db": ("dB", -24.0, 24.0),
    "mid_db": ("dB", -24.0, 24.0),
    "treble_db": ("dB", -24.0, 24.0),
    "cabinet_hz": ("Hz", 1000.0, 12000.0),
    "level_db": ("dB", -60.0, 24.0),
}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: float | int
    unit: str
    minimum: float
    maximum: float

    @property
    def kind(self) -> type:
        return type(self.default)

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name}={self.default} ({self.minimum:g}..{self.maximum:g}{unit})"


@dataclass(frozen=True)
class EffectSpec:
    name: str
    family: str
    description: str
    function: Callable[..., np.ndarray]
    params: tuple[ParamSpec, ...]

    def resolve(self, given: Mapping[str, Any]) -> dict[str, float | int]:
        """All parameters with defaults filled in, each checked for name, type and range."""
        names = [p.name for p in self.params]
        for key in given:
            if key not in names:
                raise EffectError(_unknown("parameter", key, names, f" for {self.name}"))
        return {
            p.name: _check_value(self.name, p, given.get(p.name, p.default)) for p in self.params
        }

    def __call__(self, audio: np.ndarray, sample_rate_hz: float, **params: Any) -> np.ndarray:
        return self.function(as_mono(audio), float(sample_rate_hz), **self.resolve(params))


CATALOGUE: dict[str, EffectSpec] = {}


def register(family: str, **ranges: tuple[float, float]):
    """Register a function; its docstring's first line is the catalogue description."""

    def register(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        params = []
        for p in list(inspect.signature(fn).parameters.values())[2:]:
            unit, lo, hi = _PARAM_TABLE[p.name]
            lo, hi = ranges.get(p.name, (lo, hi))
            params.append(ParamSpec(p.name, p.default, unit, lo, hi))
        doc = (fn.__doc__ or "").strip().splitlines()[0]
        CATALOGUE[fn.__name__] = EffectSpec(fn.__name__, family, doc, fn, tuple(params))
        return fn

    return register


def _check_value(effect: str, p: ParamSpec, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EffectError(
            f"{effect}: {p.name}={value!r} is not a number; write e.g. {p.name}={p.default}"
        )
    if p.kind is int:
        if float(value) != int(value):
            raise EffectError(f"{effect}: {p.name}={value} must be a whole number")
        value = int(value)
    else:
        value = float(value)
    if not (p.minimum <= value <= p.maximum) or not math.isfinite(value):
        unit = f" {p.unit}" if p.unit else ""
        raise EffectError(
            f"{effect}: {p.name}={value} is outside {p.minimum:g}..{p.maximum:g}"
            f"{unit}; pick a value inside that range"
        )
    return value


def _unknown(what: str, key: str, valid: list[str], where: str = "") -> str:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {what} {key!r}{where}{hint}; valid: {', '.join(valid)}"


def lookup(name: str) -> EffectSpec:
    """The catalogue entry for ``name``, or an EffectError listing every valid name."""
    if name not in CATALOGUE:
        raise EffectError(_unknown("effect", name, sorted(CATALOGUE) + ["vst3:/path/Plugin.vst3"]))
    return CATALOGUE[name]


def as_mono(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise EffectError(f"effects take 1-D mono audio, got shape {x.shape}; pass one channel")
    return x


# The built-in effects register themselves on import; imported last because they use the above.
from . import effects as _effects  # noqa: E402, F401
