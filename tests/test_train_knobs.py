"""Training one model over every knob setting: balance, holdout, per-setting scores, resume."""

import dataclasses
import json

import numpy as np
import pytest
from utils import (
    FAST_FLAGS,
    fast_config,
    noise,
    random_model,
    softclip_grid,
    spy_on_chunks,
    spy_steps,
)

import neuralfx
from neuralfx.audio import write_wav
from neuralfx.cli import main
from neuralfx.config import ModelConfig
from neuralfx.data import load_dataset
from neuralfx.errors import DatasetError, RunError
from neuralfx.export import load_model, save_model
from neuralfx.losses import esr
from neuralfx.models import build_model
from neuralfx.render import render_array, with_knobs
from neuralfx.training import conditioning, loop, tbptt
from neuralfx.training.init_from import start_from
from neuralfx.training.runs import read_metrics
from neuralfx.training.tbptt import segment_batches, segment_samples

DRIVES = (0.0, 8.0, 16.0, 24.0)


@pytest.fixture(scope="module")
def drive_data(tmp_path_factory):
    """One clean input, softclip at four drives, and knobs.csv: a parametric capture."""
    return softclip_grid(tmp_path_factory.mktemp("drive"), 4, "drive_db=0:24:4")


def test_every_setting_is_split_by_time_and_the_holdout_stays_out(drive_data):
    split = load_dataset(drive_data, holdout=("drive_db=16",)).split
    assert [s.values for s in split.settings] == [(d,) for d in DRIVES]
    held = [s for s in split.settings if s.holdout]
    assert [s.label for s in held] == ["drive_db=16"] and held[0].train == (0, 0)
    # the trained part is exactly the three seen settings' own training blocks
    assert split.train_bounds == [s.train for s in split.seen]
    assert split.train_bounds[-1][1] == len(split.train_x) == len(split.train_y)
    scaled = split.train_x[:, 1]
    assert set(np.unique(scaled)) == {0.0, np.float32(1 / 3), 1.0}
    assert set(np.unique(split.val_x[:, 1])) == {0.0, np.float32(1 / 3), 1.0}
    for s in split.seen:
        lo, hi = s.train
        assert np.all(split.train_x[lo:hi, 1] == split.train_x[lo, 1])
    # every setting keeps its own validation and test blocks, the held-out one included
    assert held[0].test_x.shape[1] == 2 and np.all(held[0].test_x[:, 1] == np.float32(2 / 3))
    assert len({len(s.test_y) for s in split.settings}) == 1


def test_segments_are_balanced_across_settings_and_stay_inside_one():
    cfg = fast_config(".", batch_size=8)
    seg = segment_samples(cfg)
    bounds = [(0, 30_000), (30_000, 40_000), (40_000, 200_000)]
    starts = np.concatenate(segment_batches(bounds, cfg, np.random.default_rng(1)))
    which = [next(i for i, (lo, hi) in enumerate(bounds) if lo <= s < hi) for s in starts]
    for i, (_, hi) in enumerate(bounds):
        mine = starts[np.array(which) == i]
        assert np.all(mine + seg <= hi), "a segment crosses into the next setting"
        # equal shares whatever the setting's length
        assert abs(len(mine) - len(starts) / 3) <= 1


def test_holdout_never_reaches_training_or_validation(drive_data, monkeypatch):
    seen_knobs: set[float] = set()
    validated: set[float] = set()

    def spy(step):
        def spy_step(model, loss_fn, params, x, y, state, warmup):
            seen_knobs.update(np.unique(x[..., 1].numpy()).tolist())
            return step(model, loss_fn, params, x, y, state, warmup)

        return spy_step

    score = tbptt.evaluate_blocks
    values = {}

    def spy_score(model, blocks, loss_fn, device):  # every validation goes through here
        validated.update(values.get(id(x), "test") for x, _ in blocks)
        return score(model, blocks, loss_fn, device)

    spy_steps(monkeypatch, spy)
    monkeypatch.setattr(tbptt, "evaluate_blocks", spy_score)
    real_split = loop.dataset_for

    def remember(*a, **kw):  # which setting each validation block belongs to
        data = real_split(*a, **kw)
        values.update({id(s.val_x): s.values[0] for s in data.split.settings})
        return data

    monkeypatch.setattr(loop, "dataset_for", remember)
    r = neuralfx.train(
        # the teacher's knob values are its own (tests/training/test_knob_teacher.py)
        fast_config(
            drive_data, max_epochs=2, holdout=("drive_db=16",), run_name="h", knob_teacher="off"
        )
    )
    assert {round(v, 6) for v in seen_knobs} == {0.0, round(1 / 3, 6), 1.0}
    assert validated == {0.0, 8.0, 24.0}
    held = [s for s in r.settings if s["holdout"]]
    assert [s["label"] for s in held] == ["drive_db=16"] and held[0]["knobs"] == {"drive_db": 16.0}


