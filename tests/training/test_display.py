"""The live bar and the epoch lines: what they say about the run, epoch after epoch."""

import io

from rich.console import Console

from neuralfx.training.display import Reporter


def test_the_live_bar_keeps_every_field_from_one_epoch_to_the_next():
    reporter = Reporter(quiet=False)
    out = io.StringIO()
    reporter.quiet, reporter.console = False, Console(file=out, force_terminal=True, width=200)
    reporter.start_epoch(0, 2, float("inf"), None)
    reporter.batch(0.5, 1000.0)
    # a second epoch resets the bar: every field it shows must survive that
    reporter.start_epoch(1, 2, 1.234e-3, 30.0)
    reporter.batch(0.25, 1000.0)
    reporter.close()
    assert "best val 0.001234" in out.getvalue()
    assert "left 0:00:30" in out.getvalue()
