"""Run a model over audio in blocks with the state carried, as a plugin does.

Memory stays bounded by the block size, so an hour-long file renders like a five-second one.
A model with knob inputs needs every knob set, in its own units: a constant (``gain=7``) or a
linear sweep over the whole file (``gain=0:10``, automation to hear the transitions). A knob left
out is an error rather than a guessed default, so a render always says what it played.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from . import audio
from .data.knobs import Knob, with_knobs
from .errors import AudioError, ConfigError, OutputError
from .export import load_model
from .export.knobs import describe_knob, model_knobs

BLOCK_SAMPLES = 1 << 16
KnobValue = float | tuple[float, float]  # a constant, or a sweep (start, end) over the file


def start_state(model: torch.nn.Module, knobs=()):
    """Where playback starts: zero for our models; a foreign file's stored state after its
    host's warm-up (AIDA-X's silence on load, knob inputs at ``knobs``, 0..1), so renders match
    the plugin."""
    start = getattr(model, "start_state", None)
    return start(list(knobs)) if start is not None else None


def parse_knob_flags(texts: list[str] | None) -> dict[str, KnobValue]:
    """``["gain=7", "tone=0:10"]`` -> ``{"gain": 7.0, "tone": (0.0, 10.0)}``."""
    out: dict[str, KnobValue] = {}
    for text in texts or ():
        name, sep, spec = text.partition("=")
        name = name.strip()
        try:
            if not (sep and name):
                raise ValueError
            parts = [float(v) for v in spec.split(":")]
            if len(parts) not in (1, 2):
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"--knob {text!r}: write name=value or name=start:end, e.g. gain=7 or gain=0:10"
            ) from None
        if name in out:
            raise ConfigError(f"--knob {text!r}: {name} is set twice; give each knob once")
        out[name] = parts[0] if len(parts) == 1 else (parts[0], parts[1])
    return out


def knob_plan(
    knobs: tuple[Knob, ...], given: dict[str, KnobValue] | None, where: str
) -> np.ndarray:
    """Each knob's scaled (0..1) value at the first and last sample, ``(N, 2)``; every knob of
    the model must be given, inside its range, and only those."""
    given = dict(given or {})
    listing = ", ".join(describe_knob(k) for k in knobs)
    names = [k.name for k in knobs]
    for name in given:
        if not knobs:
            raise ConfigError(f"--knob {name}: {where} has no knob inputs; drop --knob")
        if name not in names:
            raise ConfigError(f"--knob {name}: {where} has no such knob; its knobs are {listing}")
    plan = np.empty((len(knobs), 2), np.float32)
    for i, k in enumerate(knobs):
        if k.name not in given:
            raise ConfigError(
                f"{where}: knob {k.name} is not set; set every knob with --knob NAME=VALUE "
                f"(or NAME=START:END to sweep): {listing}"
            )
        value = given[k.name]
        ends = value if isinstance(value, tuple) else (value, value)
        for v in ends:
            if not math.isfinite(v):
                raise ConfigError(
                    f"--knob {k.name}={v:g}: not a finite number; pick a value inside "
                    f"{describe_knob(k)}"
                )
            if not k.lo <= v <= k.hi:
                raise ConfigError(
                    f"--knob {k.name}={v:g}: outside its range {describe_knob(k)}; "
                    "pick a value inside it"
                )
        plan[i] = [k.scale(ends[0]), k.scale(ends[1])]
    return plan


def knob_columns(plan: np.ndarray, start: int, n: int, total: int) -> np.ndarray:
    """The knob inputs of samples ``start .. start + n`` of a ``total``-sample file, ``(n, N)``:
    each knob moves linearly from its first to its last value (constant when they are equal)."""
    t = (np.arange(start, start + n, dtype=np.float64) / max(total - 1, 1))[:, None]
    return (plan[:, 0] + t * (plan[:, 1] - plan[:, 0])).astype(np.float32)


@torch.inference_mode()
def render_array(
    model: torch.nn.Module,
    x: np.ndarray,
    block_samples: int = BLOCK_SAMPLES,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Process audio from the model's start state; the output has the input's length.

    ``x`` is mono ``(time,)`` or, for a model with knob inputs, ``(time, 1 + N)``
    (see :func:`with_knobs`). Settings of equal length render side by side with
    :func:`render_batch`.
    """
    return render_batch(model, x[None], block_samples, device)[0]


