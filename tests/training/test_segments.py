"""Segments per epoch: the whole training block about once, in whole batches."""

import numpy as np
import pytest

from neuralfx.config import TrainConfig
from neuralfx.training.tbptt import segment_batches, segment_samples


@pytest.mark.parametrize("n, batch", [(100_000, 16), (333_333, 16), (50_000, 5), (9_000, 4)])
def test_every_batch_is_whole_and_the_block_is_covered(n, batch):
    cfg = TrainConfig(batch_size=batch, chunks_per_segment=4, chunk_samples=256, warmup_samples=64)
    batches = segment_batches([(0, n)], cfg, np.random.default_rng(0))
    assert all(len(b) == batch for b in batches), "a short last batch splits into tiny shards"
    starts = np.concatenate(batches)
    trained = len(starts) * cfg.chunks_per_segment * cfg.chunk_samples
    assert n <= trained < n + batch * cfg.chunks_per_segment * cfg.chunk_samples
    assert starts.min() >= 0 and starts.max() + segment_samples(cfg) <= n


def test_settings_keep_whole_batches_too():
    cfg = TrainConfig(batch_size=6, chunks_per_segment=4, chunk_samples=256, warmup_samples=64)
    bounds = [(0, 30_000), (30_000, 41_000), (41_000, 90_000)]
    batches = segment_batches(bounds, cfg, np.random.default_rng(2))
    assert all(len(b) == 6 for b in batches)
