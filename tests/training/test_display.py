"""The live bar and the epoch lines: what they say about the run, epoch after epoch."""

import io
import math

from rich.console import Console

from neuralfx.training.display import Reporter, Status, best_text, target_text
from neuralfx.training.forecast import Forecast


def test_the_display_shows_the_best_esr_and_where_it_is_heading():
    assert best_text(Status(math.inf)) == "-"
    assert best_text(Status(1.234e-3)) == "1.23e-03"
    assert best_text(Status(1.234e-3, Forecast(60, 4.04e-4))) == "1.23e-03 → ~4.0e-04 at end"


def test_the_live_bar_shows_the_best_esr_and_the_forecast_and_keeps_them_across_epochs():
    reporter = Reporter(quiet=False)
    out = io.StringIO()
    reporter.quiet, reporter.console = False, Console(file=out, force_terminal=True, width=200)
    reporter.start_epoch(0, 2, Status(math.inf))
    reporter.batch(0.5, 1000.0)
    # a second epoch resets the bar: every field it shows must survive that
    reporter.start_epoch(1, 2, Status(1.234e-3, Forecast(60, 4.04e-4), 0.0, 30.0, 60.0))
    reporter.batch(0.25, 1000.0)
    reporter.close()
    assert "best ESR 1.23e-03 → ~4.0e-04 at end" in out.getvalue()
    assert "left 0:00:30" in out.getvalue()


def test_the_target_text_says_when_and_whether_before_the_end():
    fc = Forecast(end_s=100, end_esr=1e-3, target_s=70)
    assert target_text(Status(2e-3, fc, 0.0, 30)) == ""
    assert target_text(Status(2e-3, None, 1e-3, 30)) == "target 0.001"
    assert target_text(Status(2e-3, fc, 1e-3, 30)) == "target 0.001 in ~40 s"
    late = Forecast(end_s=100, end_esr=1e-3, target_s=7200 + 30)
    assert target_text(Status(2e-3, late, 1e-3, 30)) == "target 0.001 in ~2 h, past the end"
    flat = Forecast(end_s=100, end_esr=2e-3)
    assert target_text(Status(2e-3, flat, 1e-3, 30)) == "target 0.001: not in sight"
    assert target_text(Status(1e-3, flat, 1e-3, 30)) == "target 0.001 reached"
