"""--target-esr: a run stops once its kept model reaches the target, and finishes as usual."""

import dataclasses
import json
import math

import pytest
from utils import FAST_FLAGS, fast_config

import neuralfx
from neuralfx.cli import main
from neuralfx.config import TrainConfig
from neuralfx.export import load_model
from neuralfx.training.forecast import records
from neuralfx.training.runs import read_metrics
from neuralfx.training.state import Progress, stop_reason

FLAGS = [*FAST_FLAGS, "--render-every", "0", "--threads", "1"]


def test_a_reached_target_stops_the_run_which_still_finishes(gain_data, capsys):
    r = neuralfx.train(fast_config(gain_data, max_epochs=50, target_esr=100.0))
    assert r.stopped_by == "target" and r.epochs == 1
    saved = json.loads((r.run_dir / "result.json").read_text())
    assert saved["stopped_by"] == "target" and math.isfinite(saved["test_esr"])
    _, meta = load_model(r.model_path)
    assert meta["test_esr"] == pytest.approx(r.test_esr)
    assert "stopped by target ESR 100" in capsys.readouterr().err


def test_a_resumed_run_past_its_target_stops_at_once(gain_data):
    neuralfx.train(fast_config(gain_data, max_epochs=2, early_stop_patience=100))
    r = neuralfx.train(
        fast_config(gain_data, max_epochs=10, early_stop_patience=100, target_esr=100.0),
        resume=True,
    )
    assert r.stopped_by == "target" and r.epochs == 2
    assert len(read_metrics(r.run_dir / "metrics.csv")) == 2


def test_the_stop_rules_name_the_first_that_holds():
    cfg = TrainConfig(target_esr=0.01, early_stop_patience=3, max_epochs=10, budget_s=60)
    assert stop_reason(cfg, Progress()) is None
    assert stop_reason(cfg, Progress(best_val_esr=0.02, since_best=2, epoch=9)) is None
    assert stop_reason(cfg, Progress(best_val_esr=0.01, since_best=3, epoch=10)) == "target"
    # a budget's cosine tail starts at 70 %: early stopping waits for it (next test)
    tail = [{"epoch": i, "seconds": 43.0 + i} for i in range(3)]
    assert stop_reason(cfg, Progress(since_best=3, epoch=10, rows=tail)) == "early_stop"
    assert stop_reason(cfg, Progress(epoch=10, train_seconds=60)) == "max_epochs"
    assert stop_reason(cfg, Progress(train_seconds=60)) == "budget"
    assert stop_reason(TrainConfig(), Progress(best_val_esr=0.0)) is None, "0 is no target"


def test_the_flag_sets_the_target_and_a_negative_one_is_refused_in_one_line(gain_data, capsys):
    argv = ["train", str(gain_data), *FLAGS, "--max-epochs", "1", "--run-name", "f"]
    assert main([*argv, "--target-esr", "0.5"]) == 0
    config = json.loads((gain_data / "runs" / "f" / "config.json").read_text())
    assert config["target_esr"] == 0.5
    capsys.readouterr()
    assert main([*argv[:-1], "g", "--target-esr", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "target_esr (--target-esr) = -1: must be in [0, 1000]" in err, err


def test_the_quiet_epoch_line_shows_the_best_esr_and_the_forecast(gain_data, capsys):
    cfg = fast_config(gain_data, max_epochs=5, early_stop_patience=100, target_esr=1e-9)
    r = neuralfx.train(cfg)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch")]
    rows = read_metrics(r.run_dir / "metrics.csv")
    assert len(lines) == len(rows) == 5
    for i, line in enumerate(lines):
        kept = records(rows[: i + 1])
        assert f"best ESR {kept[-1][1]:.2e}" in line, line
        assert ("at end" in line) == (len(kept) >= 3), line
        assert "target 1e-09" in line, line
    assert "at end" in lines[-1], "the seeded run sets three records in five epochs"


def test_with_a_cosine_tail_early_stopping_waits_for_the_landing():
    cfg = TrainConfig(early_stop_patience=3, budget_s=100)
    rows = [{"epoch": i, "seconds": 10.0 * (i + 1)} for i in range(7)]  # 10..70 s: the hold
    stuck = dict(since_best=7, epoch=7, train_seconds=70.0)
    assert stop_reason(cfg, Progress(rows=rows, **stuck)) is None
    rows += [{"epoch": 7, "seconds": 80.0}, {"epoch": 8, "seconds": 85.0}]
    assert stop_reason(cfg, Progress(rows=rows, **stuck)) is None  # two epochs into the tail
    rows.append({"epoch": 9, "seconds": 90.0})
    assert stop_reason(cfg, Progress(rows=rows, **stuck)) == "early_stop"
    # halving on plateaus has no landing to wait for
    plateau = dataclasses.replace(cfg, lr_schedule="plateau")
    assert stop_reason(plateau, Progress(rows=rows[:3], **stuck)) == "early_stop"
    # without a budget the cosine runs over max_epochs, and so does the wait
    by_epochs = TrainConfig(early_stop_patience=3, lr_schedule="cosine", max_epochs=10)
    assert stop_reason(by_epochs, Progress(rows=rows[:7], **stuck)) is None
    assert stop_reason(by_epochs, Progress(rows=rows[:10], **stuck)) == "early_stop"
