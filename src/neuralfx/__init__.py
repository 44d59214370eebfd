"""neuralfx: learn an audio effect from a clean/processed pair and run it with RTNeural."""

from .config import LossConfig, ModelConfig, TrainConfig
from .data import load_dataset
from .errors import NeuralFXError
from .export import export_model, load_model, save_model
from .render import render_array, render_file
from .training import TrainResult, train
from .version import __version__

__all__ = [
    "LossConfig",
    "ModelConfig",
    "NeuralFXError",
    "TrainConfig",
    "TrainResult",
    "__version__",
    "export_model",
    "load_dataset",
    "load_model",
    "render_array",
    "render_file",
    "save_model",
    "train",
]
