"""Trust: nothing someone sends runs code, nothing outside the dataset or the named output is
touched, and bad flags, files and disks give one line with exit code 2."""

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from utils import FAST_FLAGS, fast_config, make_pair, noise, tree_digest

import neuralfx
from neuralfx import audio
from neuralfx.cli import main
from neuralfx.errors import OutputError, RunError
from neuralfx.training import runs

FAST = [*FAST_FLAGS, "--batch-size", "8", "--max-epochs", "1", "--threads", "1"]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def one_line(capsys, code_expected, *argv) -> str:
    code, err = run_cli(capsys, *argv)
    assert code == code_expected, err
    errors = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.fixture
def trained(tmp_path) -> Path:
    data = make_pair(tmp_path / "d", noise(4.0), 0.5 * noise(4.0))
    neuralfx.train(fast_config(data, run_name="k", max_epochs=1))
    return data


class _Payload:
    """What a poisoned pickle would run on load: it writes a marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


def test_a_poisoned_checkpoint_never_runs_code(trained, tmp_path, capsys):
    marker = tmp_path / "marker"
    ck = trained / "runs" / "k" / "checkpoint.pt"
    torch.save({"model": _Payload(str(marker))}, ck)
    err = one_line(capsys, 2, "train", trained, "--resume", "k", *FAST)
    assert "checkpoint" in err and not marker.exists()


def test_resume_writes_into_the_folder_named_by_name_or_path(trained, capsys):
    runs_dir = trained / "runs"
    shutil.copytree(runs_dir / "k", runs_dir / "k_renamed")
    before = tree_digest(runs_dir / "k")
    code, err = run_cli(
        capsys, "train", trained, "--resume", "k_renamed", *FAST, "--max-epochs", "2"
    )
    assert code == 0, err
    assert tree_digest(runs_dir / "k") == before
    assert len(neuralfx.training.runs.read_metrics(runs_dir / "k_renamed" / "metrics.csv")) == 2
    code, err = run_cli(
        capsys, "train", trained, "--resume", runs_dir / "k_renamed", *FAST, "--max-epochs", "3"
    )
    assert code == 0, err
    assert len(neuralfx.training.runs.read_metrics(runs_dir / "k_renamed" / "metrics.csv")) == 3


def test_a_resume_that_contradicts_the_run_says_which_setting(trained, capsys):
    err = one_line(capsys, 2, "train", trained, "--resume", "k", *FAST, "--hidden", "16")
    assert "hidden_size 8" in err and "--hidden 16" in err


def test_a_trained_run_name_is_not_overwritten(trained, capsys):
    err = one_line(capsys, 2, "train", trained, *FAST, "--run-name", "k")
    assert "already holds a run" in err and "--resume k" in err


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    cfg = fast_config(tmp_path, run_name="")
    names = {runs.create_run(cfg)[0].run_name for _ in range(3)}
    assert len(names) == 3 and all((tmp_path / "runs" / n).is_dir() for n in names)


def test_a_run_being_trained_is_locked(tmp_path):
    paths = runs.RunPaths(tmp_path)
    with runs.locked(paths):
        probe = (
            "import sys; from pathlib import Path; from neuralfx.training import runs\n"
            "try:\n    runs.locked(runs.RunPaths(Path(sys.argv[1]))).__enter__()\n"
            "except Exception as e:\n    print(type(e).__name__, e)"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True
        ).stdout
        assert out.startswith("RunError") and "another neuralfx process" in out
    with runs.locked(paths):  # released: it can be taken again
        pass


@pytest.mark.parametrize("name", ["../../escaped", "/abs", ".", "a/b", ".hidden"])
def test_run_names_cannot_leave_the_runs_folder(tmp_path, capsys, name):
    data = make_pair(tmp_path / "d", noise(2.0), noise(2.0))
    before = sorted(p.name for p in tmp_path.iterdir())
    err = one_line(capsys, 2, "train", data, *FAST, "--run-name", name)
    assert "plain name" in err and sorted(p.name for p in tmp_path.iterdir()) == before


def test_init_names_cannot_leave_the_dataset(tmp_path, capsys):
    err = one_line(capsys, 2, "init", tmp_path / "d", "--name", "../../../x", "--duration", "2")
    assert "plain name" in err and not (tmp_path / "x.wav").exists()
    err = one_line(capsys, 2, "init", tmp_path / "e", "--duration", "1e9")
    assert "1 to 3600" in err and not (tmp_path / "e").exists()


@pytest.mark.parametrize(
    "flag, value, words",
    [
        ("--lr", "nan", "finite"),
        ("--lr", "-1", "(0, 10]"),
        ("--lr", "inf", "finite"),
        ("--batch-size", "0", "[1, 4096]"),
        ("--batch-size", "-3", "[1, 4096]"),
        ("--chunk", "0", "[1,"),
        ("--chunks", "-1", "[0, 4096]"),
        ("--seed", "-1", "[0,"),
        ("--budget", "nan", "finite"),
        ("--budget", "inf", "finite"),
        ("--budget", "-5", "[0,"),
        ("--threads", "-2", "[0, 1024]"),
        ("--warmup", "-1", "[0,"),
        ("--dc-weight", "-1", "[0,"),
        ("--pre-emphasis", "5", "[0, 1)"),
    ],
)
def test_out_of_range_flags_are_one_line_errors(tmp_path, capsys, flag, value, words):
    data = make_pair(tmp_path / "d", noise(2.0), noise(2.0))
    err = one_line(capsys, 2, "train", data, *FAST, flag, value)
    assert flag in err and words in err


def test_render_threads_out_of_range_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["render", "m.json", "in.wav", "out.wav", "--threads", "-1"])
    assert exit_.value.code == 2 and "use 1 to 64 threads" in capsys.readouterr().err


def test_a_config_json_with_a_wrong_type_is_one_line(tmp_path, capsys):
    data = make_pair(tmp_path / "d", noise(2.0), noise(2.0))
    (tmp_path / "c.json").write_text('{"latency_samples": "12"}')
    err = one_line(capsys, 2, "train", data, "--config", tmp_path / "c.json", *FAST)
    assert "latency_samples" in err and "integer" in err


def test_special_and_directory_outputs_are_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, words in ((fifo, "device, pipe or socket"), (tmp_path, "is a directory")):
        with pytest.raises(OutputError, match=words):
            audio.write_wav(path, np.zeros(10, np.float32))
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(OutputError, match="device"):
        audio.check_output_path("/dev/null")  # checked, never written
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_render_to_a_fifo_is_one_line_and_leaves_it(trained, tmp_path, capsys):
    fifo = tmp_path / "out.wav"
    os.mkfifo(fifo)
    (trained / "in.wav").write_bytes((trained / "input" / "fx.wav").read_bytes())
    err = one_line(capsys, 2, "render", trained / "model.json", trained / "in.wav", fifo)
    assert "pipe" in err and stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_write_errors_name_the_path_and_the_fix(tmp_path, monkeypatch, code):
    def refuse(*_a, **_k):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(audio.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match=r"out\.json: cannot be written"):
        audio.write_text_atomic(tmp_path / "out.json", "{}")


def test_a_read_only_runs_folder_points_at_runs_dir(tmp_path, monkeypatch, capsys):
    data = make_pair(tmp_path / "d", noise(2.0), noise(2.0))
    real = Path.mkdir

    def mkdir(self, *a, **k):
        if self.name == "runs":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    err = one_line(capsys, 2, "train", data, *FAST)
    assert "read-only" in err.lower() and "--runs-dir" in err


def test_truncated_run_records_are_one_line_under_report(trained, capsys):
    run = trained / "runs" / "k"
    for name, text in (("result.json", '{"test_esr": 0.1'), ("metrics.csv", "epoch,x\n1,a\n")):
        good = (run / name).read_bytes()
        (run / name).write_text(text)
        err = one_line(capsys, 2, "report", run)
        assert name in err
        (run / name).write_bytes(good)


def test_a_study_folder_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(
        'effects = ["softclip"]\nmodels = ["lstm"]\nhidden_sizes = [8]\n'
    )
    (tmp_path / "out").write_text("a file")
    err = one_line(capsys, 2, "sweep", tmp_path / "s.toml", "--out", tmp_path / "out")
    assert "--out" in err


@pytest.mark.parametrize(
    "grid, words",
    [
        ("seeds = [0, 0]", "listed twice"),
        ("seeds = " + str(list(range(5000))), "at most 10,000"),
    ],
)
def test_study_grids_without_duplicates_or_end(tmp_path, capsys, grid, words):
    text = 'effects = ["softclip", "fuzz", "lowpass"]\nmodels = ["lstm"]\nhidden_sizes = [8]\n'
    (tmp_path / "s.toml").write_text(text + grid + "\n")
    err = one_line(capsys, 2, "sweep", tmp_path / "s.toml", "--dry-run")
    assert words in err


def test_stale_temp_files_of_a_dead_writer_are_cleaned(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        stale = tmp_path / f".out.wav.{dead.pid}.abcd1234.tmp"
        live = tmp_path / f".out.wav.{alive.pid}.efgh5678.tmp"
        stale.write_bytes(b"x" * 1000)
        live.write_bytes(b"y")
        audio.write_wav(tmp_path / "out.wav", np.zeros(10, np.float32))
        assert not stale.exists() and live.exists() and (tmp_path / "out.wav").is_file()
    finally:
        alive.kill()
        alive.wait()


def test_sigterm_during_render_names_render_not_train(trained, tmp_path):
    long_in = tmp_path / "long.wav"
    audio.write_wav(long_in, noise(120.0))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "neuralfx",
            "render",
            str(trained / "model.json"),
            str(long_in),
            str(tmp_path / "o.wav"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".o.wav.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)  # the handler is in place once the render writes its temp file
    proc.terminate()
    err = proc.communicate(timeout=60)[1]
    if proc.returncode == 0 or (tmp_path / "o.wav").exists():
        pytest.skip("the render finished before the signal")  # its output is whole
    assert proc.returncode == 130 and "no output was written" in err and "--resume" not in err
    assert not (tmp_path / "o.wav").exists() and not list(tmp_path.glob(".o.wav.*"))


def test_a_foreign_checkpoint_structure_is_a_run_error(trained):
    ck = trained / "runs" / "k" / "checkpoint.pt"
    torch.save({"model": {}, "progress": 3}, ck)
    with pytest.raises(RunError):
        neuralfx.train(fast_config(trained, run_name="k", max_epochs=2), resume=True)


def test_a_memory_bomb_model_file_is_refused_before_allocating(tmp_path, capsys):
    d = json.loads((Path(__file__).parent / "golden" / "lab_lstm8.json").read_text())
    d["lstm.weight_hh_l0"] = [[0.0] * 100_000]  # a 1 x 100000 matrix: 160 GB if built
    (tmp_path / "bomb.json").write_text(json.dumps(d))
    audio.write_wav(tmp_path / "in.wav", noise(0.1))
    t0 = time.perf_counter()
    err = one_line(
        capsys, 2, "render", tmp_path / "bomb.json", tmp_path / "in.wav", tmp_path / "o.wav"
    )
    assert "weight_hh_l0 has shape [1, 100000]" in err and time.perf_counter() - t0 < 5


def test_metadata_of_the_wrong_type_is_not_guessed(tmp_path):
    d = json.loads((Path(__file__).parent / "golden" / "lab_lstm8.json").read_text())
    d["neuralfx"]["skip"] = "no"
    (tmp_path / "m.json").write_text(json.dumps(d))
    with pytest.raises(neuralfx.NeuralFXError, match="skip is 'no'"):
        neuralfx.load_model(tmp_path / "m.json")


def test_a_full_disk_during_render_blames_the_output_not_the_input(
    trained, tmp_path, monkeypatch, capsys
):
    import soundfile

    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(soundfile.SoundFile, "write", full)
    err = one_line(
        capsys,
        2,
        "render",
        trained / "model.json",
        trained / "input" / "fx.wav",
        tmp_path / "o.wav",
    )
    assert "o.wav: cannot be written" in err and "corrupt" not in err
    assert not (tmp_path / "o.wav").exists() and not list(tmp_path.glob(".o.wav.*"))


def test_metadata_sample_rate_that_is_not_a_rate_is_one_line(tmp_path, capsys):
    d = json.loads((Path(__file__).parent / "golden" / "lab_lstm8.json").read_text())
    audio.write_wav(tmp_path / "in.wav", noise(0.1))
    for value in ("fast", 3, True):
        d["neuralfx"]["sample_rate_hz"] = value
        (tmp_path / "m.json").write_text(json.dumps(d))
        err = one_line(
            capsys, 2, "render", tmp_path / "m.json", tmp_path / "in.wav", tmp_path / "o.wav"
        )
        assert "sample_rate_hz" in err
