"""neuralfx sweep: grid, strict study files, parallel runs, kill-and-resume, the Ray backend."""

import importlib.util
import json
import math
import os
from urllib.parse import quote

import pytest
from study_fixtures import KNOB_RUN, PNG, RUNS, TINY, _finished, _rows

from neuralfx.cli import main
from neuralfx.config import load_config
from neuralfx.errors import ConfigError
from neuralfx.study.spec import grid, parse_study
from neuralfx.study.sweep import make_datasets, sweep


def test_killed_sweep_resumes_without_redoing_finished_runs(resumed):
    out, summary = resumed["out"], resumed["summary"]
    assert resumed["done"] and resumed["partial"]
    assert not summary.failed
    assert summary.skipped == len(resumed["done"])
    actions = {o["run"]: o["action"] for o in summary.outcomes}
    assert set(actions) == set(RUNS) - resumed["done"]  # finished runs were not run again
    for run in resumed["partial"]:
        assert actions[run] == "resumed"
        assert "resuming" in (out / "runs" / run / "train.log").read_text()
    for run, stamp in resumed["stamps"].items():  # no finished training is redone
        assert (out / "runs" / run / "result.json").stat().st_mtime_ns == stamp
        assert actions.get(run, "analysed") == "analysed"
    assert _finished(out) == set(RUNS)


def test_sweep_writes_table_plots_and_report(resumed):
    out = resumed["out"]
    rows = _rows(out / "results.csv")
    assert [r["run"] for r in rows] == RUNS
    assert [(r["effect"], r["model"], r["hidden"]) for r in rows] == [
        ("softclip", "lstm", "8"),
        ("softclip", "conv-lstm", "8"),
        ("lowpass", "lstm", "8"),
        ("lowpass", "conv-lstm", "8"),
    ]
    for r in rows:
        assert math.isfinite(float(r["test_esr"])) and float(r["test_esr"]) > 0
        assert int(r["parameters"]) > 0 and int(r["epochs"]) == 3
        assert 0 < float(r["rtf_python"]) < 10
    md = (out / "results.md").read_text()
    assert md.startswith("| effect | model |") and md.count("\n| ") == len(RUNS)
    pngs = ["esr_heatmap", "esr_vs_parameters", "val_esr", *(f"spectra/{r}" for r in RUNS)]
    for name in pngs:
        assert (out / "plots" / f"{name}.png").read_bytes()[:8] == PNG, name
    page = (out / "report.html").read_text()
    assert '<table id="results">' in page and page.count("<audio ") == 3 * len(RUNS)
    for r in RUNS:
        assert (out / "runs" / r / "guitar_model.wav").is_file()
        assert f'src="runs/{r}/guitar_model.wav"' in page


def test_a_knob_study_trains_one_conditioned_model_and_reports(knob_study):
    out, summary = knob_study["out"], knob_study["summary"]
    assert not summary.failed and [o["run"] for o in summary.outcomes] == [KNOB_RUN]
    run = out / "runs" / KNOB_RUN
    result = json.loads((run / "result.json").read_text())
    assert [s["label"] for s in result["settings"]] == [f"drive_db={v}" for v in (0, 8, 16, 24)]
    cfg = load_config(run / "config.json")
    assert cfg.holdout == ("drive_db=16",) and cfg.model.knobs == 1 and cfg.output_name == ""
    (row,) = _rows(out / "results.csv")
    held = next(s["test_esr"] for s in result["settings"] if s["holdout"])
    assert float(row["test_esr"]) == result["test_esr"]
    assert float(row["holdout_esr"]) == pytest.approx(held, rel=1e-6)
    page = (out / "report.html").read_text()
    assert f'src="plots/settings/{KNOB_RUN}.png"' in page and '<tr class="held">' in page
    for label in ("drive_db=0", "drive_db=16", "drive_db=24"):
        assert f'src="data/drive/{quote(f"guitar_target_{label}.wav")}"' in page
        assert f'src="runs/{KNOB_RUN}/{quote(f"guitar_model_{label}.wav")}"' in page
    md = (out / "results.md").read_text()
    assert "| drive_db=16 | 16 | held out |" in md
    # swept again: nothing retrained, the dataset reused as it is
    stamp = (run / "checkpoint.pt").stat().st_mtime_ns
    again = sweep(knob_study["study"], out=out, echo=lambda _: None)
    assert again.outcomes == [] and (run / "checkpoint.pt").stat().st_mtime_ns == stamp


