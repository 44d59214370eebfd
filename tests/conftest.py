"""Shared fixtures; the helpers they use live in utils.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from study_fixtures import knob_run, knob_study, resumed  # noqa: F401 (session fixtures)
from utils import make_pair, noise


@pytest.fixture
def gain_data(tmp_path: Path) -> Path:
    x = noise(6.0)
    return make_pair(tmp_path / "gain", x, 0.5 * x)
