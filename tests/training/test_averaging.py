"""The weight average: what it computes, that it is the model kept, and that it resumes."""

import pytest
import torch
from utils import FAST_FLAGS, fast_config

import neuralfx
from neuralfx.cli import main
from neuralfx.errors import RunError
from neuralfx.export import load_model
from neuralfx.training.averaging import WeightAverage
from neuralfx.training.runs import read_metrics


def test_the_average_follows_the_ramped_decay_and_swaps_back():
    w = torch.nn.Parameter(torch.zeros(3))
    avg = WeightAverage([w], decay=0.5)
    expected = torch.zeros(3)
    for step, value in enumerate([1.0, 2.0, 4.0, 8.0], start=1):
        with torch.no_grad():
            w.fill_(value)
        avg.update()
        d = min(0.5, (1 + step) / (10 + step))
        expected = d * expected + (1 - d) * value
    assert torch.allclose(avg.average[0], expected)
    with avg.applied():
        assert torch.allclose(w, expected)
    assert torch.equal(w.detach(), torch.full((3,), 8.0)), "the trained weights come back"


def test_the_kept_model_is_the_average_not_the_last_step(gain_data):
    r = neuralfx.train(
        fast_config(gain_data, max_epochs=3, early_stop_patience=100, weight_average=0.9)
    )
    ck = torch.load(r.run_dir / "checkpoint.pt", weights_only=True)
    model, meta = load_model(r.model_path)
    kept = [p.detach() for p in model.parameters()]
    last = list(ck["model"].values())
    average = ck["average"]["average"]
    assert ck["average"]["steps"] > 0
    if meta["epoch"] == r.epochs - 1:  # the last epoch was the record
        assert all(torch.allclose(k, a) for k, a in zip(kept, average))
    assert not all(torch.allclose(a, b) for a, b in zip(average, last))


def test_an_averaged_run_resumes_as_if_never_stopped(gain_data):
    flags = [*FAST_FLAGS, "--patience", "100", "--render-every", "0", "--threads", "1"]
    flags += ["--average", "0.95"]
    assert main(["train", str(gain_data), *flags, "--run-name", "r", "--max-epochs", "2"]) == 0
    assert main(["train", str(gain_data), "--resume", "r", "--max-epochs", "4", "--quiet"]) == 0
    assert main(["train", str(gain_data), *flags, "--run-name", "u", "--max-epochs", "4"]) == 0
    resumed = read_metrics(gain_data / "runs" / "r" / "metrics.csv")
    straight = read_metrics(gain_data / "runs" / "u" / "metrics.csv")
    assert [r["val_loss"] for r in resumed] == pytest.approx([r["val_loss"] for r in straight])
    a, _ = load_model(gain_data / "runs" / "r" / "model.json")
    b, _ = load_model(gain_data / "runs" / "u" / "model.json")
    assert all(torch.allclose(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_a_checkpoint_whose_average_does_not_fit_is_refused_in_one_line(gain_data):
    w = torch.nn.Parameter(torch.zeros(3))
    avg = WeightAverage([w], decay=0.9)
    for bad in (None, {"steps": 1, "average": [torch.zeros(4)]}, {"steps": "x", "average": []}):
        with pytest.raises(RunError, match="checkpoint.pt: the checkpoint's weight average"):
            avg.load_state_dict(bad, "run/checkpoint.pt")
