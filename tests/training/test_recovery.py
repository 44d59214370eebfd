"""Back from a diverged epoch: the rules, the rollback, and a run that uses it and resumes."""

import math

import pytest
import torch
from utils import fast_config

import neuralfx
from neuralfx.training import loop, runs
from neuralfx.training.averaging import WeightAverage
from neuralfx.training.recovery import diverged, roll_back
from neuralfx.training.runs import read_metrics
from neuralfx.training.state import Progress


def test_an_epoch_diverged_by_its_validation_or_its_skipped_steps():
    assert diverged(0.5, 0.01, skipped=0, steps=100) == "its validation loss is 50x the record's"
    assert diverged(0.09, 0.01, 0, 100) is None, "9x is a bad epoch, not a divergence"
    assert diverged(math.inf, 0.01, 0, 100) == "its validation loss is not finite"
    assert diverged(math.nan, math.inf, 0, 100) == "its validation loss is not finite"
    assert diverged(0.011, 0.01, 51, 100) == "51 of its 100 steps had a non-finite gradient"
    assert diverged(0.011, 0.01, 50, 100) is None
    assert diverged(5.0, math.inf, 0, 0) is None, "no record yet: nothing to compare with"


def test_a_rollback_restores_the_record_with_fresh_moments_and_half_the_rate():
    model = torch.nn.Linear(3, 1)
    p = Progress()
    p.record(0, 0.01, 0.01, model)
    kept = {k: v.clone() for k, v in p.best_state.items()}
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=0.02)
    average = WeightAverage(params, 0.99)
    for _ in range(3):  # away from the record
        model(torch.randn(8, 3)).square().mean().backward()
        opt.step()
        average.update()
    fresh = roll_back(model, opt, average, p)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, kept[k])
    assert not opt.state and opt.param_groups[0]["lr"] == pytest.approx(0.01)
    assert p.rate_scale == 0.5
    assert fresh is not average and fresh.steps == 0
    for a, w in zip(fresh.average, params):
        torch.testing.assert_close(a, w.detach())
    assert roll_back(model, opt, None, p) is None and p.rate_scale == 0.25


def test_progress_written_before_rollbacks_loads_with_the_full_rate():
    old = {k: v for k, v in Progress().__dict__.items() if k != "rate_scale"}
    p = Progress.from_dict(old, "here")
    assert p.rate_scale == 1.0


@pytest.mark.parametrize("budget", [0.0, 60.0])
def test_a_run_whose_weights_blow_up_goes_back_to_its_record_and_resumes(
    gain_data, monkeypatch, capsys, budget
):
    real = loop.Trainer.train_epoch
    blown = []

    def blow_up_the_third(self, learner=None):
        out = real(self, learner)
        if self.progress.epoch == 2 and not blown:  # as if a step had left the basin
            with torch.no_grad():
                for w in self.model.parameters():
                    w.mul_(40.0)
                if self.average is not None:
                    for a in self.average.average:
                        a.mul_(40.0)
            blown.append(True)
        return out

    monkeypatch.setattr(loop.Trainer, "train_epoch", blow_up_the_third)
    kw = dict(max_epochs=5, run_name="r", budget_s=budget, early_stop_patience=100)
    r = neuralfx.train(fast_config(gain_data, **kw))
    assert blown and "epoch 2 diverged (its validation loss is" in capsys.readouterr().err
    ck = runs.load_checkpoint(runs.run_paths(gain_data, "r"))
    assert ck["progress"]["rate_scale"] == 0.5  # one rollback
    rows = read_metrics(r.run_dir / "metrics.csv")
    assert rows[2]["val_loss"] > 10 * min(row["val_loss"] for row in rows[:2])
    # back at the record: the next epoch is near it again, not at the blown-up weights
    assert rows[3]["val_loss"] < 2 * min(row["val_loss"] for row in rows[:2])
    if not budget:  # the plateau schedule's rate, halved at once
        assert rows[3]["lr"] <= 0.5 * rows[1]["lr"]
    monkeypatch.setattr(loop.Trainer, "train_epoch", real)
    more = neuralfx.train(fast_config(gain_data, **{**kw, "max_epochs": 7}), resume=True)
    ck = runs.load_checkpoint(runs.run_paths(gain_data, "r"))
    assert more.epochs == 7 and ck["progress"]["rate_scale"] == 0.5
