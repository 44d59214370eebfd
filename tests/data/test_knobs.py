"""``knobs.csv``: the settings of each output, their ranges and scaling, and every bad table."""

import numpy as np
import pytest
import soundfile as sf
from utils import noise

from neuralfx.cli import main
from neuralfx.data.check import check_dataset
from neuralfx.data.knobs import KNOBS_FILE, parse_knob_range, read_knobs
from neuralfx.data.make import make_outputs
from neuralfx.errors import DatasetError

SR = 44100


def _outputs(root, *names, seconds=1.0):
    (root / "output").mkdir(parents=True, exist_ok=True)
    for n in names:
        sf.write(root / "output" / n, noise(seconds), SR, subtype="FLOAT")
    return root


def _table(root, text):
    (root / KNOBS_FILE).write_text(text)
    return root


def test_a_table_gives_each_output_its_scaled_setting(tmp_path):
    _outputs(tmp_path, "g0.wav", "g5.wav", "g10.wav")
    _table(tmp_path, "file,gain,tone_hz\ng0.wav,0,200\ng5.wav,5,1000\ng10.wav,10,3000\n")
    t = read_knobs(tmp_path)
    assert t.names == ("gain", "tone_hz")
    assert t.scaled("g5.wav") == (0.5, pytest.approx(0.2857142857))
    assert t.knobs[0].unscale(0.25) == 2.5


def test_declared_ranges_win_over_the_columns(tmp_path):
    _outputs(tmp_path, "a.wav", "b.wav")
    _table(tmp_path, "file,gain\nrange,0:10\na.wav,2\nb.wav,8\n")
    assert read_knobs(tmp_path).scaled("a.wav") == (0.2,)
    assert read_knobs(tmp_path, {"gain": (0.0, 20.0)}).scaled("b.wav") == (0.4,)
    assert parse_knob_range("gain=0:10") == ("gain", 0.0, 10.0)
    with pytest.raises(DatasetError, match="lo must be below hi"):
        parse_knob_range("gain=10:0")


@pytest.mark.parametrize(
    "text, words",
    [
        ("gain\na.wav\n", "first line must be the header"),
        ("file,a,b,c,d\na.wav,1,2,3,4\nb.wav,2,3,4,5\n", "at most 3"),
        ("file,gain\na.wav,1\n", r"output/b\.wav has no row"),
        ("file,gain\na.wav,1\nb.wav,2\nc.wav,3\n", r"c\.wav is not a file"),
        ("file,gain\na.wav,1\nb.wav,loud\n", "'loud' is not a number"),
        ("file,gain\na.wav,1\nb.wav,1\n", "is 1 in every row"),
        ("file,gain\na.wav,1\na.wav,2\nb.wav,3\n", "listed twice"),
        ("file,gain\n../../x.wav,1\na.wav,2\nb.wav,3\n", "not a file"),
        ("file,gain\nrange,0:5\na.wav,1\nb.wav,9\n", "outside its range 0..5"),
        ("file,gain\na.wav,1,2\nb.wav,2\n", "3 cells, the header has 2"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path, text, words):
    _table(_outputs(tmp_path, "a.wav", "b.wav"), text)
    with pytest.raises(DatasetError, match=words):
        read_knobs(tmp_path)


def test_data_make_renders_a_two_knob_grid_and_writes_the_table(tmp_path):
    (tmp_path / "input").mkdir()
    sf.write(tmp_path / "input" / "clean.wav", noise(1.0), SR, subtype="FLOAT")
    make_outputs(
        tmp_path, "softclip | lowpass", "p", knob=["drive_db=0:24:3", "cutoff_hz=1000,4000"]
    )
    t = read_knobs(tmp_path)
    assert t.names == ("drive_db", "cutoff_hz") and len(t.settings) == 6
    assert t.settings["p_drive_db=12_cutoff_hz=4000.wav"] == (12.0, 4000.0)
    assert t.scaled("p_drive_db=12_cutoff_hz=4000.wav") == (0.5, 1.0)
    # a grid of another knob beside it would make the table lie: refused
    with pytest.raises(DatasetError, match="not file,q"):
        make_outputs(tmp_path, "lowpass", "r", knob=["q=1,2"])


def test_data_check_reports_a_broken_table_and_settings_of_other_lengths(tmp_path, capsys):
    (tmp_path / "input").mkdir()
    sf.write(tmp_path / "input" / "clean.wav", noise(1.0), SR, subtype="FLOAT")
    make_outputs(tmp_path, "softclip", "s", knob=["drive_db=0,12"])
    assert check_dataset(tmp_path, all_outputs=True).dataset_errors == []
    sf.write(tmp_path / "output" / "s_drive_db=12.wav", noise(0.99), SR, subtype="FLOAT")
    report = check_dataset(tmp_path, all_outputs=True, raise_errors=False)
    assert any("every knob setting must be recorded" in str(e) for e in report.dataset_errors)
    (tmp_path / KNOBS_FILE).write_text("file,drive_db\ns_drive_db=0.wav,0\n")
    capsys.readouterr()
    assert main(["data", "check", str(tmp_path)]) == 2
    assert "has no row" in capsys.readouterr().err


def test_init_builds_a_parametric_demo(tmp_path, capsys):
    d = tmp_path / "d"
    args = ["init", str(d), "--effect", "softclip", "--knob", "drive_db=0:30:4", "--duration", "2"]
    assert main(args) == 0
    t = read_knobs(d)
    assert sorted(t.settings) == [f"softclip_drive_db={v}.wav" for v in (0, 10, 20, 30)]
    assert (d / "guitar.wav").is_file() and not (d / "output" / "softclip.wav").exists()
    x = sf.read(d / "input" / "clean_signal.wav", dtype="float32")[0]
    y0 = sf.read(d / "output" / "softclip_drive_db=0.wav", dtype="float32")[0]
    y30 = sf.read(d / "output" / "softclip_drive_db=30.wav", dtype="float32")[0]
    assert np.max(np.abs(y30)) > np.max(np.abs(y0)) and len(y30) == len(x)


def test_units_ride_in_the_header_and_check_takes_the_range_flag(tmp_path, capsys):
    _outputs(tmp_path, "a.wav", "b.wav")
    _table(tmp_path, "file,drive[dB],tone\na.wav,0,1\nb.wav,12,2\n")
    t = read_knobs(tmp_path)
    assert [(k.name, k.unit) for k in t.knobs] == [("drive", "dB"), ("tone", "")]
    assert t.label("b.wav") == "drive=12,tone=2"
    (tmp_path / "input").mkdir()
    sf.write(tmp_path / "input" / "x.wav", noise(1.0), SR, subtype="FLOAT")
    assert main(["data", "check", str(tmp_path), "--knob-range", "drive=0:24"]) == 0
    assert "drive 0..24 dB" in " ".join(capsys.readouterr().out.split())
    code = main(["data", "check", str(tmp_path), "--knob-range", "drive=0:6"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "outside its range 0..6" in err and len(err.splitlines()) == 1


def test_make_writes_the_catalogue_unit(tmp_path):
    (tmp_path / "input").mkdir()
    sf.write(tmp_path / "input" / "x.wav", noise(1.0), SR, subtype="FLOAT")
    make_outputs(tmp_path, "softclip", "s", knob="drive_db=0,12")
    assert (tmp_path / KNOBS_FILE).read_text().splitlines()[0] == "file,drive_db[dB]"
    assert read_knobs(tmp_path).knobs[0].unit == "dB"
