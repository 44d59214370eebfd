"""A study's effects: a catalogue name or chain spec each, optionally with a knob grid.

An entry with ``knob`` builds its dataset as ``neuralfx data make --knob`` does (one output
per setting and ``knobs.csv``), so every model x size cell of the grid trains one conditioned
model over all settings; ``holdout`` keeps settings out of training, as ``--holdout`` does::

    effects = [{name = "drive", spec = "softclip", knob = ["drive_db=0:24:4"], holdout = ["drive_db=16"]}]

(a TOML inline table stays on one line; ``knob`` and ``holdout`` may be one string or a list).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from ..errors import ConfigError, NeuralFXError


@dataclass(frozen=True)
class EffectEntry:
    spec: str  # a catalogue name or a chain spec, as ``neuralfx init --effect`` takes
    name: str = ""  # shown in tables; its slug names the dataset and the runs
    knob: tuple[str, ...] = ()  # ``param=start:stop:count`` per knob, as `data make --knob`
    holdout: tuple[str, ...] = ()  # ``knob=value[,knob=value]`` settings never trained on

    @property
    def slug(self) -> str:
        return slug(self.name)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def effect_tables(raw: list) -> list:
    """Study-file effects as tables; a bare string is a spec, a string knob or holdout a list."""
    tables = []
    for e in raw:
        if isinstance(e, dict):
            e = {
                k: [v] if k in ("knob", "holdout") and isinstance(v, str) else v
                for k, v in e.items()
            }
        tables.append({"spec": e} if isinstance(e, str) else e)
    return tables


def named_effects(effects: tuple[EffectEntry, ...], where: str) -> tuple[EffectEntry, ...]:
    from ..dsp.chains import parse_chain

    if not effects:
        raise ConfigError(f"{where}.effects: missing or empty; list at least one effect")
    named, seen = [], {}
    for i, e in enumerate(effects):
        try:
            chain = parse_chain(e.spec)
        except NeuralFXError as exc:
            raise ConfigError(f"{where}.effects[{i}].spec: {exc}") from None
        check_knobs(e, chain, f"{where}.effects[{i}]")
        e = e if e.name else dataclasses.replace(e, name=e.spec.strip())
        if not e.slug:
            raise ConfigError(f"{where}.effects[{i}].name: {e.name!r} has no letters or digits")
        if e.slug in seen:
            raise ConfigError(
                f"{where}.effects[{i}]: its name {e.name!r} clashes with "
                f"effects[{seen[e.slug]}]; give one of them another name"
            )
        seen[e.slug] = i
        named.append(e)
    return tuple(named)


def check_knobs(entry: EffectEntry, chain, where: str) -> None:
    """The knob grid renders (each knob names one parameter, values in its range) and every
    held-out setting is a point of the grid, leaving at least one to train on."""
    from ..data.make import knob_grid

    if entry.holdout and not entry.knob:
        raise ConfigError(f'{where}.holdout: needs a knob grid; add knob = ["param=lo:hi:count"]')
    try:
        _, names, variants = knob_grid(chain, "x", list(entry.knob))
    except NeuralFXError as exc:
        raise ConfigError(f"{where}.knob: {str(exc).removeprefix('--knob ')}") from None
    grid = [values for _, _, values in variants]
    held = set()
    for j, text in enumerate(entry.holdout):
        conditions = _conditions(text, names, f"{where}.holdout[{j}]")
        chosen = {
            g for g in grid if all(math.isclose(g[i], v, abs_tol=1e-9) for i, v in conditions)
        }
        if not chosen:
            raise ConfigError(
                f"{where}.holdout[{j}]: {text!r} is not a setting of the knob grid; "
                "pick values the grid renders"
            )
        held |= chosen
    if grid and len(held) == len(grid):
        raise ConfigError(f"{where}.holdout: holds out every setting; leave one to train on")


def _conditions(text: str, names: list[str], where: str) -> list[tuple[int, float]]:
    conditions = []
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            v = float(value) if sep else math.nan
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            raise ConfigError(f"{where}: {text!r}; write knob=value[,knob=value], e.g. drive_db=16")
        if name.strip() not in names:
            raise ConfigError(
                f"{where}: no knob {name.strip()!r}; the knobs are {', '.join(names)}"
            )
        conditions.append((names.index(name.strip()), v))
    return conditions
