"""neuralfx info: architecture, sizes, rate, and where a model can go (and why not)."""

from __future__ import annotations

import pytest
from utils import metadata, random_model

from neuralfx.cli import main
from neuralfx.export import save_model


def info(capsys, tmp_path, name, hidden, layers=1, skip=False, rate=48000):
    meta = {**metadata(name, hidden, layers, skip), "sample_rate_hz": rate}
    path = save_model(random_model(name, hidden, layers, skip), tmp_path / "m.json", meta, "native")
    assert main(["info", str(path)]) == 0
    return dict(
        line.strip().split(None, 1) if line.startswith("  ") else line.split(":", 1)
        for line in capsys.readouterr().out.splitlines()
        if line.strip() != "can go to:"
    )


def test_an_lstm_goes_everywhere(capsys, tmp_path):
    out = info(capsys, tmp_path, "lstm", 16, rate=96000)
    assert out["architecture"].strip() == "lstm 16 > dense 1"
    assert out["sample rate"].strip() == "96000 Hz" and out["parameters"].strip() == "1233"
    assert out["latency"].strip().startswith("0 samples")
    assert all(out[f].startswith("yes") for f in ("lab", "native", "aidax", "nam"))


@pytest.mark.parametrize(
    "name,hidden,layers,skip,refused",
    [
        ("gru", 12, 1, True, {"nam": "a GRU and a skip connection", "lab": None}),
        ("lstm", 48, 2, False, {"aidax": "2 stacked lstm layers and hidden size 48"}),
        ("conv-lstm", 8, 1, False, {"aidax": "3 conv layers", "nam": "3 conv layers"}),
    ],
)
def test_refusals_say_why(capsys, tmp_path, name, hidden, layers, skip, refused):
    out = info(capsys, tmp_path, name, hidden, layers, skip)
    assert out["native"].startswith("yes")
    for fmt, why in refused.items():
        if why is None:
            assert out[fmt].startswith("yes")
        else:
            assert out[fmt].startswith("no: ") and why in out[fmt]


def test_info_of_a_broken_file_is_one_line(capsys, tmp_path):
    bad = tmp_path / "x.nam"
    bad.write_text('{"architecture": "WaveNet", "weights": []}')
    assert main(["info", str(bad)]) == 2
    assert "'WaveNet'" in capsys.readouterr().err
