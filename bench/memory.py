"""Peak resident memory of training and of rendering a 1-minute vs a 1-hour file.

Each measurement runs in a fresh Python process that reports its own ``ru_maxrss`` at exit, so
one does not inherit another's peak. The 1-hour input is written block by block as 16-bit PCM
(~318 MB; never held in memory here either), and rendered with the CLI's own code path
(``neuralfx render``). Streaming rendering must be flat in file length: the 1-hour peak should
match the 1-minute one within a few MB.

    python bench/memory.py [--hours 1.0] [--train-seconds 20] [--keep]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import soundfile as sf
from common import OUT, ensure_dataset, machine_note, save_json

from neuralfx.audio import SAMPLE_RATE_HZ

# Runs in the child: do the work, then print the peak RSS of this process in MiB.
_CHILD = """
import json, resource, sys
sys.path.insert(0, {bench!r})
{body}
print("PEAK_RSS_MIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

_RENDER = """
from neuralfx.cli import main
assert main(["render", {model!r}, {wav!r}, {out!r}, "--threads", "1"]) == 0
"""

_TRAIN_OURS = """
import neuralfx
from neuralfx.config import TrainConfig
neuralfx.train(TrainConfig(data_dir={data!r}, run_name="bench-memory", budget_s={seconds},
                           threads=2, quiet=True, render_every=0))
"""

_TRAIN_BASELINE = """
from baseline import train_baseline
from common import split_of
from pathlib import Path
train_baseline(split_of(Path({data!r})), {seconds}, threads=2)
"""

_IMPORT_ONLY = """
import torch, neuralfx
"""


def peak_mib(body: str) -> float:
    code = _CHILD.format(bench=str(Path(__file__).resolve().parent), body=body)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-800:])
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("PEAK_RSS_MIB")][-1]
    return float(line.split()[1])


def write_long_wav(path: Path, seconds: float, source: np.ndarray) -> Path:
    """``seconds`` of ``source`` repeated, as 16-bit PCM, written in blocks."""
    if path.is_file() and abs(sf.info(str(path)).duration - seconds) < 1:
        return path
    total = int(seconds * SAMPLE_RATE_HZ)
    tmp = path.with_suffix(".tmp.wav")
    with sf.SoundFile(str(tmp), "w", SAMPLE_RATE_HZ, 1, subtype="PCM_16", format="WAV") as f:
        done = 0
        while done < total:
            block = source[: min(len(source), total - done)]
            f.write(block)
            done += len(block)
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--train-seconds", type=float, default=20.0)
    p.add_argument("--model", default="", help="model.json to render (default: a trained LSTM)")
    p.add_argument("--keep", action="store_true", help="keep the long wav files afterwards")
    args = p.parse_args(argv)
    machine = machine_note()
    data = ensure_dataset("softclip")
    folder = OUT / "memory"
    folder.mkdir(parents=True, exist_ok=True)

    res: dict = {"machine": machine, "hours": args.hours}
    res["import_only_mib"] = peak_mib(_IMPORT_ONLY)
    res["train_ours_mib"] = peak_mib(_TRAIN_OURS.format(data=str(data), seconds=args.train_seconds))
    res["train_baseline_mib"] = peak_mib(
        _TRAIN_BASELINE.format(data=str(data), seconds=args.train_seconds)
    )
    model = args.model or str(data / "runs" / "bench-memory" / "model.json")
    res["model"] = model
    source, _ = sf.read(str(data / "input" / "clean_signal.wav"), dtype="float32")
    lengths = {"1 min": 60.0, f"{args.hours:g} h": args.hours * 3600.0}
    res["render"] = {}
    for label, seconds in lengths.items():
        wav = write_long_wav(folder / f"in-{int(seconds)}s.wav", seconds, source)
        out = folder / f"out-{int(seconds)}s.wav"
        mib = peak_mib(_RENDER.format(model=model, wav=str(wav), out=str(out)))
        res["render"][label] = {
            "seconds": seconds,
            "peak_mib": mib,
            "input_mb": wav.stat().st_size / 1e6,
        }
        print(
            f"render {label}: peak {mib:.0f} MiB (input {wav.stat().st_size / 1e6:.0f} MB)",
            flush=True,
        )
        if not args.keep:
            out.unlink(missing_ok=True)
            if seconds > 60:
                wav.unlink(missing_ok=True)
    r = list(res["render"].values())
    res["render_growth_mib"] = r[-1]["peak_mib"] - r[0]["peak_mib"]
    res["loadavg_end"] = machine_note()["loadavg_1m"]
    save_json("memory", res)
    print(json.dumps({k: v for k, v in res.items() if k != "machine"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
