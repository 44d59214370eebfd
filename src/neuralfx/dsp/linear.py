"""The best linear filter of a recorded pair, as a small state-space system.

A filter pedal, an EQ or a cabinet-free tone stack is linear: its output is the input through
one impulse response. Gradient descent approaches such a pair slowly (an LSTM from PyTorch's
start reached a held-out ESR of 2e-4 to 4e-3 in 20 s on sox's 300 Hz highpass, bench/notes.md),
while least squares finds it at once. Two steps:

1. ``fir_fit``: the Wiener solution, the FIR of ``taps`` coefficients that minimises the
   squared error, from the pair's auto- and cross-correlations (Toeplitz normal equations).
2. ``realisations``: Kung's eigensystem realisation of that impulse response. The SVD of its Hankel
   matrix gives a balanced state-space system of each order, and the lowest order whose
   output is as good as any is kept: a biquad comes back as 2-3 states instead of 1,024 taps.

The system is ``z[t] = A z[t-1] + B x[t]``, ``y[t] = C z[t]``: the state after each sample
includes that sample, as an LSTM's does, so no direct term is needed (it is ``C B``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.signal

from .levels import esr

TAPS = 1024  # 23 ms at 44.1 kHz: a 300 Hz biquad's response has decayed by 1e-7 by then
STABLE = 0.9999  # largest pole radius kept: slower poles are the fit's noise, not a filter
IMPULSE = 8192  # samples of a realisation's response used to score it


@dataclass(frozen=True)
class StateSpace:
    a: np.ndarray  # (order, order)
    b: np.ndarray  # (order,)
    c: np.ndarray  # (order,)

    @property
    def order(self) -> int:
        return len(self.b)

    def states(self, x: np.ndarray) -> np.ndarray:
        """The state after each sample of ``x``, (time, order), through the system's modes
        (one first-order complex recursion each) so it costs a filter per state, not a loop."""
        poles, vectors = np.linalg.eig(self.a)
        gains = np.linalg.solve(vectors, self.b.astype(complex))
        xc = np.asarray(x, dtype=complex)
        modes = np.stack(
            [scipy.signal.lfilter([g], [1.0, -p], xc) for g, p in zip(gains, poles)], axis=1
        )
        return (modes @ vectors.T).real

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.states(x) @ self.c

    def impulse(self, n: int) -> np.ndarray:
        delta = np.zeros(n)
        delta[0] = 1.0
        return self.run(delta)


def fir_fit(x: np.ndarray, y: np.ndarray, taps: int = TAPS) -> np.ndarray:
    """The least-squares FIR from ``x`` to ``y`` (a causal impulse response of ``taps``)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n_fft = 1 << int(np.ceil(np.log2(2 * len(x))))
    spectrum = np.fft.rfft(x, n_fft)
    r_xx = np.fft.irfft(spectrum * np.conj(spectrum), n_fft)[:taps].copy()
    r_xy = np.fft.irfft(np.fft.rfft(y, n_fft) * np.conj(spectrum), n_fft)[:taps]
    if r_xx[0] <= 0:
        raise ValueError("the input is silent")
    r_xx[0] *= 1 + 1e-9  # a ridge against band-limited inputs' near-singular correlations
    return scipy.linalg.solve_toeplitz(r_xx, r_xy)


def realisations(h: np.ndarray, max_order: int):
    """Balanced state-space systems of order 1..``max_order`` whose responses match ``h``
    (Kung's method: the shifted Hankel matrix in the basis of the leading singular vectors)."""
    m = len(h) // 2
    h0 = scipy.linalg.hankel(h[:m], h[m - 1 : 2 * m - 1])
    h1 = scipy.linalg.hankel(h[1 : m + 1], h[m : 2 * m])
    u, s, vt = np.linalg.svd(h0)
    for r in range(1, min(max_order, int(np.sum(s > s[0] * 1e-12))) + 1):
        root = np.sqrt(s[:r])
        a = (u[:, :r].T @ h1 @ vt[:r].T) / root[:, None] / root[None, :]
        yield StateSpace(a, root * vt[:r, 0], u[0, :r] * root)


def fit_linear(
    x: np.ndarray, y: np.ndarray, fit_samples: int, max_order: int
) -> tuple[StateSpace, float] | None:
    """The lowest-order stable system (at most ``max_order`` states) fitted on the first
    ``fit_samples`` of the pair whose ESR on the rest no higher order beats by 10 %, with that
    ESR; None if no realisation is stable. The rest is scored with the audio before it as
    context, so a slow filter's start from silence is not counted as its error."""
    h = fir_fit(x[:fit_samples], y[:fit_samples])
    context = max(0, fit_samples - IMPULSE)
    x_run, y_check = np.asarray(x[context:], np.float64), np.asarray(y[fit_samples:], np.float64)
    best: tuple[StateSpace, float] | None = None
    for system in realisations(h, max_order):
        if not np.max(np.abs(np.linalg.eigvals(system.a))) < STABLE:
            continue
        out = scipy.signal.fftconvolve(x_run, system.impulse(IMPULSE))
        score = esr(y_check, out[fit_samples - context : len(x_run)])
        if best is None or score < 0.9 * best[1]:
            best = (system, score)
    return best
