"""``DATA/knobs.csv``: the knob settings of each output, for a model that learns every setting.

The table's header is ``file,<knob>[,<knob>...]`` (up to three knobs); each row names one output
(a path relative to ``output/``) and its knob values in the knob's own units (a pedal's 0..10,
dB, Hz). A knob's range is the min..max of its column, unless a row whose ``file`` cell is
``range`` gives ``lo:hi`` per knob, or ``--knob-range name=lo:hi`` does. The model sees each
knob scaled linearly to 0..1 over its range, AIDA-X's convention for its two knob inputs.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import write_text_atomic
from ..errors import DatasetError

KNOBS_FILE = "knobs.csv"
MAX_KNOBS = 3  # RTNeural hosts like AIDA-X feed at most two; three keeps room for a switch
RANGE_ROW = "range"


@dataclass(frozen=True)
class Knob:
    name: str
    lo: float
    hi: float
    unit: str = ""  # from a header cell ``name[unit]``, e.g. drive[dB]; "" for a plain number

    def scale(self, value: float) -> float:
        """The model's input for ``value``: 0 at ``lo``, 1 at ``hi``."""
        return (value - self.lo) / (self.hi - self.lo)

    def unscale(self, scaled: float) -> float:
        return self.lo + scaled * (self.hi - self.lo)

    def check(self, value: float, where: str) -> float:
        if not (self.lo <= value <= self.hi) or not math.isfinite(value):
            raise DatasetError(
                f"{where}: {self.name}={value:g} is outside its range {self.lo:g}..{self.hi:g}; "
                f"pick a value inside it or widen the range (--knob-range {self.name}=LO:HI)"
            )
        return value


@dataclass(frozen=True)
class KnobTable:
    knobs: tuple[Knob, ...]
    settings: dict[str, tuple[float, ...]]  # output path relative to output/ -> knob values
    path: Path

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.knobs)

    def scaled(self, output: str) -> tuple[float, ...]:
        return tuple(k.scale(v) for k, v in zip(self.knobs, self.settings[output]))

    def label(self, output: str) -> str:
        """``drive=5,tone=3``: how a setting is named in logs, files and reports."""
        return setting_label(self.names, self.settings[output])


def setting_label(names: tuple[str, ...] | list[str], values: tuple[float, ...]) -> str:
    return ",".join(f"{n}={v:g}" for n, v in zip(names, values))


def knob_metadata(knobs: tuple[Knob, ...]) -> list[dict[str, object]]:
    """What a model file says about its knob inputs, in input order (input 1 + i is knob i)."""
    return [{"name": k.name, "unit": k.unit, "lo": k.lo, "hi": k.hi} for k in knobs]


def parse_holdout(text: str, table: KnobTable) -> set[str]:
    """``--holdout gain=5[,tone=3]`` -> the outputs at that setting (every condition holds)."""
    conditions = []
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            if not (sep and name):
                raise ValueError
            v = float(value)
        except ValueError:
            raise DatasetError(
                f"--holdout {text!r}: write knob=value[,knob=value], e.g. gain=5"
            ) from None
        if name not in table.names:
            raise DatasetError(
                f"--holdout {text!r}: no knob {name!r} in {table.path} ({', '.join(table.names)})"
            )
        conditions.append((table.names.index(name), v))
    chosen = {
        out
        for out, values in table.settings.items()
        if all(math.isclose(values[i], v, rel_tol=1e-9, abs_tol=1e-9) for i, v in conditions)
    }
    if not chosen:
        have = sorted({table.label(o) for o in table.settings})
        raise DatasetError(
            f"--holdout {text!r}: no output of {table.path} is at that setting; "
            f"the settings are {'; '.join(have[:8])}"
        )
    return chosen


def with_knobs(x: np.ndarray, scaled: np.ndarray | list[float]) -> np.ndarray:
    """A conditioned model's input ``(time, 1 + N)``: the audio, then each knob's 0..1 value,
    constant (``scaled`` of shape ``(N,)``) or one per sample (``(time, N)``)."""
    scaled = np.asarray(scaled, np.float32)
    out = np.empty((len(x), 1 + scaled.shape[-1]), np.float32)
    out[:, 0] = x
    out[:, 1:] = scaled
    return out


def parse_knob_range(text: str) -> tuple[str, float, float]:
    """``gain=0:10`` -> ("gain", 0.0, 10.0)."""
    name, sep, spec = text.partition("=")
    lo, sep2, hi = spec.partition(":")
    try:
        if not (sep and sep2 and name.strip()):
            raise ValueError
        lo_v, hi_v = float(lo), float(hi)
    except ValueError:
        raise DatasetError(f"--knob-range {text!r}: write name=lo:hi, e.g. gain=0:10") from None
    if not (math.isfinite(lo_v) and math.isfinite(hi_v) and lo_v < hi_v):
        raise DatasetError(f"--knob-range {text!r}: lo must be below hi, both finite")
    return name.strip(), lo_v, hi_v