def test_scores_per_setting_match_a_plain_render_of_each(drive_data):
    r = neuralfx.train(fast_config(drive_data, max_epochs=2, run_name="s"))
    model, meta = load_model(r.model_path)
    assert model.knobs == 1 and meta["knobs"] == [
        {"name": "drive_db", "unit": "dB", "lo": 0.0, "hi": 24.0}
    ]
    split = load_dataset(drive_data).split
    by_label = {s.label: s for s in split.settings}
    assert len(r.settings) == 4
    for score in r.settings:
        s = by_label[score["label"]]
        # one setting at a time, from a zero state: what the batched scoring must equal
        assert score["test_esr"] == pytest.approx(
            esr(s.test_y, render_array(model, s.test_x)), 1e-5
        )
        assert meta["test_esr_by_setting"][score["label"]] == score["test_esr"]
    errors = sum(float(np.sum((s.test_y - render_array(model, s.test_x)) ** 2)) for s in split.seen)
    energy = sum(float(np.sum(s.test_y.astype(np.float64) ** 2)) for s in split.seen)
    assert r.test_esr == pytest.approx(errors / energy, 1e-4)
    saved = json.loads((r.run_dir / "result.json").read_text())
    assert [s["label"] for s in saved["settings"]] == [f"drive_db={d:g}" for d in DRIVES]
    assert json.loads((r.run_dir / "config.json").read_text())["model"]["knobs"] == 1


def test_a_killed_conditioned_run_resumes_where_it_stopped(drive_data, capsys):
    flags = [*FAST_FLAGS, "--patience", "100", "--render-every", "0", "--threads", "1"]
    assert main(["train", str(drive_data), *flags, "--run-name", "r", "--max-epochs", "2"]) == 0
    assert main(["train", str(drive_data), "--resume", "r", "--max-epochs", "4", "--quiet"]) == 0
    assert main(["train", str(drive_data), *flags, "--run-name", "u", "--max-epochs", "4"]) == 0
    resumed = read_metrics(drive_data / "runs" / "r" / "metrics.csv")
    straight = read_metrics(drive_data / "runs" / "u" / "metrics.csv")
    assert [int(r["epoch"]) for r in resumed] == [0, 1, 2, 3]
    # the same seed resumed gives the same run, settings and all
    assert [r["val_loss"] for r in resumed] == pytest.approx([r["val_loss"] for r in straight])
    # a resume may not change which settings train
    capsys.readouterr()
    code = main(["train", str(drive_data), "--resume", "r", "--holdout", "drive_db=8"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "cannot change on --resume" in err and len(err.splitlines()) == 1


def test_a_run_resumes_only_on_data_with_the_same_knobs(drive_data, tmp_path):
    cfg = fast_config(drive_data, max_epochs=1, run_name="n")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, knobs=2))
    split = load_dataset(drive_data).split
    with pytest.raises(RunError, match="1 knob input,|2 knob inputs"):
        conditioning.check_resume(cfg, split, "runs/n")


def test_init_from_a_one_setting_capture_plays_it_at_every_setting(tmp_path):
    src = random_model("lstm", 8, seed=3)
    path = save_model(src, tmp_path / "capture.json", {"model": "lstm", "hidden_size": 8})
    model = build_model(ModelConfig(hidden_size=8, knobs=2))
    start_from(model, str(path))
    x = noise(0.2, seed=5)
    expected = render_array(src, x)
    for knobs in ([0.0, 0.0], [1.0, 0.25]):
        assert np.allclose(render_array(model, with_knobs(x, knobs)), expected, atol=1e-6)


def test_init_refuses_a_file_with_more_knobs_than_the_data(tmp_path):
    two = build_model(ModelConfig(hidden_size=8, knobs=2))
    path = save_model(two, tmp_path / "k2.json", {}, "native")
    with pytest.raises(neuralfx.errors.ConfigError, match="2 knob input"):
        start_from(build_model(ModelConfig(hidden_size=8, knobs=1)), str(path))


def test_output_trains_one_setting_alone_and_the_cli_takes_knob_flags(drive_data, capsys):
    r = neuralfx.train(
        fast_config(drive_data, max_epochs=1, output_name="sc_drive_db=8", run_name="o")
    )
    model, meta = load_model(r.model_path)
    assert model.knobs == 0 and "knobs" not in meta and r.settings == ()
    argv = ["train", str(drive_data), *FAST_FLAGS, "--max-epochs", "1", "--run-name", "c"]
    argv += ["--knob-range", "drive_db=0:48", "--holdout", "drive_db=24", "--holdout", "drive_db=0"]
    assert main(argv) == 0
    meta = load_model(drive_data / "runs" / "c" / "model.json")[1]
    assert meta["knobs"][0]["hi"] == 48.0
    assert meta["holdout"] == ["drive_db=0", "drive_db=24"]


@pytest.mark.parametrize(
    "holdout, fragment",
    [
        (("gain=5",), "no knob 'gain'"),
        (("drive_db=5",), "no output of"),
        (("drive_db",), "write knob=value"),
        (tuple(f"drive_db={d:g}" for d in DRIVES), "leave at least one"),
    ],
)
def test_bad_holdouts_are_one_line_errors(drive_data, holdout, fragment):
    with pytest.raises(DatasetError, match=fragment) as info:
        load_dataset(drive_data, holdout=holdout)
    assert "\n" not in str(info.value)


def test_holdout_without_knobs_is_refused(tmp_path):
    x = noise(2)
    write_wav(tmp_path / "input" / "fx.wav", x)
    write_wav(tmp_path / "output" / "fx.wav", 0.5 * x)
    with pytest.raises(DatasetError, match="no knobs.csv"):
        load_dataset(tmp_path, holdout=("gain=1",))


def test_a_conditioned_run_trains_on_full_chunks_from_the_start(drive_data, monkeypatch):
    lengths = spy_on_chunks(monkeypatch)
    neuralfx.train(fast_config(drive_data, max_epochs=1, run_name="chunks"))
    assert lengths and set(lengths) == {512}  # fast_config's --chunk; plain data starts at 128
