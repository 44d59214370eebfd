"""The knob teacher: a gain the knobs set, the batches it mixes, and a run that trains one."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from utils import fast_config, random_model, softclip_grid, spy_steps

import neuralfx
import neuralfx.models
from neuralfx.cli import main
from neuralfx.config import ModelConfig, load_config
from neuralfx.errors import RunError
from neuralfx.export import load_model, save_model
from neuralfx.training import loop, runs
from neuralfx.training.knob_teacher import TEACHER_SHARE, GainTeacher, KnobTeacher
from neuralfx.training.runs import read_metrics

torch.manual_seed(0)


@pytest.fixture(scope="module")
def drive_data(tmp_path_factory):
    """softclip at three drives: a knob that acts on the level the clipper sees."""
    return softclip_grid(tmp_path_factory.mktemp("teacher"), 3, "drive_db=0:24:3")


def test_the_teacher_is_the_network_fed_the_audio_and_a_gain_the_knobs_set():
    teacher = GainTeacher(ModelConfig(hidden_size=8, knobs=2))
    with torch.no_grad():
        teacher.log_gain.copy_(torch.tensor([math.log(4.0), -math.log(2.0)]))
    x = torch.randn(3, 50, 3) * 0.2
    x[..., 1:] = torch.rand(3, 1, 2)
    gain = 4.0 ** x[..., 1] * 0.5 ** x[..., 2]
    fed = torch.cat([x[..., :1], x[..., :1] * gain.unsqueeze(-1), x[..., 1:]], -1)
    torch.testing.assert_close(teacher(x)[0], teacher.net(fed)[0])
    assert teacher.in_channels == 3  # fed as the model is: the gained channel is its own
    # from one end of the range to the other: x4 on the first knob, /2 on the second
    assert teacher.gain_db() == pytest.approx([20 * math.log10(4), -20 * math.log10(2)], 1e-5)


def test_the_teacher_starts_as_the_model_and_hands_over_exactly_at_mid_range():
    cfg = ModelConfig(name="conv-lstm", hidden_size=8, knobs=2)
    model = neuralfx.models.build_model(cfg)
    t = KnobTeacher(cfg, 1e-2, 0.0, torch.device("cpu"), start=model)
    x = torch.randn(2, 60, 3) * 0.3
    x[..., 1:] = torch.rand(2, 1, 2)
    torch.testing.assert_close(t.model(x)[0], model(x)[0])  # no gained path yet
    with torch.no_grad():  # as if trained: a gain, and weights on the gained channel
        t.model.log_gain.copy_(torch.tensor([1.5, -0.4]))
        t.model.net.convs[0].conv.weight.normal_()
    student = neuralfx.models.build_model(cfg)
    t.hand_over(student)
    # at the middle of both knobs the student plays exactly what the teacher does
    x[..., 1:] = 0.5
    torch.testing.assert_close(student(x)[0], t.model(x)[0])
    x[..., 1] = 1.0  # elsewhere it is only a start: it learns the rest from the teacher
    assert not torch.allclose(student(x)[0], t.model(x)[0])


def test_mix_moves_a_share_of_segments_to_random_knobs_with_the_teachers_output():
    t = KnobTeacher(ModelConfig(hidden_size=8, knobs=1), 1e-2, 0.0, torch.device("cpu"))
    with torch.no_grad():
        t.model.log_gain.fill_(1.0)
    x = torch.randn(64, 300, 2) * 0.3
    x[..., 1] = torch.tensor([0.0, 0.5, 1.0]).repeat(22)[:64, None]
    y = torch.randn(64, 300, 1)
    mx, my = t.mix(x, y, np.random.default_rng(3))
    moved = torch.any(mx[..., 1] != x[..., 1], dim=1)
    assert 16 < int(moved.sum()) < 48  # about half
    torch.testing.assert_close(mx[..., 0], x[..., 0])  # the audio is the recorded input
    torch.testing.assert_close(mx[~moved], x[~moved])  # the rest is the recorded batch
    torch.testing.assert_close(my[~moved], y[~moved])
    k = mx[moved][..., 1]
    assert torch.all(k == k[:, :1]) and torch.all((k >= 0) & (k <= 1))  # one knob per segment
    # each moved target is the teacher's output over the whole segment from a zero state
    torch.testing.assert_close(my[moved], t.model(mx[moved])[0])
    assert not torch.equal(x, mx) and y.requires_grad is False


def test_a_conditioned_run_trains_a_teacher_and_exports_the_plain_student(drive_data, capsys):
    r = neuralfx.train(fast_config(drive_data, max_epochs=3, run_name="t", quiet=True))
    model, meta = load_model(r.model_path)
    assert model.knobs == 1 and type(model).__name__ == "RecurrentModel"
    ck = runs.load_checkpoint(runs.run_paths(drive_data, "t"))
    teacher = ck["knob_teacher"]["model"]
    assert set(teacher) >= {"log_gain", "net.dense.weight"}
    # the student's weights are not the teacher's: two models trained
    assert not torch.equal(ck["model"]["dense.weight"], teacher["net.dense.weight"])
    # the drive raises the level the clipper sees: the teacher's gain over the knob rose
    assert float(teacher["log_gain"][0]) > 0
    assert "knob teacher's input gain over each knob's range: drive_db +" in capsys.readouterr().err


def test_without_the_teacher_no_teacher_is_trained_and_resume_checks_for_it(drive_data, capsys):
    neuralfx.train(fast_config(drive_data, max_epochs=1, run_name="off", knob_teacher="off"))
    paths = runs.run_paths(drive_data, "off")
    assert "knob_teacher" not in runs.load_checkpoint(paths)
    # the run's saved config says no teacher, so it resumes without one
    resume = ["train", str(drive_data), "--resume", "off", "--quiet"]
    assert main([*resume, "--max-epochs", "2"]) == 0
    # and the choice cannot change on resume
    capsys.readouterr()
    assert main([*resume, "--max-epochs", "3", "--knob-teacher", "gain"]) == 2
    assert "cannot change on --resume" in capsys.readouterr().err
    # a checkpoint without a teacher cannot feed a run that trains one
    cfg = dataclasses.replace(load_config(paths.config), knob_teacher="gain", max_epochs=3)
    with pytest.raises(RunError, match="no knob teacher"):
        neuralfx.train(cfg, resume=True)
    # a run saved before the teacher existed resumes without one
    saved = json.loads(paths.config.read_text())
    del saved["knob_teacher"]
    paths.config.write_text(json.dumps(saved))
    assert main([*resume, "--max-epochs", "3"]) == 0
    assert "knob_teacher" not in runs.load_checkpoint(paths)


def test_the_teacher_steps_see_only_recorded_settings(drive_data, monkeypatch):
    seen: dict[str, set] = {"teacher": set(), "student": set()}

    def spy(step):
        def spied(model, loss_fn, params, x, y, state, warmup):
            who = "teacher" if isinstance(model, GainTeacher) else "student"
            seen[who].update(np.round(np.unique(x[..., 1].numpy()), 6).tolist())
            return step(model, loss_fn, params, x, y, state, warmup)

        return spied

    spy_steps(monkeypatch, spy)  # the student on the fused path, the teacher on autograd's
    neuralfx.train(fast_config(drive_data, max_epochs=2, holdout=("drive_db=12",), run_name="h"))
    assert seen["teacher"] == {0.0, 1.0}  # the held-out 0.5 never reaches the teacher
    # the student sees the recorded settings and the teacher's, drawn anywhere in the range
    assert {0.0, 1.0} <= seen["student"] and len(seen["student"]) > 4


def test_with_a_budget_the_teacher_trains_alone_first_then_hands_over(drive_data, capsys):
    budget = 6.0
    r = neuralfx.train(fast_config(drive_data, budget_s=budget, run_name="b", max_epochs=10**6))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(("knob teacher ", "epoch "))]
    teacher = [i for i, line in enumerate(lines) if line.startswith("knob teacher ")]
    # the teacher's epochs come first, the last one hands over, then the model's epochs
    assert teacher == list(range(len(teacher))) and 0 < len(teacher) < len(lines)
    assert lines[teacher[-1]].endswith("learns from it now")
    rows = read_metrics(r.run_dir / "metrics.csv")
    # the model's first epoch starts after the teacher's share of the budget
    assert rows[0]["epoch"] == 0 and rows[0]["seconds"] > TEACHER_SHARE * budget
    ck = runs.load_checkpoint(runs.run_paths(drive_data, "b"))
    assert ck["knob_teacher"]["done"] and ck["knob_teacher"]["average"] is None
    assert ck["knob_teacher"]["epochs"] == len(teacher)
    model, _ = load_model(r.model_path)
    assert model.knobs == 1 and r.stopped_by == "budget"


def test_a_teacher_batch_longer_than_its_share_leaves_the_model_its_share(drive_data):
    # one batch of 16 segments of 128 chunks is 2,000 steps: seconds, against a 1 s budget
    budget = 1.0
    cfg = fast_config(drive_data, budget_s=budget, chunks_per_segment=128, run_name="long")
    r = neuralfx.train(dataclasses.replace(cfg, max_epochs=10**6))
    rows = read_metrics(r.run_dir / "metrics.csv")
    assert rows and rows[0]["seconds"] < budget + 0.25, "the model trained within the budget"
    ck = runs.load_checkpoint(runs.run_paths(drive_data, "long"))
    assert ck["knob_teacher"]["done"] and r.stopped_by == "budget"


def test_the_teacher_checkpoint_restores_its_phase(tmp_path):
    cfg = ModelConfig(hidden_size=8, knobs=1)
    cpu = torch.device("cpu")
    a = KnobTeacher(cfg, 1e-2, 0.999, cpu)
    with torch.no_grad():
        a.model.log_gain.fill_(0.7)
    a.average.update()
    a.epochs = 3
    b = KnobTeacher(cfg, 1e-2, 0.999, cpu)
    b.load_state_dict(a.state_dict(), "here")
    assert not b.done and b.epochs == 3 and b.average.steps == 1
    assert float(b.model.log_gain.detach()) == pytest.approx(0.7)
    # handed over: frozen at its average, which the student starts from
    student = neuralfx.models.build_model(cfg)
    a.hand_over(student)
    assert a.done and a.average is None
    for name, w in student.state_dict().items():
        torch.testing.assert_close(w, a.model.student_weights()[name])
    c = KnobTeacher(cfg, 1e-2, 0.999, cpu)
    c.load_state_dict(a.state_dict(), "here")
    assert c.done and c.average is None and not c.leads(0.0, 100.0)
    with pytest.raises(RunError, match="does not fit"):
        KnobTeacher(ModelConfig(hidden_size=16, knobs=1), 1e-2, 0.999, cpu).load_state_dict(
            a.state_dict(), "here"
        )


def test_a_checkpoint_of_the_teacher_without_the_dry_channel_resumes_exactly():
    cfg, cpu = ModelConfig(hidden_size=8, knobs=1), torch.device("cpu")
    a = KnobTeacher(cfg, 1e-2, 0.999, cpu)
    x = torch.randn(2, 40, 2)
    a.model(x)[0].square().mean().backward()
    a.opt.step()
    a.average.update()
    name = "net.lstm.weight_ih_l0"
    i = [n for n, _ in a.model.named_parameters()].index(name)
    with torch.no_grad():  # what an older teacher was: no weights on the dry channel
        a.model.net.lstm.weight_ih_l0[:, 0] = 0
        a.average.average[i][:, 0] = 0
        for v in a.opt.state[a.params[i]].values():
            if v.dim() == 2:
                v[:, 0] = 0
    old = a.state_dict()
    old["model"] = {**old["model"], name: old["model"][name][:, 1:]}
    old["optimizer"]["state"][i] = {
        k: v[:, 1:] if v.dim() == 2 else v for k, v in old["optimizer"]["state"][i].items()
    }
    old["average"]["average"][i] = old["average"]["average"][i][:, 1:]
    b = KnobTeacher(cfg, 1e-2, 0.999, cpu)
    b.load_state_dict(old, "here")
    torch.testing.assert_close(b.model(x)[0], a.model(x)[0])
    torch.testing.assert_close(b.average.average[i], a.average.average[i])
    for k, v in a.opt.state[a.params[i]].items():
        torch.testing.assert_close(b.opt.state[b.params[i]][k], v)


def test_the_teacher_starts_from_the_models_weights_init_included(
    drive_data, monkeypatch, tmp_path
):
    capture = random_model("lstm", 8, seed=3)
    path = save_model(capture, tmp_path / "capture.json", {"model": "lstm", "hidden_size": 8})
    started = {}
    real = loop.KnobTeacher

    def spy(*args, **kw):
        t = real(*args, **kw)
        started.update({k: v.clone() for k, v in t.model.net.state_dict().items()})
        return t

    monkeypatch.setattr(loop, "KnobTeacher", spy)
    neuralfx.train(fast_config(drive_data, max_epochs=1, run_name="i", init_model=str(path)))
    # the capture's LSTM weights, with zero weights for the knob input the data adds
    w = capture.state_dict()["lstm.weight_ih_l0"]
    torch.testing.assert_close(started["lstm.weight_ih_l0"][:, :1], w)
    assert torch.all(started["lstm.weight_ih_l0"][:, 1:] == 0)
    torch.testing.assert_close(started["dense.weight"], capture.state_dict()["dense.weight"])