def test_a_knob_dataset_is_not_reused_for_another_grid(tmp_path):
    def study(**kw):
        return parse_study(
            {"effects": [{"name": "drive", "spec": "softclip", **kw}], "duration_s": 2}
        )

    make_datasets(study(knob="drive_db=0:12:2"), tmp_path)
    data = tmp_path / "data" / "drive"
    assert (data / "knobs.csv").read_text().splitlines()[1:] == [
        "drive_drive_db=0.wav,0",
        "drive_drive_db=12.wav,12",
    ]
    assert (data / "guitar_target_drive_db=12.wav").is_file()
    with pytest.raises(ConfigError, match="output/drive_drive_db=12 was not made by the study"):
        make_datasets(study(knob="drive_db=0:24:2"), tmp_path)
    with pytest.raises(ConfigError, match="was made with a knob grid, the study now has none"):
        make_datasets(study(), tmp_path)


def test_rerun_of_a_finished_study_trains_nothing(resumed):
    out = resumed["out"]
    before = {r: (out / "runs" / r / "checkpoint.pt").stat().st_mtime_ns for r in RUNS}
    summary = sweep(resumed["study"], out=out, echo=lambda _: None)
    assert summary.outcomes == [] and summary.skipped == len(RUNS)
    assert before == {r: (out / "runs" / r / "checkpoint.pt").stat().st_mtime_ns for r in RUNS}


@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None and not os.environ.get("CI"),
    reason="ray is not installed (pip install 'neuralfx[ray]')",
)
def test_ray_backend_gives_the_same_rows_as_local(resumed, tmp_path):
    out = tmp_path / "ray"
    summary = sweep(resumed["study"], jobs=2, backend="ray", out=out, echo=lambda _: None)
    assert not summary.failed
    local, ray = _rows(resumed["out"] / "results.csv"), _rows(out / "results.csv")
    keys = ("run", "effect", "model", "hidden", "layers", "loss", "seed", "parameters", "epochs")
    assert [[r[k] for k in keys] for r in ray] == [[r[k] for k in keys] for r in local]
    # one thread, fixed seeds, epochs not budgets: training is deterministic, and the local
    # runs that were killed and resumed must land exactly where uninterrupted ones do
    for a, b in zip(local, ray):
        assert float(a["test_esr"]) == pytest.approx(float(b["test_esr"]), rel=1e-6), a["run"]


