"""How many samples an effect's output lags its input, from the audio alone.

Used by ``data check`` and training: an output recorded through an interface, or rendered by a
plugin with look-ahead, arrives late, and a causal model cannot predict the future. The
estimate must be exact for pure delays even when the output is heavily distorted, and must not
mistake a filter's own group delay (which a recurrent model learns fine) for latency.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, ndimage, signal


def estimate_latency(
    x: np.ndarray,
    y: np.ndarray,
    max_lag_samples: int = 44100,
    analyse_samples: int = 60 * 44100,
) -> int | None:
    """Samples by which ``y`` lags ``x`` (negative: it leads), or None when unmeasurable.

    The search spans ``max_lag_samples`` either way over the first ``analyse_samples`` (1 s
    and 60 s at 44.1 kHz; callers at other rates scale them).

    Three steps. Loudness envelopes, which any distortion keeps in time, give the lag to
    within a few hundred samples when the input has onsets (music); this rules out the
    look-alike peaks that repeated notes or folded sweeps give. A generalised cross-correlation
    then finds the lag to the sample: the cross-spectrum is whitened (PHAT) and weighted by its
    smoothed coherence, so the peak is sharp for any input colour, survives clipping and
    ignores bands holding only distortion. A filter's own group delay still moves that peak by
    a few samples, so it is refined last by the excess phase (see ``_excess_delay``).
    """
    n = min(len(x), len(y), analyse_samples)
    if n < 64:
        return None
    a = x[:n].astype(np.float64) - np.mean(x[:n])
    b = y[:n].astype(np.float64) - np.mean(y[:n])
    nfft = fft.next_fast_len(2 * n)
    spec_x, spec_y = fft.rfft(a, nfft), fft.rfft(b, nfft)
    cross = spec_y * np.conj(spec_x)
    mag = np.abs(cross)
    if mag.max() == 0.0:
        return None

    def smooth(v: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter1d(v, 129, mode="nearest")

    coherence = np.abs(smooth(cross.real) + 1j * smooth(cross.imag)) ** 2 / np.maximum(
        smooth(np.abs(spec_x) ** 2) * smooth(np.abs(spec_y) ** 2), 1e-300
    )
    # Capped at 0.5 the weight c/(1-c) stays within [0, 1]: uncapped, a few tonal bins (whose
    # smoothed coherence is near 1 at any lag) dominate and repeated notes alias.
    coherence = np.minimum(coherence, 0.5)
    corr = fft.irfft(
        cross * coherence / (1.0 - coherence) / np.maximum(mag, 1e-12 * mag.max()), nfft
    )
    lags = np.arange(-min(max_lag_samples, n - 1), min(max_lag_samples, n - 1) + 1)
    window = np.abs(corr[lags])  # negative lags wrap to the end of the circular correlation
    centre = _envelope_lag(a, b, int(lags[-1]))
    near = window if centre is None else np.where(np.abs(lags - centre) <= 4 * _HOP, window, 0)
    i = int(np.argmax(near))
    if near[i] < 8.0 * np.std(window):  # no peak above the noise: no linear relation
        return None
    coarse = int(lags[i])
    residual = _excess_delay(a, b, coarse)
    if residual is None:  # no band where output and input are coherent at that lag
        return None
    # A residual under one sample is estimation noise; a filter's group delay is several.
    return coarse + int(round(residual)) if abs(residual) >= 1.0 else coarse


_HOP = 64


def _envelope_lag(x: np.ndarray, y: np.ndarray, max_lag_samples: int) -> int | None:
    """Lag of the best match of log-energy envelopes (64-sample hops), or None without onsets."""
    frames = min(len(x), len(y)) // _HOP
    if frames < 16:
        return None
    ex, ey = (
        np.log10(np.mean(v[: frames * _HOP].reshape(frames, _HOP) ** 2, axis=1) + 1e-10)
        for v in (x, y)
    )
    ex, ey = ex - ex.mean(), ey - ey.mean()
    norm = np.linalg.norm(ex) * np.linalg.norm(ey)
    if norm == 0.0:
        return None
    corr = signal.correlate(ey, ex, mode="full", method="fft") / norm
    lags = signal.correlation_lags(len(ey), len(ex))
    corr[np.abs(lags) > max_lag_samples // _HOP] = -np.inf
    i = int(np.argmax(corr))
    # Stationary signals (noise) have flat envelopes that correlate weakly at every lag.
    return int(lags[i]) * _HOP if corr[i] >= 0.5 else None


def _excess_delay(x: np.ndarray, y: np.ndarray, lag: int, nperseg: int = 4096) -> float | None:
    """Pure delay left after removing ``lag``, from the phase of the Welch H1 estimate.

    Two explanations of that phase compete: a zero-phase response (a memoryless nonlinearity,
    whose linear gain still varies with frequency) and a minimum-phase filter; the residual
    delay comes from whichever fits the phase better. None when fewer than 8 frequency bins
    are coherent at this lag: the correlation peak was then chance, not a relation.
    """
    xs, ys = (x[: len(x) - lag], y[lag:]) if lag >= 0 else (x[-lag:], y[: len(y) + lag])
    if min(len(xs), len(ys)) < 4 * nperseg:
        return 0.0
    pxx = signal.welch(xs, nperseg=nperseg)[1]
    pyy = signal.welch(ys, nperseg=nperseg)[1]
    pxy = signal.csd(xs, ys, nperseg=nperseg)[1]
    h = pxy / np.maximum(pxx, 1e-30)
    coherence = np.abs(pxy) ** 2 / np.maximum(pxx * pyy, 1e-30)
    good = coherence > 0.5
    if good.sum() < 8:
        return None
    k = np.arange(len(h))
    # Bins without signal carry no magnitude information: interpolate over them.
    log_mag = np.interp(k, k[good], np.log(np.maximum(np.abs(h[good]), 1e-12)))
    cep = fft.irfft(log_mag, nperseg)  # real cepstrum -> fold -> minimum-phase log spectrum
    cep[1 : nperseg // 2] *= 2.0
    cep[nperseg // 2 + 1 :] = 0.0
    delays = np.arange(-40.0, 40.0001, 0.05)
    steer = np.exp(1j * np.outer(delays, 2.0 * np.pi * k / nperseg))
    best_score, best_delay = -np.inf, 0.0
    for residual in (h, h / np.exp(fft.rfft(cep, nperseg))):
        phase = coherence * good * residual / np.maximum(np.abs(residual), 1e-30)
        score = np.real(steer @ phase)
        i = int(np.argmax(score))
        if score[i] > best_score + 1e-9:  # ties go to the zero-phase (first) explanation
            best_score, best_delay = float(score[i]), float(delays[i])
    return best_delay
