"""Wav I/O: the one reader, the one resampler, atomic writes."""

import numpy as np
from utils import RATE as SR

from neuralfx.audio import resample


def test_resampling_48k_keeps_a_1khz_tone():
    tone = np.sin(2 * np.pi * 1000.0 * np.arange(48000 * 2) / 48000).astype(np.float32)
    y = resample(tone, 48000, SR)
    assert len(y) == 2 * SR
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.argmax(spectrum) * SR / len(y)
    assert abs(peak_hz - 1000.0) <= 1.0