def test_dry_run_prints_the_grid_and_an_estimate(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text(
        TINY.replace("budget_s = 0", "budget_s = 60").replace(
            'models = ["lstm", "conv-lstm"]', 'models = ["lstm", "gru", "conv-lstm"]'
        )
    )
    assert (
        main(["sweep", str(study), "--dry-run", "--jobs", "2", "--out", str(tmp_path / "o")]) == 0
    )
    text = capsys.readouterr().out
    assert all(
        f"{e}-{m}8-s0" in text
        for e in ("softclip", "lowpass")
        for m in ("lstm", "gru", "conv-lstm")
    )
    assert "6 runs x 60 s / 2 jobs = about 3 min" in text
    assert not (tmp_path / "o").exists()


def test_grid_is_the_product_minus_excluded_points():
    study = parse_study(
        {
            "effects": ["softclip", "fuzz"],
            "models": ["lstm", "gru", "conv-lstm"],
            "hidden_sizes": [8, 16, 32],
            "seeds": [0, 1],
            "losses": [{"name": "esr+dc"}, {"name": "esr", "dc_weight": 0.0}],
            "exclude": [
                {"model": "conv-lstm", "hidden": [8, 32]},
                {"effect": "fuzz", "loss": "esr"},
            ],
        }
    )
    points = grid(study)
    assert len(points) == 2 * 7 * 2 * 2 - 7 * 2  # the fuzz/esr cell is dropped entirely
    ids = [p.run_id for p in points]
    assert len(set(ids)) == len(ids)
    assert "softclip-conv-lstm16-esr-s1" in ids and "fuzz-gru32-esr-dc-s0" in ids
    assert not any(p.model == "conv-lstm" and p.hidden != 16 for p in points)


OK = 'effects = ["softclip"]\n'
BAD = [
    (OK + "hiden_sizes = [8]", "unknown key 'hiden_sizes'"),
    (OK + 'budget_s = "fast"', "study.budget_s"),
    (OK + "hidden_sizes = [8, 10]", "study.hidden_sizes[1]"),
    (OK + 'models = ["lstm", "transformer"]', "study.models[1]"),
    ('effects = ["softclip", "fuz"]', "study.effects[1].spec"),
    ('effects = [{spec = "fuzz", nmae = "x"}]', "study.effects[0]: unknown key 'nmae'"),
    (OK + '[[exclude]]\nmodel = "lsmt"', "study.exclude[0].model"),
    (OK + "[train]\nseed = 3", "study.train.seed"),
    (OK + "[train]\nbatch_sise = 3", "study.train: unknown key 'batch_sise'"),
    (OK + "[[losses]]\nesr_wieght = 1.0", "study.losses[0]: unknown key 'esr_wieght'"),
    ("budget_s = 10", "study.effects: missing"),
    ("effects = [", "not valid TOML"),
    ('effects = [{spec = "softclip", knob = "drve_db=0:24:4"}]', "study.effects[0].knob: 'drve"),
    ('effects = [{spec = "softclip", knob = "drive_db=0:99:4"}]', "study.effects[0].knob"),
    ('effects = [{spec = "softclip", knob = 3}]', "study.effects[0].knob"),
    ('effects = [{spec = "softclip", holdout = "drive_db=8"}]', "study.effects[0].holdout"),
    (
        'effects = [{spec = "softclip", knob = "drive_db=0:24:4", holdout = "drive_db=15"}]',
        "study.effects[0].holdout[0]: 'drive_db=15' is not a setting",
    ),
    (
        'effects = [{spec = "softclip", knob = "drive_db=0:24:4", holdout = ["gain=1"]}]',
        "study.effects[0].holdout[0]: no knob 'gain'",
    ),
    (
        'effects = [{spec = "softclip", knob = "drive_db=0:8:2", holdout = ["drive_db=0", '
        '"drive_db=8"]}]',
        "study.effects[0].holdout: holds out every setting",
    ),
]


@pytest.mark.parametrize("text,key", BAD, ids=[k for _, k in BAD])
def test_malformed_study_is_a_one_line_error_naming_the_key(tmp_path, capsys, text, key):
    study = tmp_path / "bad.toml"
    study.write_text(text + "\n")
    assert main(["sweep", str(study), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"neuralfx: error: {study}: ")
    assert key in err


def test_a_dataset_is_not_silently_remade_for_another_effect(tmp_path):
    def study(spec, **kw):
        return parse_study({"effects": [{"name": "drive", "spec": spec}], "duration_s": 2, **kw})

    make_datasets(study("softclip"), tmp_path)
    made = tmp_path / "data" / "drive" / "output" / "drive.wav"
    stamp = made.stat().st_mtime_ns
    make_datasets(study("softclip"), tmp_path)  # the same effect: reused as it is
    assert made.stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="data/drive: was made with effect 'softclip"):
        make_datasets(study("hardclip"), tmp_path)
    with pytest.raises(ConfigError, match="made with signal_seed 0, the study now says 1"):
        make_datasets(study("softclip", signal_seed=1), tmp_path)
    with pytest.raises(ConfigError, match="clean signal is 2 s, the study now asks for 3 s"):
        make_datasets(study("softclip", duration_s=3), tmp_path)
