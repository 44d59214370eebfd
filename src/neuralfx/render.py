"""Run a model over audio in blocks with the state carried, as a plugin does.

Memory stays bounded by the block size, so an hour-long file renders like a five-second one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from . import audio
from .errors import AudioError, OutputError
from .export import load_model

BLOCK_SAMPLES = 1 << 16


def start_state(model: torch.nn.Module):
    """Where playback starts: zero for our models; a foreign file's stored state after its
    host's warm-up (AIDA-X's silence on load), so renders match the plugin."""
    start = getattr(model, "start_state", None)
    return start() if start is not None else None


def with_knobs(x: np.ndarray, scaled: np.ndarray | list[float]) -> np.ndarray:
    """A conditioned model's input ``(time, 1 + N)``: the audio, then each knob's 0..1 value,
    constant (``scaled`` of shape ``(N,)``) or one per sample (``(time, N)``)."""
    scaled = np.asarray(scaled, np.float32)
    out = np.empty((len(x), 1 + scaled.shape[-1]), np.float32)
    out[:, 0] = x
    out[:, 1:] = scaled
    return out


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
    out = np.empty(x.shape[:2], dtype=np.float32)
    state = start_state(model)
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
) -> Path:
    """Render a wav through a model file (any format ``load_model`` reads), block by block.

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
        y = audio.resample(render_array(model, x, block_samples), rate, wi.sample_rate_hz)
        return audio.write_wav(out_path, y[: wi.frames], wi.sample_rate_hz)
    with audio.atomic_path(out_path) as tmp:
        state = start_state(model)
        try:
            dst = sf.SoundFile(tmp, "w", samplerate=rate, channels=1, subtype="FLOAT", format="WAV")
        except (sf.LibsndfileError, OSError) as exc:
            raise OutputError(f"{out_path}: cannot be written ({exc}); write elsewhere") from None
        with dst:
            for block in _blocks(in_path, block_samples):
                x = torch.from_numpy(np.ascontiguousarray(block[:, 0]))
                if not torch.isfinite(x).all():
                    raise AudioError(f"{in_path}: has NaN or infinite samples; clean it first")
                y, state = model(x.view(1, -1, 1), state)
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
