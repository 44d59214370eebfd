"""A pair that is a linear filter needs no training: the LSTM is set to the filter itself.

``dsp.linear`` fits the pair's best linear filter on the training block by least squares, in
about a second; ``models.recurrent.start_as_filter`` writes it into the LSTM's units, which are
linear while their cells stay small. When the filter's ESR on training audio it was not fitted
on is ``LINEAR_ESR`` or less, and the network so set validates as well as the filter itself,
that is the run's record and training is skipped: Adam at any rate
moves a network that is already this close away from it. From this start sox's 300 Hz
highpass went from a held-out ESR of 1.2e-7 to 7.4e-5 at lr 1e-4 in 20 s, and to 0.21 at the
default 2e-2 (bench/notes.md), where training from PyTorch's start reached 2e-4 to 4e-3.
Anything less linear (a drive, a compressor, a filter into a clipper) trains as before, from
PyTorch's start: the fit is put back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..dsp.levels import esr
from ..dsp.linear import fit_linear
from ..models.recurrent import RecurrentModel, start_as_filter
from .tbptt import validation_scores

LINEAR_ESR = 1e-5  # validation ESR at or below which the fitted filter is the model
FIT_S, CHECK_S = 20.0, 5.0  # training audio fitted on, and the audio after it the fit is scored on
MIN_FIT_S = 1.0
FAITHFUL = 2.0  # the network may score up to this many times the filter's validation ESR


@dataclass(frozen=True)
class LinearStart:
    order: int
    check_esr: float  # the filter's own ESR on the check audio, before it was an LSTM
    scores: tuple[float, float]  # the LSTM's validation loss and ESR


def applies(model: torch.nn.Module, split) -> bool:
    """Only a one-layer LSTM on the audio alone, on one-setting data, can be set this way."""
    return (
        isinstance(model, RecurrentModel)
        and isinstance(model.rnn, torch.nn.LSTM)
        and model.rnn.num_layers == 1
        and not len(model.convs)
        and not model.knobs
        and not split.settings
    )


def linear_start(model: RecurrentModel, split, loss_fn, device) -> LinearStart | None:
    """Set ``model`` to the pair's linear filter if the filter scores LINEAR_ESR on training
    audio it was not fitted on and the network validates as well as the filter; otherwise
    leave the model as it was and return None."""
    if not applies(model, split):
        return None
    sr = split.sample_rate_hz
    lo, hi = max(split.train_bounds, key=lambda b: b[1] - b[0])
    if hi - lo < 2 * MIN_FIT_S * sr:
        return None
    fit_end = lo + int(min(FIT_S * sr, 0.8 * (hi - lo)))
    check_end = min(hi, fit_end + int(CHECK_S * sr))
    x, y = (np.asarray(a[lo:check_end], np.float64) for a in (split.train_x, split.train_y))
    n = fit_end - lo
    if not np.any(x[:n]) or not np.any(y[n:]):
        return None
    fitted = fit_linear(x, y, n, max_order=model.rnn.hidden_size)
    if fitted is None or not fitted[1] <= LINEAR_ESR:  # a drive's linear fit is at 0.1-0.4
        return None
    system, check_esr = fitted
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    peak = float(np.max(np.abs(system.states(x[:n]))))
    start_as_filter(model, system.a, system.b, system.c, peak)
    scores = validation_scores(model, split, loss_fn, device)
    # validation starts from silence, so a slow filter misses the tail of the audio before
    # the block: the network is judged against the filter itself under the same handicap
    own = esr(split.val_y, system.run(split.val_x))
    if scores[1] <= max(LINEAR_ESR, FAITHFUL * own):
        return LinearStart(system.order, check_esr, scores)
    model.load_state_dict(before)
    return None


def notice(start: LinearStart) -> str:
    return (
        f"the pair is a linear filter: the network is set to its {start.order}-state "
        f"least-squares fit (ESR {start.check_esr:.2g} on training audio it was not fitted on, "
        f"validation ESR {start.scores[1]:.2g}) and not trained, as "
        f"training only moves it away; --linear-start off trains it from scratch"
    )
