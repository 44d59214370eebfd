"""Finding a dataset's files and pairing each clean input with its processed output.

Layout (the lab's): ``DATA/input/*.wav`` clean, ``DATA/output/*.wav`` processed, paired by
file stem, or the single input with the single (or chosen) output; ``output/NAME/X.wav`` pairs
with ``input/X.wav`` when one effect was rendered from several inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetError

# Files that may sit next to the audio without being audio: effect specs, notes.
_SIDECAR_SUFFIXES = {".json", ".toml", ".txt", ".md"}


@dataclass(frozen=True)
class Pair:
    name: str  # the effect's name: the output file's stem
    input_path: Path
    output_path: Path


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


def every_pair(data_dir: str | Path) -> list[Pair]:
    """The training pairs, or, when one input has several outputs, one pair per output."""
    root = Path(data_dir)
    try:
        return find_pairs(root)
    except DatasetError:
        out = root / "output"
        names = (
            sorted(
                {p.stem for p in out.glob("*.wav")}
                | {p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")}
            )
            if out.is_dir()
            else []
        )
        if len(names) < 2:
            raise
        return [pair for name in names for pair in find_pairs(root, name)]


def setting_pairs(data_dir: str | Path, outputs: list[str]) -> list[Pair]:
    """One pair per knob setting (``knobs.csv`` rows, paths relative to ``output/``): each
    output with the single input, or with the input of its file name when there are several."""
    root = Path(data_dir)
    inputs = list_wavs(root / "input")
    by_stem = {p.stem: p for p in inputs}
    pairs = []
    for out in outputs:
        path = root / "output" / out
        x = inputs[0] if len(inputs) == 1 else by_stem.get(path.stem)
        if x is None:
            raise DatasetError(
                f"{path}: has no input of the same name in {root / 'input'}; with several "
                "inputs each setting's output is named like its input (output/SETTING/X.wav)"
            )
        pairs.append(Pair(Path(out).with_suffix("").as_posix(), x, path))
    return pairs
