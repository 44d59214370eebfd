"""``neuralfx info``: what a model file holds and where it can go."""

from __future__ import annotations

from pathlib import Path

from ..errors import NeuralFXError
from ..models import RecurrentModel, count_parameters
from ..models.sequential import SequentialModel, to_recurrent_model
from . import load_model
from .aidax import aidax_refusal
from .knobs import describe_knob, model_knobs
from .lab import check_lab_exportable
from .nam import nam_refusal


def _architecture(model: RecurrentModel) -> str:
    parts = []
    if len(model.convs):
        c = model.convs[0].conv
        parts.append(
            f"{len(model.convs)} x conv1d {c.out_channels} (kernel {c.kernel_size[0]}, tanh)"
        )
    rnn = model.rnn
    stack = f"{rnn.num_layers} x " if rnn.num_layers > 1 else ""
    parts += [f"{stack}{model.cell} {rnn.hidden_size}", "dense 1"]
    return " > ".join(parts) + (" + input (skip)" if model.skip else "")


def _destinations(model: RecurrentModel) -> list[tuple[str, str | None]]:
    try:
        check_lab_exportable(model)
        lab_why = None
    except NeuralFXError as exc:
        lab_why = str(exc)
    return [
        ("lab", lab_why),
        ("native", None),
        ("aidax", aidax_refusal(model)),
        ("nam", nam_refusal(model)),
    ]


HOSTS = {
    "lab": "RTNeural ModelT + torch_helpers (cpp/ lab processor)",
    "native": "any RTNeural host via parseJson (cpp/ neuralfx-process)",
    "aidax": "AIDA-X plugin (LV2/VST3/CLAP/AU, MOD devices)",
    "nam": "Neural Amp Modeler plugins",
}


def _knob_lines(meta: dict) -> list[str]:
    """The knob inputs, the settings held out of training and the test ESR at each setting."""
    knobs = model_knobs(meta)
    if not knobs:
        return []
    lines = [f"knobs:        {len(knobs)} (render with --knob NAME=VALUE for each)"]
    for i, k in enumerate(knobs):
        lines.append(f"  input {i + 1}      {describe_knob(k)}")
    if meta.get("holdout"):
        lines.append(f"held out:     {'; '.join(meta['holdout'])} (never trained on)")
    by_setting = meta.get("test_esr_by_setting") or {}
    if by_setting:
        lines.append("test ESR by setting:")
        held = set(meta.get("holdout") or ())
        for label, esr in by_setting.items():
            lines.append(f"  {label:24s} {esr:.4g}{'  (held out)' if label in held else ''}")
    return lines


def model_info(path: str | Path) -> list[str]:
    """Lines describing the model file at ``path``."""
    model, meta = load_model(path)
    rate = meta.get("sample_rate_hz")
    fmt = meta.get("format", "lab")
    lines = [f"file:         {path} ({fmt} format)"]
    if isinstance(model, RecurrentModel):
        lines.append(f"architecture: {_architecture(model)}")
        lines.append(
            f"sizes:        hidden {model.rnn.hidden_size}, layers {model.rnn.num_layers}, "
            f"conv layers {len(model.convs)}"
        )
    else:
        skip = " + input (skip)" if model.skip else ""
        lines.append(f"architecture: {model.describe()}{skip}")
        gains = f"in_gain {meta.get('in_gain_db', 0.0):g} dB, out_gain {meta.get('out_gain_db', 0.0):g} dB"
        lines.append(f"host:         {gains}, warm-up {model.warmup_samples} samples of silence")
    lines.append(f"parameters:   {count_parameters(model)}")
    lines.append(
        f"sample rate:  {f'{rate} Hz' if rate else 'not stated (plays at the input rate)'}"
    )
    lines.append("latency:      0 samples (causal, sample by sample)")
    lines += _knob_lines(meta)
    lines.append("can go to:")
    if isinstance(model, SequentialModel):
        lines.append("  render       yes (neuralfx render, as its host plays it)")
        try:
            model = to_recurrent_model(model, str(path))
        except NeuralFXError as exc:
            why = str(exc).split(": ", 1)[-1]
            lines.append(f"  training     no: {why}")
            lines.append("  export       no: only networks neuralfx trains convert")
            return lines
        lines.append("  training     yes: its network converts to a neuralfx model")
    for name, why in _destinations(model):
        verdict = f"yes: {HOSTS[name]}" if why is None else f"no: {why}"
        lines.append(f"  {name:12s} {verdict}")
    return lines
