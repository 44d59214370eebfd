"""After training: what a report shows about a run that training itself does not record.

``analyse_run`` writes ``RUN/analysis.json`` (Welch spectra of target and prediction on the
test block, the real-time factor of the exported model.json) and ``RUN/guitar_model.wav`` (the
best model playing the guitar demo). The sweep calls it in the worker that trained the run;
``neuralfx report RUN`` calls it for a run that has no analysis yet.

A knob run is rescored setting by setting through ``conditioning.test_scores``, the function
training scored it with, so the report's per-setting figures are training's to the last digit;
its spectra and guitar renders (``guitar_model_<setting>.wav``) are at the demo settings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.signal import welch

from ..audio import read_wav_at, write_text_atomic, write_wav
from ..config import load_config
from ..data import Split, dataset_for, read_sidecar
from ..data.knobs import knob_metadata
from ..dsp.chains import Chain
from ..export import load_model
from ..losses import EffectLoss
from ..render import render_array, with_knobs
from ..training import conditioning
from ..training.runs import RunPaths

RTF_AUDIO_S = 2.0
SPECTRUM_S = 6.0  # of the test block: ~130 Welch segments, plenty for a smooth estimate
WELCH_SAMPLES = 2048
CPP_BINARY_ENV = "NEURALFX_PROCESS"  # path of a built neuralfx-process, if not on PATH
# neuralfx-process --bench prints a wall-clock factor and, when it can, one by CPU time; the
# latter is preferred because parallel sweep jobs and other load inflate wall-clock time.
_CPP_RTF = (
    re.compile(r"real-time factor by cpu time ([0-9.eE+-]+)"),
    re.compile(r"real-time factor ([0-9.eE+-]+)"),
)


def analyse_run(run_dir: str | Path, guitar: Path | None, info: dict[str, Any]) -> dict[str, Any]:
    """Spectra, real-time factors and the guitar render of a finished run; ``info`` is kept.

    The test block comes from the one loader with the run's own config, so it is exactly the
    audio the run was scored on (same rate, alignment and split).
    """
    paths = RunPaths(Path(run_dir))
    cfg = load_config(paths.config)
    model, _ = load_model(paths.model)
    split = dataset_for(cfg).split
    rate = split.sample_rate_hz
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the real-time factor is quoted for one thread, like a plugin
    try:
        if split.settings:
            loss = EffectLoss(cfg.loss.esr_weight, cfg.loss.dc_weight, cfg.loss.pre_emphasis)
            measured = knob_analysis(model, split, loss, paths, guitar)
        else:
            measured = {"spectrum": block_spectrum(model, split.test_x, split.test_y, rate)}
            if guitar is not None:
                audio = render_array(model, read_wav_at(guitar, rate))
                write_wav(paths.guitar_render, audio, rate)
        rtf_python = python_rtf(model, rate)
    finally:
        torch.set_num_threads(threads)
    result = {**info, "rtf_python": rtf_python, "rtf_cpp": cpp_rtf(paths.model), **measured}
    write_text_atomic(paths.analysis, json.dumps(result) + "\n")
    return result


def block_spectrum(model, x: np.ndarray, y: np.ndarray, rate: int) -> dict[str, list[float]]:
    """Target and prediction spectra over the first ``SPECTRUM_S`` of a test block."""
    n = min(len(x), int(SPECTRUM_S * rate))
    freq, target_db = spectrum_db(y[:n], rate)
    _, prediction_db = spectrum_db(render_array(model, x[:n]), rate)
    return {
        "freq_hz": freq.tolist(),
        "target_db": target_db.tolist(),
        "prediction_db": prediction_db.tolist(),
    }


def knob_analysis(
    model, split: Split, loss_fn, paths: RunPaths, guitar: Path | None
) -> dict[str, Any]:
    """Every setting's test ESR as training scored it, the held-out settings' together, and
    at each demo setting the spectra of its test block and the guitar render."""
    test_esr, scores = conditioning.test_scores(model, split, loss_fn, "cpu")
    held = [s for s in split.settings if s.holdout]
    holdout_esr = None
    if held:
        holdout_esr = conditioning.score_settings(model, held, "test", loss_fn, "cpu")[1]
    rate = split.sample_rate_hz
    clean = read_wav_at(guitar, rate) if guitar is not None else None
    demo, spectra = [], []
    esr_at = {s["label"]: s["test_esr"] for s in scores}
    for s in conditioning.demo_settings(split):
        entry = {"label": s.label, "output": s.output, "holdout": s.holdout}
        spectrum = block_spectrum(model, s.test_x, s.test_y, rate)
        spectra.append({**entry, "test_esr": esr_at[s.label], **spectrum})
        if clean is not None:
            audio = render_array(model, conditioning.demo_input(clean, split, s))
            write_wav(paths.guitar_render_at(s.label), audio, rate)
        demo.append(entry)
    return {
        "seen_test_esr": test_esr,
        "holdout_esr": holdout_esr,
        "settings": scores,
        "knobs": knob_metadata(split.knobs),
        "demo": demo,
        "spectra": spectra,
    }


def setting_chain(data_dir: str | Path, output: str) -> Chain | None:
    """The effect that made one knobs.csv row (from its sidecar), or None when unrecorded."""
    made = read_sidecar(data_dir, Path(output).parts[0].removesuffix(".wav"))
    return made.chain() if made else None


def spectrum_db(x: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density in dB; a floor keeps silent bins finite for JSON."""
    nper = min(WELCH_SAMPLES, len(x))
    freq, psd = welch(x.astype(np.float64), fs=sample_rate_hz, nperseg=nper)
    return freq, np.round(10 * np.log10(np.maximum(psd, 1e-20)), 2)


