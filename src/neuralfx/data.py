"""Dataset folder -> aligned (input, output) pairs -> train / validation / test blocks.

Layout (the lab's): ``DATA/input/*.wav`` clean, ``DATA/output/*.wav`` processed, paired by
file stem, or the single input with the single (or chosen) output. The split is by time inside
each pair, with no overlap, so the test ESR is measured on audio the model never trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE_HZ, read_wav
from .errors import DatasetError

# Files that may sit next to the audio without being audio: effect specs, notes.
_SIDECAR_SUFFIXES = {".json", ".toml", ".txt", ".md"}
MAX_TRIM_S = 0.1  # length differences up to this are trimmed; larger ones are an error


@dataclass(frozen=True)
class Pair:
    name: str  # the effect's name: the output file's stem
    input_path: Path
    output_path: Path


@dataclass
class Split:
    """Aligned mono float32 arrays for each part of the split."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def list_wavs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DatasetError(
            f"{folder}: missing; a dataset needs {folder.parent}/input/*.wav (clean) and "
            f"{folder.parent}/output/*.wav (processed); `neuralfx init {folder.parent}` makes one"
        )
    wavs = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p.is_dir() or p.suffix.lower() in _SIDECAR_SUFFIXES:
            continue
        if p.suffix.lower() != ".wav":
            raise DatasetError(
                f"{p}: not a .wav file; convert it to wav or move it out of {folder}"
            )
        wavs.append(p)
    if not wavs:
        raise DatasetError(f"{folder}: holds no .wav files; put the {folder.name} audio there")
    return wavs


def find_pairs(data_dir: str | Path, output_name: str = "") -> list[Pair]:
    """Pair every input with the output of the same stem, or the single pair."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder; `neuralfx init {root}` creates one")
    if output_name and (root / "output" / output_name).is_dir():
        return _pairs_in_effect_folder(root, output_name)
    inputs, outputs = list_wavs(root / "input"), list_wavs(root / "output")
    by_stem = {p.stem: p for p in outputs}
    if output_name:
        if output_name not in by_stem:
            raise DatasetError(
                f"{root / 'output' / (output_name + '.wav')}: no such output; "
                f"available: {', '.join(sorted(by_stem))}"
            )
        if len(inputs) != 1:
            raise DatasetError(
                f"{root / 'input'}: --output picks one output for a single input, but there are "
                f"{len(inputs)} inputs; pair them by file name instead"
            )
        return [Pair(output_name, inputs[0], by_stem[output_name])]
    if len(inputs) == 1:
        if len(outputs) == 1:
            return [Pair(outputs[0].stem, inputs[0], outputs[0])]
        raise DatasetError(
            f"{root / 'output'}: {len(outputs)} outputs for one input "
            f"({', '.join(sorted(by_stem))}); choose one with --output NAME"
        )
    pairs, unpaired = [], []
    for x in inputs:
        if x.stem in by_stem:
            pairs.append(Pair(x.stem, x, by_stem[x.stem]))
        else:
            unpaired.append(x)
    if unpaired:
        raise DatasetError(
            f"{unpaired[0]}: has no output of the same name in {root / 'output'}; "
            "name each output like its input"
        )
    extra = sorted(set(by_stem) - {x.stem for x in inputs})
    if extra:
        raise DatasetError(
            f"{by_stem[extra[0]]}: has no input of the same name in {root / 'input'}; "
            "remove it or add its clean input"
        )
    return pairs


def _pairs_in_effect_folder(root: Path, name: str) -> list[Pair]:
    """``output/NAME/X.wav`` for every ``input/X.wav``: one effect rendered from several inputs."""
    folder = root / "output" / name
    inputs, by_stem = list_wavs(root / "input"), {p.stem: p for p in list_wavs(folder)}
    for x in inputs:
        if x.stem not in by_stem:
            raise DatasetError(
                f"{x}: has no output {folder / x.name}; render it "
                f"(neuralfx data make {root} --effect SPEC --name {name} --force)"
            )
    extra = sorted(set(by_stem) - {x.stem for x in inputs})
    if extra:
        raise DatasetError(
            f"{by_stem[extra[0]]}: has no input of the same name in "
            f"{root / 'input'}; remove it or add its clean input"
        )
    return [Pair(name, x, by_stem[x.stem]) for x in inputs]


def dataset_name(data_dir: str | Path, pairs: list[Pair]) -> str:
    """Name used for renders (``<name>0.wav``): the output's stem, or the folder's name."""
    return pairs[0].name if len(pairs) == 1 else Path(data_dir).resolve().name


def load_pair(
    pair: Pair, latency_samples: int = 0, sample_rate_hz: int = SAMPLE_RATE_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Read, check and align one pair; small length differences are trimmed."""
    x = read_wav(pair.input_path, sample_rate_hz)
    y = read_wav(pair.output_path, sample_rate_hz)
    diff = abs(len(x) - len(y))
    if diff > MAX_TRIM_S * sample_rate_hz:
        raise DatasetError(
            f"{pair.output_path}: {len(y)} samples, its input {pair.input_path.name} has "
            f"{len(x)}; they differ by {diff / sample_rate_hz:.2f} s: export both from the same "
            "selection"
        )
    if latency_samples:
        # The output lags the input: drop the output's first samples so they line up.
        y = y[latency_samples:]
    n = min(len(x), len(y))
    return x[:n], y[:n]


