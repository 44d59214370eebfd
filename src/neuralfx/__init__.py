"""neuralfx: learn an audio effect from a clean/processed pair and run it with RTNeural."""

__version__ = "0.1.0"

from .config import LossConfig, ModelConfig, TrainConfig  # noqa: E402
from .errors import NeuralFXError  # noqa: E402
from .export import load_model, save_model  # noqa: E402
from .render import render_array, render_file  # noqa: E402
from .train import TrainResult, train  # noqa: E402  (rebinds neuralfx.train to the function)

__all__ = ["__version__", "TrainConfig", "ModelConfig", "LossConfig", "NeuralFXError", "train",
           "TrainResult", "load_model", "save_model", "render_array", "render_file"]