def read_knobs(
    data_dir: str | Path, ranges: dict[str, tuple[float, float]] | None = None
) -> KnobTable | None:
    """The dataset's knob table, checked against ``output/``; None when it has none."""
    root = Path(data_dir)
    path = root / KNOBS_FILE
    if not path.is_file():
        return None
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: unreadable ({type(exc).__name__}); save it as CSV") from None
    rows = [[c.strip() for c in r] for r in rows if any(c.strip() for c in r)]
    if not rows or rows[0][:1] != ["file"] or len(rows[0]) < 2:
        raise DatasetError(
            f"{path}: the first line must be the header file,<knob>[,<knob>...], e.g. file,gain"
        )
    names, units = zip(*(_name_and_unit(c) for c in rows[0][1:]))
    if len(names) > MAX_KNOBS:
        raise DatasetError(f"{path}: {len(names)} knobs; at most {MAX_KNOBS} are supported")
    if len(set(names)) < len(names) or not all(names):
        raise DatasetError(f"{path}: every knob needs its own non-empty name in the header")
    declared: dict[str, tuple[float, float]] = {}
    settings: dict[str, tuple[float, ...]] = {}
    for line, row in enumerate(rows[1:], start=2):
        where = f"{path}:{line}"
        if len(row) != len(rows[0]):
            raise DatasetError(f"{where}: {len(row)} cells, the header has {len(rows[0])}")
        if row[0] == RANGE_ROW:
            for name, cell in zip(names, row[1:]):
                _, lo, hi = parse_knob_range(f"{name}={cell}")
                declared[name] = (lo, hi)
            continue
        values = tuple(_number(c, n, where) for n, c in zip(names, row[1:]))
        if row[0] in settings:
            raise DatasetError(f"{where}: {row[0]} is listed twice; keep one row per output")
        settings[row[0]] = values
    if not settings:
        raise DatasetError(f"{path}: no rows; list every output with its knob values")
    _check_files(root, path, settings)
    declared.update(ranges or {})
    unknown = sorted(set(declared) - set(names))
    if unknown:
        raise DatasetError(
            f"--knob-range {unknown[0]}: no such knob in {path} ({', '.join(names)})"
        )
    knobs = []
    for i, name in enumerate(names):
        column = [v[i] for v in settings.values()]
        lo, hi = declared.get(name, (min(column), max(column)))
        if min(column) == max(column):
            raise DatasetError(
                f"{path}: knob {name} is {column[0]:g} in every row; a knob that never changes "
                "cannot be learned: drop the column or record other settings"
            )
        knob = Knob(name, lo, hi, units[i])
        for out, v in settings.items():
            knob.check(v[i], f"{path} ({out})")
        knobs.append(knob)
    return KnobTable(tuple(knobs), settings, path)


def merge_knobs(
    data_dir: str | Path, names: list[str], rows: list[tuple[str, list[float]]]
) -> Path:
    """Add (or replace) rows of ``knobs.csv``; an existing table with other knobs is refused."""
    path = Path(data_dir) / KNOBS_FILE
    old: dict[str, list[str]] = {}
    if path.is_file():
        table = [r for r in csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))) if r]
        if not table or table[0] != ["file", *names]:
            have = ",".join(table[0]) if table else "nothing"
            raise DatasetError(
                f"{path}: holds {have}, not file,{','.join(names)}; move it away to make "
                "outputs with other knobs"
            )
        old = {r[0]: r[1:] for r in table[1:]}
    new = {file: [f"{v:g}" for v in values] for file, values in rows}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", *names])
    for file, cells in {**old, **new}.items():
        w.writerow([file, *cells])
    return write_text_atomic(path, buf.getvalue())


def _name_and_unit(cell: str) -> tuple[str, str]:
    """``drive[dB]`` -> ("drive", "dB"); ``gain`` -> ("gain", "")."""
    if cell.endswith("]") and "[" in cell:
        name, _, unit = cell[:-1].partition("[")
        return name.strip(), unit.strip()
    return cell, ""


def _number(cell: str, name: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise DatasetError(f"{where}: {name}={cell!r} is not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"{where}: {name}={cell} is not a finite number")
    return value


def _check_files(root: Path, path: Path, settings: dict[str, tuple[float, ...]]) -> None:
    """Every row names an output that exists, and every output wav has a row."""
    out = root / "output"
    for file in settings:
        p = out / file
        if Path(file).is_absolute() or ".." in Path(file).parts or not p.is_file():
            raise DatasetError(f"{path}: {file} is not a file in {out}; fix the row or add it")
    wavs = {p.relative_to(out).as_posix() for p in out.rglob("*.wav")} if out.is_dir() else set()
    missing = sorted(wavs - set(settings))
    if missing:
        raise DatasetError(f"{path}: output/{missing[0]} has no row; add its knob values")
