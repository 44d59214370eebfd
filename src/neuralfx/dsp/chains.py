"""Effect chains: ``"highpass(cutoff_hz=100) | softclip(drive_db=24)"`` -> a ``Chain`` callable.

A chain's canonical string (``str(chain)``) lists every parameter with its resolved value, so it
parses back to an equal chain and records exactly what rendered a dataset even if defaults
change later. Chains also load from JSON/TOML files (``[{"effect": "highpass", ...}, ...]`` or a
``{"chain": [...]}`` table) and round-trip through ``chain_to_dict``/``chain_from_dict``.

A stage named ``vst3:/path/Plugin.vst3`` hosts a VST3 plugin through ``pedalboard.load_plugin``;
its parameters are the plugin's own (see ``plugin_parameters``).
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pedalboard as pb
import tomllib

from ..errors import EffectError
from .catalogue import _unknown, as_mono, lookup

PLUGIN_PREFIX = "vst3:"


@dataclass(frozen=True)
class Stage:
    """One effect with every parameter resolved; equal stages render identical audio."""

    name: str
    params: tuple[tuple[str, Any], ...]
    _plugin: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def spec(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params)
        return f"{self.name}({args})" if args or not self.is_plugin else self.name

    @property
    def is_plugin(self) -> bool:
        return self.name.startswith(PLUGIN_PREFIX)

    def __call__(self, audio: np.ndarray, sample_rate_hz: float) -> np.ndarray:
        if not self.is_plugin:
            return lookup(self.name).function(audio, float(sample_rate_hz), **self.kwargs)
        plugin = self._plugin.get("instance")
        if plugin is None:
            plugin = self._plugin["instance"] = _configured_plugin(self.name, self.kwargs)
        plugin.reset()  # no tail or LFO phase carried over from the previous render
        y = plugin(np.ascontiguousarray(audio[np.newaxis, :]), float(sample_rate_hz), reset=True)
        return np.asarray(y, dtype=np.float32)[0, : len(audio)]


@dataclass(frozen=True)
class Chain:
    """Stages applied left to right: ``chain(audio, sample_rate_hz) -> audio`` (same length)."""

    stages: tuple[Stage, ...]

    @property
    def spec(self) -> str:
        return " | ".join(s.spec for s in self.stages)

    def __str__(self) -> str:
        return self.spec

    def __call__(self, audio: np.ndarray, sample_rate_hz: float) -> np.ndarray:
        x = as_mono(audio)
        if not np.all(np.isfinite(x)):
            raise EffectError("input audio has NaN or infinite samples; clean the input first")
        for stage in self.stages:
            x = stage(x, sample_rate_hz)
            if not np.all(np.isfinite(x)):
                raise EffectError(
                    f"{stage.spec} produced NaN or infinite samples; lower its gain or feedback"
                )
        return x


def make_stage(name: str, params: Mapping[str, Any] | None = None) -> Stage:
    """A validated stage: unknown names, unknown parameters and bad values are EffectErrors."""
    params = dict(params or {})
    if name.startswith(PLUGIN_PREFIX):
        path = str(Path(name[len(PLUGIN_PREFIX) :].strip()).expanduser())
        stage = Stage(PLUGIN_PREFIX + path, tuple(params.items()))
        stage._plugin["instance"] = _configured_plugin(stage.name, params)
        return stage
    return Stage(name, tuple(lookup(name).resolve(params).items()))


def parse_chain(text: str) -> Chain:
    """Parse ``name(k=v, ...) | name | ...``; a bare name means all defaults."""
    parts = [p.strip() for p in _split_top(text, "|")]
    if not parts or any(not p for p in parts):
        raise EffectError(
            f"empty effect in chain {text!r}; write e.g. 'highpass(cutoff_hz=100) | softclip'"
        )
    return Chain(tuple(_parse_stage(p) for p in parts))


def _parse_stage(text: str) -> Stage:
    if text.startswith(PLUGIN_PREFIX):
        # A plugin path may itself hold parentheses; its arguments start after ".vst3".
        end = text.lower().find(".vst3")
        cut = end + len(".vst3") if end >= 0 else (text.find("(") if "(" in text else len(text))
        name, rest = text[:cut].strip(), text[cut:].strip()
    else:
        name, _, rest = text.partition("(")
        name, rest = name.strip(), ("(" + rest if rest else "")
    if rest and not (rest.startswith("(") and rest.endswith(")")):
        raise EffectError(
            f"cannot parse {text!r}; write name(param=value, ...), e.g. lowpass(cutoff_hz=1000)"
        )
    return make_stage(name, _parse_args(text, rest[1:-1]) if rest else {})


def _parse_args(text: str, args: str) -> dict[str, Any]:
    try:
        call = ast.parse(f"f({args})", mode="eval").body
    except SyntaxError:
        raise EffectError(
            f"cannot parse the parameters of {text!r}; write name=value separated by commas"
        ) from None
    if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
        raise EffectError(f"{text!r}: parameters need names; write e.g. cutoff_hz=1000")
    out: dict[str, Any] = {}
    for kw in call.keywords:
        if isinstance(kw.value, ast.Name):  # a bare word: a plugin choice such as mode=Vintage
            out[kw.arg] = kw.value.id
            continue
        try:
            out[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            raise EffectError(
                f"{text!r}: {kw.arg}={ast.unparse(kw.value)} is not a number or a quoted string"
            ) from None
    return out


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quotes and parentheses."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts if text.strip() else []


def chain_to_dict(chain: Chain) -> dict[str, Any]:
    """JSON-ready record of a chain: the canonical spec string and one dict per stage."""
    return {"spec": chain.spec, "chain": [{"effect": s.name, **s.kwargs} for s in chain.stages]}


def chain_from_dict(
    data: Mapping[str, Any] | Iterable[Mapping[str, Any]], where: str = "chain"
) -> Chain:
    """Inverse of ``chain_to_dict``; also takes the bare list of stage dicts."""
    if isinstance(data, Mapping):
        extra = sorted(set(data) - {"chain", "spec"})
        if extra or "chain" not in data:
            raise EffectError(
                f"{where}: expected a 'chain' list of stages (and optionally 'spec'), "
                f"got keys {', '.join(sorted(data)) or 'none'}"
            )
        data = data["chain"]
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise EffectError(f'{where}: the chain must be a list of {{"effect": name, ...}} tables')
    stages = []
    for i, item in enumerate(data):
        if not isinstance(item, Mapping) or not isinstance(item.get("effect"), str):
            raise EffectError(
                f'{where}: stage {i + 1} needs an "effect" name, e.g. {{"effect": "lowpass"}}'
            )
        stages.append(make_stage(item["effect"], {k: v for k, v in item.items() if k != "effect"}))
    if not stages:
        raise EffectError(f"{where}: the chain is empty; list at least one effect")
    return Chain(tuple(stages))


def load_chain_file(path: str | os.PathLike) -> Chain:
    """A chain from a .json or .toml file (TOML: ``[[chain]]`` tables with an ``effect`` key)."""
    path = Path(path)
    if not path.is_file():
        raise EffectError(f"{path}: no such chain file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            raise EffectError(f"{path}: chain files are .json or .toml")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise EffectError(
            f"{path}: not valid {suffix[1:].upper()} ({first}); fix the file"
        ) from None
    return chain_from_dict(data, where=str(path))


def load_chain(spec: str | os.PathLike | Chain) -> Chain:
    """A Chain from a Chain, a .json/.toml path, or a chain string."""
    if isinstance(spec, Chain):
        return spec
    text = os.fspath(spec)
    if isinstance(spec, os.PathLike) or text.lower().endswith((".json", ".toml")):
        return load_chain_file(text)
    return parse_chain(text)


def render_effect(
    spec_or_chain: str | os.PathLike | Chain, audio: np.ndarray, sample_rate_hz: float
) -> np.ndarray:
    """Render ``audio`` through a chain given as a Chain, a spec string or a chain file."""
    return load_chain(spec_or_chain)(audio, sample_rate_hz)


def load_vst3(path: str | os.PathLike) -> pb.ExternalPlugin:
    """Load a VST3 plugin, with a one-line EffectError naming the path when it cannot."""
    path = Path(path).expanduser()
    if not path.exists():
        raise EffectError(f"VST3 plugin not found: {path}; check the path to the .vst3 bundle")
    try:
        return pb.load_plugin(str(path))
    except Exception as exc:  # pedalboard raises ImportError/RuntimeError with multi-line text
        detail = " ".join(str(exc).split())[:200]
        raise EffectError(
            f"cannot load VST3 plugin {path} ({detail}); is it a 64-bit VST3 built for this system?"
        ) from None


def _configured_plugin(name: str, params: Mapping[str, Any]) -> pb.ExternalPlugin:
    path = name[len(PLUGIN_PREFIX) :]
    plugin = load_vst3(path)
    valid = sorted(plugin.parameters)
    for key, value in params.items():
        if key not in valid:
            raise EffectError(_unknown("parameter", key, valid, f" for {name}"))
        try:
            setattr(plugin, key, value)
        except (ValueError, TypeError) as exc:
            raise EffectError(
                f"{name}: {key}={value!r} rejected ({' '.join(str(exc).split())[:160]}); "
                f"list values with: neuralfx effects --plugin {path}"
            ) from None
    return plugin


def plugin_parameters(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(name, "value [units] (range or choices)") for every parameter of a VST3 plugin."""
    plugin = load_vst3(path)
    rows = []
    for name, param in plugin.parameters.items():
        units = getattr(param, "units", "") or ""
        kind = getattr(param, "type", float)
        choices = [str(v) for v in getattr(param, "valid_values", [])]
        if kind is bool:
            rng = "on/off"
        elif kind is str:
            rng = "one of " + ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
        else:
            lo, hi, _ = getattr(param, "range", (None, None, None))
            rng = f"{lo}..{hi}"
        rows.append((name, f"{getattr(plugin, name)}{' ' + units if units else ''} ({rng})"))
    return rows
