"""``train --init FILE``: begin from another model file's weights (ours, AIDA-X, RTNeural, NAM).

A capture of one setting can start a knob-conditioned run: the knob inputs' weights start at
zero, so the first epoch plays the capture at every setting and training learns what the
knobs change.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError, plural
from ..export import load_recurrent_model
from ..models import RecurrentModel


def _arch(m: RecurrentModel) -> str:
    conv = f"{len(m.convs)} conv + " if len(m.convs) else ""
    return f"{conv}{m.rnn.num_layers} x {m.cell.upper()}-{m.rnn.hidden_size}" + (
        " with skip" if m.skip else ""
    )


def _first_input_key(m: RecurrentModel) -> str:
    """The state_dict key of the weights that read the model's input channels."""
    return "convs.0.conv.weight" if len(m.convs) else f"{m.cell}.weight_ih_l0"


def start_from(model: RecurrentModel, path: str) -> None:
    """Load ``path``'s weights into ``model``, which must be its architecture; a file with
    fewer knob inputs than the run is widened with zero weights for the new ones."""
    if not path:
        return
    src, _ = load_recurrent_model(path)
    if _arch(src) != _arch(model):
        flags = f"--model {src.cell} --hidden {src.rnn.hidden_size} --layers {src.rnn.num_layers}"
        raise ConfigError(
            f"--init {path}: is {_arch(src)}, this run trains {_arch(model)}: pass {flags}"
            + (" --skip" if src.skip else "")
            + " (or leave the model flags out to take the file's)"
        )
    if src.knobs > model.knobs:
        raise ConfigError(
            f"--init {path}: takes {plural(src.knobs, 'knob input')}, this dataset has {model.knobs}; "
            "train on data with its knobs.csv, or start afresh"
        )
    state = src.state_dict()
    if src.knobs < model.knobs:
        key = _first_input_key(model)
        w = state[key]
        pad = list(w.shape)
        pad[1] = model.knobs - src.knobs
        state[key] = torch.cat([w, w.new_zeros(pad)], dim=1)
    model.load_state_dict(state)
