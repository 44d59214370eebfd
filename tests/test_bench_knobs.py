"""bench/knobs.py end to end at its smoke-test size: four workers, every model scored."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from scipy.signal import correlate

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
def test_knob_bench_scores_every_model_on_an_unseen_phrase(tmp_path):
    out = tmp_path / "knobs.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "bench")])}
    cmd = [sys.executable, str(ROOT / "bench" / "knobs.py"), "--quick"]
    r = subprocess.run(
        [*cmd, "--out", str(out), "--work", str(tmp_path / "work")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(out.read_text())
    assert [row["gain_db"] for row in got["rows"]] == got["gains_db"] == [10, 20, 30]
    held = [row for row in got["rows"] if row["holdout"]]
    assert [row["gain_db"] for row in held] == [got["holdout_db"]] == [20]
    for row in got["rows"]:
        for key in ("conditioned", "conditioned_plain", "dedicated_split"):
            assert math.isfinite(row[key]) and row[key] > 0
        assert row["ratio_split"] == pytest.approx(row["conditioned"] / row["dedicated_split"])
        assert (row["dedicated_full"] is not None) == row["holdout"]
    # the conditioned run trained without the held-out setting, which it still scored
    (cond,) = got["runs"]["conditioned"]
    assert cond["holdout"] == ["gain=20"] and set(cond["unseen_esr"]) == {"10", "20", "30"}
    (plain,) = got["runs"]["conditioned_plain"]
    assert plain["knob_teacher"] == "off" and plain["holdout"] == ["gain=20"]
    # each dedicated T/n model got its share of the budget
    split = got["runs"]["dedicated_split"]
    assert [job["budget_s"] for job in split] == [pytest.approx(got["budget_s"] / 3)] * 3
    # the scoring phrase appears nowhere in the training input (normalised cross-correlation)
    data = next((tmp_path / "work").glob("data-*"))
    window = np.load(data / "heldout.npz")["x"][:22050].astype(np.float64)
    train_x, _ = soundfile.read(data / "input" / "clean.wav", dtype="float64")
    corr = correlate(train_x, window, mode="valid", method="fft")
    cum = np.concatenate([[0.0], np.cumsum(train_x**2)])
    energy = cum[len(window) :] - cum[: -len(window)]
    peak = np.max(np.abs(corr) / np.sqrt(energy * np.sum(window**2) + 1e-12))
    assert peak < 0.5
    assert "unseen phrase" in r.stdout
