"""Datasets: find and pair the files, check them, load them once for every consumer, make them.

``load_dataset`` / ``dataset_for`` are the only way the package reads a dataset's audio.
"""

from .check import DatasetReport, check_dataset
from .loader import Dataset, Setting, Split, dataset_for, load_dataset, split_pairs
from .pairs import Pair, dataset_name, every_pair, find_pairs, list_wavs
from .sidecar import Sidecar, read_sidecar

__all__ = [
    "Dataset",
    "DatasetReport",
    "Pair",
    "Setting",
    "Sidecar",
    "Split",
    "check_dataset",
    "dataset_for",
    "dataset_name",
    "every_pair",
    "find_pairs",
    "list_wavs",
    "load_dataset",
    "read_sidecar",
    "split_pairs",
]
