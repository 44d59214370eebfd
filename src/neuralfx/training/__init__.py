"""Training: the one loop (``loop.train``), its progress and checkpoint, run folders, display."""

from .loop import TrainResult, train

__all__ = ["TrainResult", "train"]
