"""neuralfx: learn an audio effect from a clean/processed pair and run it with RTNeural."""

__version__ = "0.1.0"

from .config import LossConfig, ModelConfig, TrainConfig
from .errors import NeuralFXError
from .export import load_model, save_model
from .render import render_array, render_file
from .train import TrainResult, train

__all__ = [
    "__version__",
    "TrainConfig",
    "ModelConfig",
    "LossConfig",
    "NeuralFXError",
    "train",
    "TrainResult",
    "load_model",
    "save_model",
    "render_array",
    "render_file",
]
