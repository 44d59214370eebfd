"""The weight average: what it computes, that it is the model kept, and that it resumes."""

import pytest
import torch
from utils import FAST_FLAGS, fast_config

import neuralfx
from neuralfx.cli import main
from neuralfx.errors import RunError
from neuralfx.export import load_model
from neuralfx.training import loop
from neuralfx.training.averaging import WeightAverage, pick_weights, settled
from neuralfx.training.runs import read_metrics
from neuralfx.training.state import Progress


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


def test_a_landing_settles_after_one_averaging_horizon_at_a_low_rate():
    assert not settled(999, 0.999) and settled(1000, 0.999)
    assert settled(10, 0.9) and not settled(10**9, 0.0), "no average, nothing to settle"


@pytest.mark.parametrize(
    "steps, trained, kept", [(0, 1.0, "average"), (10, 3.0, "average"), (10, 1.0, "trained")]
)
def test_once_settled_the_better_of_the_trained_weights_and_their_average_is_kept(
    steps, trained, kept
):
    w = torch.nn.Parameter(torch.zeros(1))
    avg = WeightAverage([w], decay=0.9)
    with torch.no_grad():
        avg.average[0].fill_(2.0)
        w.fill_(trained)
    calls = []

    def score():  # the loss is the weight itself, so each candidate scores itself
        calls.append(float(w.detach()))
        return float(w.detach()), 0.0

    scores, averaged = pick_weights(avg, score, low_rate_steps=steps)
    assert calls == ([2.0] if steps == 0 else [trained, 2.0]), "the trained ones only once settled"
    assert (averaged, scores[0]) == ((True, 2.0) if kept == "average" else (False, trained))
    assert float(w.detach()) == trained, "the trained weights are back in the model either way"
    assert pick_weights(None, score, 10**6) == ((trained, 0.0), False)


def test_a_cosine_landing_counts_its_low_rate_steps_and_lets_the_trained_weights_compete(
    gain_data, monkeypatch
):
    picks = []

    def spy(average, score, low_rate_steps):
        n = []
        out = pick_weights(average, lambda: n.append(1) or score(), low_rate_steps)
        picks.append((low_rate_steps, len(n)))
        return out

    monkeypatch.setattr(loop, "pick_weights", spy)
    cfg = fast_config(
        gain_data, max_epochs=6, lr_schedule="cosine", weight_average=0.9, early_stop_patience=100
    )
    r = neuralfx.train(cfg)
    ck = torch.load(r.run_dir / "checkpoint.pt", weights_only=True)
    assert ck["progress"]["low_rate_steps"] == picks[-1][0], "validation sees the count"
    assert picks[0] == (0, 1), "the first epochs validate the average alone"
    assert any(n == 2 for s, n in picks if s >= 10), "a settled landing scores both"
    assert ck["progress"]["low_rate_steps"] >= 10
    old = {k: v for k, v in ck["progress"].items() if k != "low_rate_steps"}
    assert Progress.from_dict(old, "x").low_rate_steps == 0, "older checkpoints resume"


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
