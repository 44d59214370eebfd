"""neuralfx report: the page of a study and of one run, the markdown block, and a real browser."""

import functools
import http.server
import os
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import soundfile as sf
from study_fixtures import KNOB_RUN, PNG
from utils import fast_config

import neuralfx
from neuralfx.cli import main
from neuralfx.data.builtin import init_dataset
from neuralfx.dsp.chains import parse_chain
from neuralfx.study.records import RunRecord, fmt
from neuralfx.study.report import BEGIN, END
from neuralfx.study.settings import esr_by_setting, held_caption, settings_markdown

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HAVE_BROWSER = os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)
# Offline and quiet: no updates, sync, field trials or QUIC probes reaching for the network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def study(resumed) -> Path:
    """The session's tiny sweep (tests/study_fixtures.py), shared with the sweep tests."""
    return resumed["out"]


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> Path:
    """A run of plain `neuralfx train` on an `neuralfx init` dataset, as a user makes one."""
    data = tmp_path_factory.mktemp("plain") / "data"
    init_dataset(data, "hardclip(drive_db=18)", duration_s=3)
    cfg = fast_config(data, run_name="r", max_epochs=2, batch_size=16)
    return neuralfx.train(cfg).run_dir


def test_report_of_one_training_run(plain_run, capsys):
    assert main(["report", str(plain_run)]) == 0
    assert capsys.readouterr().out.strip() == str(plain_run / "report.html")
    page = (plain_run / "report.html").read_text()
    assert '<table id="results">' in page and "hardclip" in page
    assert 'src="../../guitar.wav"' in page  # the clean demo, linked where it lies
    for wav in ("guitar_target.wav", "guitar_model.wav"):
        assert (plain_run / wav).is_file() and f'src="{wav}"' in page
    assert (plain_run / "plots" / "val_esr.png").is_file()
    assert (plain_run / "plots" / "spectra" / "r.png").is_file()


def test_report_of_a_knob_run_shows_each_setting(knob_run, capsys):
    run = knob_run.run_dir
    assert main(["report", str(run)]) == 0, capsys.readouterr().err
    page = (run / "report.html").read_text()
    plot = run / "plots" / "settings" / "t.png"
    assert plot.read_bytes()[:8] == PNG and 'src="plots/settings/t.png"' in page
    assert (run / "plots" / "spectra" / "t.png").read_bytes()[:8] == PNG
    table = page[page.index('<table class="settings">') :]
    table = table[: table.index("</table>")]
    for s in knob_run.settings:  # training's figures, one row per setting
        row = f'<td class="">{s["label"]}</td>'
        assert row in table and fmt("test_esr", s["test_esr"]) in table
    assert table.count('<tr class="held">') == 1 and "held out</td>" in table
    assert "held out, never trained or validated on: drive_db=16" in page
    guitar, _ = sf.read(run.parents[1] / "guitar.wav", dtype="float32")
    for label in ("drive_db=0", "drive_db=16", "drive_db=24"):  # lowest, held out, highest
        for wav in (f"guitar_target_{label}.wav", f"guitar_model_{label}.wav"):
            assert (run / wav).is_file() and f'src="{quote(wav)}"' in page, wav
    target, _ = sf.read(run / "guitar_target_drive_db=16.wav", dtype="float32")
    assert np.allclose(target, parse_chain("softclip(drive_db=16)")(guitar, 44100), atol=1e-6)
    assert "drive_db=16 <strong>(held out)</strong>" in page
    assert not (run / "guitar_model.wav").exists()  # no render at no setting
    md = (run / "results.md").read_text()
    assert "| drive_db=16 | 16 | held out |" in md and "held-out ESR" in md


def test_the_setting_plot_draws_two_knobs_as_lines(tmp_path):
    settings = [
        {"label": f"gain={g},tone={t}", "knobs": {"gain": g, "tone": t}, "holdout": g == 5}
        | {"test_esr": 0.01 * (1 + g) * (2 + t)}
        for g in (0, 5, 10)
        for t in (0, 1)
    ]
    knobs = [{"name": "gain", "unit": "", "lo": 0, "hi": 10}, {"name": "tone", "unit": ""}]
    row = {"run": "r", "test_esr": 0.1}
    record = RunRecord(row, tmp_path, [], [], {}, settings, knobs, [])
    assert esr_by_setting(record, tmp_path / "p.png").read_bytes()[:8] == PNG
    assert held_caption(record).endswith("gain=5,tone=0; gain=5,tone=1")
    assert "| gain=5,tone=1 | 5 | 1 | held out | 0.18 |" in settings_markdown(record)


