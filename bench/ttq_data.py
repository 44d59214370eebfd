"""Datasets for bench/time_to_quality.py: guitar-like phrases through Debian's sox.

sox is a DSP neuralfx does not contain, so a model cannot score well by sharing our filters'
or clippers' exact shapes. Training and scoring audio come from different seeds of
``neuralfx.dsp.signals.clean_signal``; the held-out phrase is never seen in training or
validation. Built-in effects use the same two phrases through our own chains.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from neuralfx.audio import read_wav, write_wav
from neuralfx.dsp.chains import parse_chain
from neuralfx.dsp.signals import clean_signal

RATE_HZ = 44100
TRAIN_SEED, HELDOUT_SEED = 11, 23
# 80/10/10 split: 150 s of training audio; the held-out phrase is 30 s of another seed
TRAIN_S, HELDOUT_S = 187.5, 30.0

SOX = {
    "sox_lowpass": "lowpass 2000",
    "sox_highpass": "highpass 300",
    # sox's samples are fixed-point between effects: anything past full scale is clipped. The
    # resonance boosts by up to ~16 dB, and without the input 16 dB down 1.2 % of the
    # validation block was clipped (0.001 % of the held-out phrase): it scored the clipping
    "sox_resonant": "gain -16 lowpass 1200 6q",
    "sox_overdrive": "overdrive 20 20",
    "sox_amp": "bass +6 overdrive 30 10 lowpass 4500 equalizer 700 1q -5",
    "sox_fuzz": "gain 12 overdrive 60 0 lowpass 5000 gain -6",
    # make-up gain -6 dB (was +3 until 2026-12-02, which clipped the attacks: 0.02-0.08 %)
    "sox_compander": "compand 0.01,0.25 6:-60,-60,-40,-24,-20,-14,0,-9 -6 -90 0",
}
BUILTIN = {"compressor": "compressor", "fuzz": "fuzz"}
EFFECTS = tuple(SOX) + tuple(BUILTIN)


def sox(x: np.ndarray, chain: str) -> np.ndarray:
    """``x`` through the sox effect chain ``chain`` (e.g. ``overdrive 20 20``), unclipped."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        write_wav(src, x, RATE_HZ)
        # -D: no dither, float output: the target is sox's arithmetic, not its noise
        cmd = ["sox", "-D", str(src), "-e", "floating-point", "-b", "32", str(dst), *chain.split()]
        subprocess.run(cmd, check=True, capture_output=True)
        return read_wav(dst, expected_rate_hz=RATE_HZ, check_content=False)


def process(effect: str, x: np.ndarray) -> np.ndarray:
    if effect in SOX:
        y = sox(x, SOX[effect])
    else:
        y = parse_chain(BUILTIN[effect])(x, RATE_HZ)
    return np.clip(y[: len(x)], -1.0, 1.0).astype(np.float32)


def ensure(root: Path, effect: str) -> tuple[Path, np.ndarray, np.ndarray]:
    """``root/<effect>`` as a neuralfx dataset, and the held-out (x, y) pair."""
    if effect not in EFFECTS:
        raise SystemExit(f"unknown effect {effect!r}; choose from {', '.join(EFFECTS)}")
    if effect in SOX and shutil.which("sox") is None:
        raise SystemExit("sox is not installed: apt-get install -y sox")
    data_dir = root / effect
    heldout, made_by = data_dir / "heldout.npz", data_dir / "effect.txt"
    chain = SOX.get(effect) or BUILTIN[effect]
    if not heldout.is_file() or not made_by.is_file() or made_by.read_text() != chain:
        x = clean_signal(seed=TRAIN_SEED, duration_s=TRAIN_S, sample_rate_hz=RATE_HZ)
        write_wav(data_dir / "input" / "clean_signal.wav", x, RATE_HZ)
        write_wav(data_dir / "output" / f"{effect}.wav", process(effect, x), RATE_HZ)
        hx = clean_signal(seed=HELDOUT_SEED, duration_s=HELDOUT_S, sample_rate_hz=RATE_HZ)
        np.savez(heldout.with_suffix(".tmp.npz"), x=hx, y=process(effect, hx))
        heldout.with_suffix(".tmp.npz").replace(heldout)
        made_by.write_text(chain)  # a changed definition makes the data again
    pair = np.load(heldout)
    return data_dir, pair["x"], pair["y"]
