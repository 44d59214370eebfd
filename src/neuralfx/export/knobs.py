"""The knob inputs a model file declares: checked on load, so render and info can trust them.

A conditioned model takes ``1 + N`` inputs per sample (the audio, then each knob scaled to 0..1).
Our files name the knobs in the ``neuralfx`` metadata (``knobs``: name, unit, lo, hi, in input
order); another tool's multi-input file (an AIDA-X capture with PARAM1/PARAM2) says nothing, so
its knobs are ``param1``, ``param2`` over 0..1, the values AIDA-X's own knobs send.
"""

from __future__ import annotations

import math
from typing import Any

from ..data.knobs import MAX_KNOBS, Knob
from ..errors import ModelFileError, plural


def host_knobs(n: int) -> list[dict[str, Any]]:
    """What a file without knob metadata gets: AIDA-X's PARAM1.. as 0..1 knobs."""
    return [{"name": f"param{i + 1}", "unit": "", "lo": 0.0, "hi": 1.0} for i in range(n)]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_knob_metadata(meta: dict[str, Any], in_channels: int, where: str) -> dict[str, Any]:
    """Refuse a ``knobs`` list that does not describe the model's inputs; fill in the host's
    names for a multi-input file that has none. Also checks ``holdout`` and
    ``test_esr_by_setting``, which ``info`` prints."""
    fix = "export the model again"
    knobs = meta.get("knobs")
    if knobs is None:
        meta = {**meta, "knobs": host_knobs(in_channels - 1)} if in_channels > 1 else meta
    else:
        if not isinstance(knobs, list) or len(knobs) > MAX_KNOBS:
            raise ModelFileError(
                f"{where}: metadata knobs is not a list of at most {MAX_KNOBS} knobs; {fix}"
            )
        names = set()
        for i, k in enumerate(knobs):
            ok = (
                isinstance(k, dict)
                and isinstance(k.get("name"), str)
                and k["name"].strip()
                and isinstance(k.get("unit", ""), str)
                and _number(k.get("lo"))
                and _number(k.get("hi"))
            )
            if not ok or not k["lo"] < k["hi"]:
                raise ModelFileError(
                    f"{where}: metadata knobs[{i}] is {str(k)[:60]}; each knob needs a name, "
                    f"a unit (a string) and finite lo < hi: {fix}"
                )
            if k["name"] in names:
                raise ModelFileError(f"{where}: metadata names knob {k['name']!r} twice; {fix}")
            names.add(k["name"])
        if len(knobs) != in_channels - 1:
            raise ModelFileError(
                f"{where}: metadata lists {plural(len(knobs), 'knob')} but the model takes "
                f"{plural(in_channels - 1, 'knob input')} ({in_channels} in all); {fix}"
            )
    holdout = meta.get("holdout")
    if holdout is not None and not (
        isinstance(holdout, list) and all(isinstance(h, str) for h in holdout)
    ):
        raise ModelFileError(f"{where}: metadata holdout is not a list of setting labels; {fix}")
    by_setting = meta.get("test_esr_by_setting")
    if by_setting is not None and not (
        isinstance(by_setting, dict) and all(_number(v) for v in by_setting.values())
    ):
        raise ModelFileError(
            f"{where}: metadata test_esr_by_setting is not a map of settings to numbers; {fix}"
        )
    return meta


def model_knobs(meta: dict[str, Any]) -> tuple[Knob, ...]:
    """The knobs of a loaded model's (checked) metadata, in input order."""
    return tuple(
        Knob(k["name"], float(k["lo"]), float(k["hi"]), k.get("unit", ""))
        for k in meta.get("knobs") or ()
    )


def describe_knob(k: Knob) -> str:
    """``drive_db 0..24 dB``: a knob and its range, as errors and ``info`` show it."""
    return f"{k.name} {k.lo:g}..{k.hi:g}{' ' + k.unit if k.unit else ''}"
