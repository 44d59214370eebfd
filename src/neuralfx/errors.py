"""Errors meant for people: each message says what is wrong, where, and how to fix it.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; no traceback.
"""

from __future__ import annotations


class NeuralFXError(Exception):
    """Base of every error a user can cause and fix."""

    exit_code = 2


class AudioError(NeuralFXError):
    """A wav file is missing, unreadable, or unusable (rate, NaN, silence, length)."""


class DatasetError(NeuralFXError):
    """A dataset folder does not have the layout or the pairs training needs."""


class ConfigError(NeuralFXError):
    """A setting, a study file or a config.json holds an unknown key or a bad value."""


class EffectError(NeuralFXError):
    """An effect spec names an unknown effect or parameter, or a plugin cannot load."""


class ModelFileError(NeuralFXError):
    """A model.json is not ours, is truncated, or does not match the model it claims."""


class ExportError(NeuralFXError):
    """A model cannot be expressed in the requested RTNeural format."""


class RunError(NeuralFXError):
    """A run folder is missing, incomplete, or cannot be resumed."""


class OutputError(NeuralFXError):
    """An output cannot be written there: a full disk, a read-only folder, not a regular file."""


def plural(n: int, word: str) -> str:
    """``1 knob``, ``2 knobs``: counts in messages read as words."""
    return f"{n} {word}{'' if n == 1 else 's'}"