def test_report_of_a_folder_that_is_neither_is_a_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "neither a study folder" in err


def test_markdown_block_is_refreshed_and_the_findings_kept(study, tmp_path, capsys):
    md = tmp_path / "docs" / "study.md"
    assert main(["report", str(study), "--markdown", str(md)]) == 0
    text = md.read_text()
    assert "![Test ESR per effect and model](study/esr_heatmap.png)" in text
    assert (md.parent / "study" / "esr_heatmap.png").is_file()
    assert "| softclip | conv-lstm | 8 |" in text and f"neuralfx sweep {study.parent}" in text
    assert "held-out" not in text  # no run held a setting out: no empty column
    md.write_text(text.replace("_To be written from the table above._", "LSTMs win."))
    assert main(["report", str(study), "--markdown", str(md)]) == 0
    again = md.read_text()
    assert "LSTMs win." in again and again.count(BEGIN) == 1 and again.count(END) == 1


def test_markdown_of_a_knob_study_has_the_per_setting_table(knob_study, tmp_path, capsys):
    md = tmp_path / "knob.md"
    assert main(["report", str(knob_study["out"]), "--markdown", str(md)]) == 0
    text = md.read_text()
    block = text[text.index(BEGIN) : text.index(END)]
    assert "| test ESR | held-out ESR |" in block
    assert f"Test ESR of `{KNOB_RUN}` at each knob setting" in block
    assert "| drive_db=16 | 16 | held out |" in block and "| drive_db=8 | 8 | yes |" in block


@pytest.fixture
def served(tmp_path_factory):
    """The pytest temp root over http on localhost (both fixtures' folders live under it)."""
    root = tmp_path_factory.getbasetemp()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.skipif(
    not HAVE_BROWSER and not os.environ.get("CI"),
    reason="chromium and chromium-driver are not installed (apt-get install "
    "chromium chromium-driver, or `make test` as root)",
)
def test_report_pages_load_in_headless_chromium(
    study, plain_run, knob_run, knob_study, served, tmp_path
):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    main(["report", str(plain_run)])
    main(["report", str(knob_run.run_dir)])
    root, base = served
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        # (page, runs, players): three per plain run; a knob run's clean guitar, then the
        # target and the model at each of its three demo settings
        pages = (
            (study / "report.html", 4, 12),
            (plain_run / "report.html", 1, 3),
            (knob_run.run_dir / "report.html", 1, 7),
            (knob_study["out"] / "report.html", 1, 7),
        )
        for page, runs, players in pages:
            driver.get(f"{base}/{page.relative_to(root).as_posix()}")
            rows = driver.find_element(By.ID, "results").find_elements(By.CSS_SELECTOR, "tbody tr")
            assert len(rows) == runs
            images = _settled(
                driver,
                "[...document.images].map(i => [i.getAttribute('src'), "
                "i.complete, i.naturalWidth])",
                lambda v: all(x[1] for x in v),
            )
            assert images and all(width > 0 for _, _, width in images), images
            audio = _settled(
                driver,
                "[...document.querySelectorAll('audio')].map(a => "
                "[a.getAttribute('src'), a.readyState, a.error && a.error.code])",
                lambda v: all(x[1] >= 1 or x[2] for x in v),
            )
            assert len(audio) == players
            assert all(ready >= 1 and not error for _, ready, error in audio), audio
            severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not severe, severe
    finally:
        driver.quit()


def _settled(driver, expression: str, done, timeout_s: float = 20.0):
    end = time.monotonic() + timeout_s
    while True:
        value = driver.execute_script(f"return {expression};")
        if done(value) or time.monotonic() > end:
            return value
        time.sleep(0.1)


def test_cpp_real_time_factor_comes_from_the_bench_output(tmp_path, monkeypatch):
    from neuralfx.study.analysis import CPP_BINARY_ENV, cpp_rtf

    fake = tmp_path / "neuralfx-process"
    fake.write_text(
        '#!/bin/sh\n[ "$1" = --bench ] || exit 3\n'
        "echo 'processed 10.0 s at 44100 Hz in 0.2 s on one thread: real-time factor "
        "0.02 (50x faster than real time)'\n"
        "echo 'cpu time 0.1 s: real-time factor by cpu time 0.01'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv(CPP_BINARY_ENV, str(fake))
    assert cpp_rtf(tmp_path / "model.json") == 0.01  # CPU time: other load does not inflate it
    fake.write_text("#!/bin/sh\nexit 1\n")
    assert cpp_rtf(tmp_path / "model.json") is None  # a model it cannot load: an empty cell