def split_pairs(
    arrays: list[tuple[np.ndarray, np.ndarray]],
    fractions: tuple[float, float, float],
    name: str,
    min_train_samples: int,
    min_eval_samples: int,
) -> Split:
    """Cut each pair by time into consecutive blocks and join the blocks of each part."""
    if abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) <= 0:
        raise DatasetError(f"split {fractions}: three positive fractions summing to 1 are needed")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("tx", "ty", "vx", "vy", "ex", "ey")}
    for x, y in arrays:
        n = len(x)
        a = int(n * fractions[0])
        b = int(n * (fractions[0] + fractions[1]))
        for (kx, ky), (lo, hi) in zip(
            (("tx", "ty"), ("vx", "vy"), ("ex", "ey")), ((0, a), (a, b), (b, n))
        ):
            parts[kx].append(x[lo:hi])
            parts[ky].append(y[lo:hi])
    cat = {k: np.concatenate(v).astype(np.float32) for k, v in parts.items()}
    total = sum(len(x) for x, _ in arrays)
    if len(cat["tx"]) < min_train_samples or min(len(cat["vx"]), len(cat["ex"])) < min_eval_samples:
        need_s = (min_train_samples / fractions[0]) / SAMPLE_RATE_HZ
        raise DatasetError(
            f"{name}: {total / SAMPLE_RATE_HZ:.2f} s of audio is too short to train "
            f"(at least {need_s:.2f} s is needed for one segment); record more audio or "
            "lower --chunk/--warmup"
        )
    for part, ky in (("training", "ty"), ("validation", "vy"), ("test", "ey")):
        if float(np.max(np.abs(cat[ky]))) < 1e-6:
            raise DatasetError(
                f"{name}: the output is silent over the whole {part} block; the model would "
                "have nothing to learn or to be scored on: check the recording"
            )
    return Split(name, cat["tx"], cat["ty"], cat["vx"], cat["vy"], cat["ex"], cat["ey"])


def load_dataset(
    data_dir: str | Path,
    output_name: str = "",
    latency_samples: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    min_train_samples: int = 0,
    min_eval_samples: int = 1,
) -> Split:
    pairs = find_pairs(data_dir, output_name)
    arrays = [load_pair(p, latency_samples) for p in pairs]
    return split_pairs(
        arrays, fractions, dataset_name(data_dir, pairs), min_train_samples, min_eval_samples
    )