def python_rtf(
    model: torch.nn.Module, sample_rate_hz: int, repeats: int = 3, max_total_s: float = 3.0
) -> float:
    """Seconds of compute per second of audio for ``render_array``: the best of a few tries
    (fewer for slow models), since other load only ever makes a try slower."""
    x = np.random.default_rng(0).uniform(-0.5, 0.5, int(RTF_AUDIO_S * sample_rate_hz))
    x = x.astype(np.float32)
    knobs = getattr(model, "knobs", 0)
    if knobs:  # a knob model renders at mid-range, as the C++ example's --bench does
        x = with_knobs(x, [0.5] * knobs)
    best, spent = float("inf"), 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        render_array(model, x)
        took = time.perf_counter() - t0
        best, spent = min(best, took), spent + took
        if spent > max_total_s:
            break
    return best / RTF_AUDIO_S


def cpp_binary() -> str | None:
    """$NEURALFX_PROCESS, neuralfx-process on PATH, or the checkout's ``make cpp`` build."""
    built = Path(__file__).resolve().parents[3] / "cpp" / "build" / "neuralfx-process"
    for found in (os.environ.get(CPP_BINARY_ENV), shutil.which("neuralfx-process"), str(built)):
        if found and os.path.isfile(found) and os.access(found, os.X_OK):
            return found
    return None


def cpp_rtf(model_path: Path) -> float | None:
    """The C++ example's own measure, or None when it is not built or cannot load the model."""
    binary = cpp_binary()
    if binary is None:
        return None
    try:
        out = subprocess.run(
            [binary, "--bench", str(model_path)], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    for pattern in _CPP_RTF:
        match = pattern.search(out.stdout)
        if match:
            return float(match.group(1))
    return None


def render_target(chain: Chain, guitar: Path, dest: Path, sample_rate_hz: int) -> Path:
    """The guitar demo through the real effect: what the model's render should sound like."""
    return write_wav(
        dest, chain(read_wav_at(guitar, sample_rate_hz), sample_rate_hz), sample_rate_hz
    )
