"""The tiny study that the sweep and the report tests share (swept once per session)."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neuralfx.study.sweep import sweep

# 2 effects x 2 models of 8 units, 3 s of audio, 3 short epochs: a few seconds per run.
TINY = """
budget_s = 0
max_epochs = 3
duration_s = 3
effects = ["softclip", {name = "lowpass", spec = "lowpass(cutoff_hz=800)"}]
models = ["lstm", "conv-lstm"]
hidden_sizes = [8]

[train]
warmup_samples = 256
chunk_samples = 512
chunks_per_segment = 2
batch_size = 16
# the lowpass is linear: by default it would be set to its filter, not trained, and these
# tests are about killed and resumed training (the linear start: tests/training)
linear_start = "off"
"""
RUNS = ["softclip-lstm8-s0", "softclip-conv-lstm8-s0", "lowpass-lstm8-s0", "lowpass-conv-lstm8-s0"]
PNG = b"\x89PNG\r\n\x1a\n"


def _wait_for(condition, timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def _finished(out: Path) -> set[str]:
    return {p.parent.name for p in out.glob("runs/*/analysis.json")}


def _training(out: Path) -> set[str]:
    """Runs killed mid-training: a checkpoint but no result yet."""
    return {
        p.parent.name
        for p in out.glob("runs/*/checkpoint.pt")
        if not (p.parent / "result.json").is_file()
    }


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def resumed(tmp_path_factory):
    """A sweep SIGKILLed (with its workers) once one run has finished and another has a
    checkpoint, then run again to completion."""
    root = tmp_path_factory.mktemp("sweep")
    study, out = root / "tiny.toml", root / "study"
    study.write_text(TINY)
    log = open(root / "killed.log", "w")  # noqa: SIM115 (closed after the process ends)
    proc = subprocess.Popen(
        [sys.executable, "-m", "neuralfx", "sweep", str(study), "--out", str(out), "--jobs", "2"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # its own group: the kill takes the workers
    try:
        _wait_for(
            lambda: _finished(out) and _training(out),
            120,
            "one finished run and one run in training",
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    done, partial = _finished(out), _training(out)
    # finished and analysed, or finished but killed during the analysis
    stamps = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/*/result.json")}
    lines: list[str] = []
    summary = sweep(study, jobs=1, out=out, echo=lines.append)  # the pool ran above
    return {
        "out": out,
        "study": study,
        "done": done,
        "partial": partial,
        "stamps": stamps,
        "summary": summary,
        "lines": lines,
    }


# 1 effect with a 4-setting knob grid (one held out) x 1 model of 8 units, 2 short epochs.
KNOB_TINY = """
budget_s = 0
max_epochs = 2
duration_s = 3
effects = [{name = "drive", spec = "softclip", knob = "drive_db=0:24:4", holdout = "drive_db=16"}]
models = ["lstm"]
hidden_sizes = [8]

[train]
warmup_samples = 256
chunk_samples = 512
chunks_per_segment = 2
batch_size = 16
"""
KNOB_RUN = "drive-lstm8-s0"


@pytest.fixture(scope="session")
def knob_study(tmp_path_factory):
    """The knob study swept once, in this process (one run: no pool to start)."""
    root = tmp_path_factory.mktemp("knobsweep")
    study, out = root / "knob.toml", root / "study"
    study.write_text(KNOB_TINY)
    lines: list[str] = []
    summary = sweep(study, jobs=1, out=out, echo=lines.append)
    return {"out": out, "study": study, "summary": summary, "lines": lines}


@pytest.fixture(scope="session")
def knob_run(tmp_path_factory):
    """`neuralfx train` on a `data make --knob` grid with one setting held out, renders on."""
    from utils import fast_config, noise

    import neuralfx
    from neuralfx.audio import write_wav
    from neuralfx.data.make import make_outputs

    root = tmp_path_factory.mktemp("knobrun") / "data"
    write_wav(root / "input" / "riff.wav", noise(6))
    make_outputs(root, "softclip", "sc", knob="drive_db=0:24:4")
    write_wav(root / "guitar.wav", noise(1.0, seed=3))
    cfg = fast_config(root, max_epochs=3, holdout=("drive_db=16",), render_every=2)
    return neuralfx.train(cfg)
