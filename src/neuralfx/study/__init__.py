"""Experiments on top of ``train()``: study files, the sweep, per-run analysis, report, plots."""