@torch.inference_mode()
def render_batch(
    model: torch.nn.Module,
    x: np.ndarray,
    block_samples: int = BLOCK_SAMPLES,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """``(batch, time[, channels])`` -> ``(batch, time)``, each row from the start state."""
    model.eval()
    x = x if x.ndim == 3 else x[..., None]
    width = getattr(model, "in_channels", 1)
    if x.shape[2] != width:
        raise ValueError(
            f"the model takes {width} inputs per sample (audio + {width - 1} knobs); "
            f"got {x.shape[2]}: build them with with_knobs"
        )
    out = np.empty(x.shape[:2], dtype=np.float32)
    state = start_state(model, x[0, 0, 1:] if x.shape[1] else np.zeros(width - 1))
    if state is not None and x.shape[0] > 1:
        raise ValueError("a stored start state renders one row at a time")
    for start in range(0, x.shape[1], block_samples):
        block = torch.from_numpy(
            np.ascontiguousarray(x[:, start : start + block_samples], np.float32)
        )
        y, state = model(block.to(device), state)
        out[:, start : start + block.shape[1]] = y[..., 0].cpu().numpy()
    return out


@torch.inference_mode()
def render_file(
    model_path: str | os.PathLike,
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    block_samples: int = BLOCK_SAMPLES,
    threads: int = 1,
    resample: bool = False,
    knobs: dict[str, KnobValue] | None = None,
) -> Path:
    """Render a wav through a model file (any format ``load_model`` reads), block by block.

    ``knobs`` sets each knob of a conditioned model in its own units: ``{"gain": 7.0}``, or
    ``{"gain": (0.0, 10.0)}`` to sweep it linearly from the first sample to the last.

    The output is written to a temp file and renamed at the end, so an interrupted render
    never leaves a half file where a good one stood. A file at another rate than the model's is
    refused, or with ``resample`` converted to the model's rate and the result back to the
    file's (in memory: the file is read whole).
    """
    in_path, out_path = Path(in_path), Path(out_path)
    if out_path.resolve() == in_path.resolve():
        raise AudioError(f"{out_path}: is the input file; choose another output path")
    audio.check_output_path(out_path)
    if threads:
        torch.set_num_threads(threads)
    model, meta = load_model(model_path)
    plan = knob_plan(model_knobs(meta), knobs, str(model_path))
    wi = audio.info(in_path)
    # a foreign file may not say its rate; then it plays at the input's, as in its plugin
    rate = int(meta.get("sample_rate_hz") or wi.sample_rate_hz)
    if wi.sample_rate_hz != rate:
        if not resample:
            raise AudioError(
                f"{in_path}: sample rate is {wi.sample_rate_hz} Hz; the model was trained at "
                f"{rate} Hz: pass --resample to convert it, or resample the file first"
            )
        x = audio.resample(
            audio.read_wav(in_path, None, check_content=False), wi.sample_rate_hz, rate
        )
        x = with_knobs(x, knob_columns(plan, 0, len(x), len(x)))
        y = audio.resample(render_array(model, x, block_samples), rate, wi.sample_rate_hz)
        return audio.write_wav(out_path, y[: wi.frames], wi.sample_rate_hz)
    with audio.atomic_path(out_path) as tmp:
        state = start_state(model, plan[:, 0])
        done = 0
        try:
            dst = sf.SoundFile(tmp, "w", samplerate=rate, channels=1, subtype="FLOAT", format="WAV")
        except (sf.LibsndfileError, OSError) as exc:
            raise OutputError(f"{out_path}: cannot be written ({exc}); write elsewhere") from None
        with dst:
            for block in _blocks(in_path, block_samples):
                x = np.ascontiguousarray(block[:, 0])
                if not np.isfinite(x).all():
                    raise AudioError(f"{in_path}: has NaN or infinite samples; clean it first")
                cols = knob_columns(plan, done, len(x), wi.frames)
                done += len(x)
                y, state = model(torch.from_numpy(with_knobs(x, cols))[None], state)
                try:
                    dst.write(y.view(-1).numpy())
                except (sf.LibsndfileError, OSError) as exc:
                    # the disk, not the input: a full disk must not blame the wav being read
                    raise OutputError(
                        f"{out_path}: cannot be written ({exc}); free some disk space or "
                        "write elsewhere"
                    ) from None
    return out_path


def _blocks(in_path: Path, block_samples: int):
    """The input's blocks; a read error blames the input (and only a read error does)."""
    try:
        yield from sf.blocks(str(in_path), blocksize=block_samples, dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        raise AudioError(f"{in_path}: truncated or corrupt wav ({exc}); export it again") from None
