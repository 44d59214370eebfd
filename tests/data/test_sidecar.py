"""``output/NAME.json``: one schema, old files still read, foreign files ignored."""

import json

from neuralfx.data.builtin import init_dataset
from neuralfx.data.make import make_outputs
from neuralfx.data.sidecar import read_sidecar


def test_init_and_data_make_write_the_same_schema(tmp_path):
    init_dataset(tmp_path, "hardclip(drive_db=6)", name="hc", duration_s=1.0)
    make_outputs(tmp_path, "hardclip(drive_db=6)", name="hc2")
    by_init, by_make = read_sidecar(tmp_path, "hc"), read_sidecar(tmp_path, "hc2")
    assert by_init.effect == by_make.effect and by_init.spec.startswith("hardclip(")
    assert by_init.seed == 0 and by_make.seed is None
    assert [s["input"] for s in by_init.sources] == [s["input"] for s in by_make.sources]


def test_a_sidecar_written_before_the_schema_still_reads(tmp_path):
    (tmp_path / "output").mkdir()
    old = {"effect": "lowpass(cutoff_hz=800)", "seed": 3, "input": "clean_signal.wav"}
    (tmp_path / "output" / "lp.json").write_text(json.dumps(old))
    made = read_sidecar(tmp_path, "lp")
    assert made.chain().stages[0].kwargs["cutoff_hz"] == 800.0 and made.seed == 3
    assert made.sources == [{"input": "input/clean_signal.wav"}]


def test_missing_or_foreign_sidecars_are_none(tmp_path):
    (tmp_path / "output").mkdir()
    assert read_sidecar(tmp_path, "nothing") is None
    for i, text in enumerate(["{not json", "[1, 2]", '{"effect": "nonsense((("}', '{"effect": 3}']):
        (tmp_path / "output" / f"x{i}.json").write_text(text)
        assert read_sidecar(tmp_path, f"x{i}") is None
