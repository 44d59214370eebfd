"""Wav I/O: the one reader (first channel), the one resampler, and atomic writes."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .errors import AudioError, OutputError

SAMPLE_RATE_HZ = 44100
_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp$")  # .NAME.PID.RANDOM.tmp


@dataclass(frozen=True)
class WavInfo:
    """What a wav header says, read without loading the samples."""

    path: Path
    sample_rate_hz: int
    channels: int
    frames: int
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate_hz


def info(path: str | os.PathLike) -> WavInfo:
    """Header of a wav file, with a one-line error when it is missing or not a wav."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    try:
        i = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for corrupt files
        raise AudioError(
            f"{path}: not a readable wav file ({_short(exc)}); re-export it as PCM or float wav"
        ) from None
    if i.format not in ("WAV", "WAVEX", "RF64", "W64"):
        raise AudioError(f"{path}: is {i.format}, not wav; convert it to a .wav file")
    return WavInfo(path, int(i.samplerate), int(i.channels), int(i.frames), str(i.subtype))


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, WavInfo]:
    """First channel as float32 as stored, NaN and inf kept so that checks can count them.

    The one place samples are read from a wav file; ``read_wav`` adds the checks training needs.
    """
    wi = info(path)
    try:
        data, _ = sf.read(str(wi.path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(
            f"{wi.path}: truncated or corrupt wav ({_short(exc)}); export it again"
        ) from None
    x = np.ascontiguousarray(data[:, 0]) if data.shape[0] else np.zeros(0, np.float32)
    return x, wi


def read_wav(
    path: str | os.PathLike,
    expected_rate_hz: int | None = SAMPLE_RATE_HZ,
    check_content: bool = True,
) -> np.ndarray:
    """First channel of a wav file as float32 in [-1, 1].

    Refuses a wrong sample rate (with the fix), NaN/inf samples and, when ``check_content``,
    pure silence, because a model trained on those learns nothing or diverges.
    """
    wi = info(path)
    if expected_rate_hz is not None and wi.sample_rate_hz != expected_rate_hz:
        raise AudioError(
            f"{wi.path}: sample rate is {wi.sample_rate_hz} Hz, {expected_rate_hz} Hz is needed; "
            f"resample it (neuralfx data check DIR --resample) or export it at {expected_rate_hz} Hz"
        )
    x, _ = read_audio(wi.path)
    if not len(x):
        raise AudioError(f"{wi.path}: holds no samples; export it again")
    if not np.all(np.isfinite(x)):
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise AudioError(
            f"{wi.path}: has NaN or infinite samples (first at sample {bad}); "
            "re-render it from a clean source"
        )
    if check_content and float(np.max(np.abs(x))) < 1e-6:
        raise AudioError(f"{wi.path}: is silent (peak below -120 dBFS); it cannot train a model")
    return x


def read_wav_at(path: str | os.PathLike, sample_rate_hz: int) -> np.ndarray:
    """``read_wav`` at ``sample_rate_hz``: a file at another rate is resampled in memory."""
    x = read_wav(path, expected_rate_hz=None)
    return resample(x, info(path).sample_rate_hz, sample_rate_hz)


def resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly, Kaiser-windowed anti-alias FIR).

    The one resampler of the package: datasets, renders and checks all convert through it.
    """
    if from_hz == to_hz:
        return audio
    g = gcd(int(from_hz), int(to_hz))
    y = resample_poly(audio.astype(np.float64), int(to_hz) // g, int(from_hz) // g)
    return y.astype(np.float32)


def check_output_path(path: str | os.PathLike) -> Path:
    """Refuse an existing output that is not a regular file: the atomic rename would replace a
    device (``/dev/null``), a pipe or a socket with a file, and cannot replace a directory."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise OutputError(f"{path}: cannot be checked ({exc.strerror}); write elsewhere") from None
    if stat.S_ISDIR(mode):
        raise OutputError(f"{path}: is a directory; give a file name, e.g. {path / 'out.wav'}")
    if not stat.S_ISREG(mode):
        raise OutputError(
            f"{path}: is a device, pipe or socket, not a file; write to a regular file instead"
        )
    return path


def clean_stale_temps(folder: Path) -> None:
    """Remove the temp files of writers that died (``kill -9``, a power cut) in ``folder``.

    Temp names carry their writer's pid, so a live writer's file is never touched.
    """
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _TEMP_NAME.match(name)
        if m and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(folder / name)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: keep the file
    return True


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it replaces ``path``, on error it vanishes.

    A crash mid-write therefore leaves the old file intact, never a half-written one. A full
    disk or a read-only folder is an OutputError naming the path, never a traceback.
    """
    path = check_output_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(path.parent)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
        )
        os.close(fd)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_error(path: Path, exc: OSError) -> OutputError:
    why = exc.strerror or type(exc).__name__
    fix = {
        errno.ENOSPC: "free some disk space",
        errno.EROFS: "the folder is read-only: write elsewhere",
        errno.EACCES: "you may not write there: write elsewhere",
        errno.EPERM: "you may not write there: write elsewhere",
    }.get(exc.errno, "check the folder")
    return OutputError(f"{path}: cannot be written ({why}); {fix}")


def write_wav(
    path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    subtype: str = "FLOAT",
) -> Path:
    """Write mono audio atomically."""
    path = Path(path)
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: refusing to write NaN or infinite samples")
    with atomic_path(path) as tmp:
        try:
            sf.write(tmp, audio, sample_rate_hz, subtype=subtype, format="WAV")
        except sf.LibsndfileError as exc:  # libsndfile reports a full disk as "System error"
            raise OutputError(f"{path}: cannot be written ({exc}); free some disk space") from None
    return path


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Atomic write of any file (JSON, CSV, checkpoints), synced before the rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def _default_mode() -> int:
    """Permissions a plain ``open()`` would give; mkstemp's 0600 would hide files from others."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
