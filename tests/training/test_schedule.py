"""The recipe's schedules: the rate's cosine tail and the chunks that grow with the steps."""

import math

import pytest
import torch
from utils import fast_config, spy_on_chunks

import neuralfx
from neuralfx.training import loop
from neuralfx.training.runs import read_metrics
from neuralfx.training.schedule import (
    DECAY_FRACTION,
    FINAL_FACTOR,
    STEPS_PER_DOUBLING,
    chunk_at,
    first_chunk,
    lr_factor,
)


def test_the_rate_holds_then_falls_along_a_cosine_to_the_final_factor():
    assert lr_factor(0.0) == lr_factor(1 - DECAY_FRACTION - 1e-9) == 1.0
    assert lr_factor(1 - DECAY_FRACTION / 2) == pytest.approx((1 + FINAL_FACTOR) / 2)
    assert lr_factor(1.0) == lr_factor(7.0) == pytest.approx(FINAL_FACTOR)
    fs = [i / 100 for i in range(101)]
    assert all(lr_factor(a) >= lr_factor(b) for a, b in zip(fs, fs[1:]))


def test_chunks_double_every_so_many_steps_up_to_the_final_length():
    assert chunk_at(0, 128, 512) == 128
    assert chunk_at(STEPS_PER_DOUBLING - 1, 128, 512) == 128
    assert chunk_at(STEPS_PER_DOUBLING, 128, 512) == 256
    assert chunk_at(2 * STEPS_PER_DOUBLING, 128, 512) == 512
    assert chunk_at(10**9, 128, 512) == 512
    assert chunk_at(0, 512, 512) == chunk_at(0, 1024, 512) == 512  # a fixed length


def test_a_segment_is_cut_into_chunks_of_the_grown_length(gain_data, monkeypatch):
    monkeypatch.setattr(loop, "chunk_at", lambda step, start, final: 128 if step < 40 else 512)
    lengths = spy_on_chunks(monkeypatch)
    cfg = fast_config(gain_data, max_epochs=3, chunk_samples=512, chunks_per_segment=2)
    neuralfx.train(cfg)
    # 1024 trained samples a segment: eight chunks of 128, then two of 512
    assert lengths[:8] == [128] * 8 and lengths[-2:] == [512, 512]
    assert set(lengths) == {128, 512}
    assert sum(1 for n in lengths if n == 128) == 40


def test_a_chunk_length_that_does_not_divide_the_segment_ends_on_a_short_chunk(
    gain_data, monkeypatch
):
    lengths = spy_on_chunks(monkeypatch)
    cfg = fast_config(gain_data, max_epochs=1, chunk_samples=300, chunk_start=128)
    neuralfx.train(cfg)
    assert lengths[:5] == [128, 128, 128, 128, 88]  # 600 trained samples a segment


def test_a_budgeted_run_ends_at_the_bottom_of_its_cosine(gain_data):
    r = neuralfx.train(fast_config(gain_data, max_epochs=10_000, budget_s=3, learning_rate=1e-2))
    rows = read_metrics(r.run_dir / "metrics.csv")
    assert rows[0]["lr"] == pytest.approx(1e-2)
    assert rows[-1]["lr"] < 1e-2 * 0.1  # the last batches ran near the bottom of the tail
    assert r.stopped_by == "budget"


def test_a_budget_is_kept_inside_a_batch_of_long_segments(gain_data, monkeypatch):
    # 16 segments of 256 chunks, 1,024 steps of 16 x 128 samples: seconds at the fused step's
    # speed, several times the budget (128 chunks took about 0.5 s and the test flickered)
    rates, real = [], loop.Trainer._set_rate

    def spy(self, seconds, epoch_part):
        real(self, seconds, epoch_part)
        rates.append(self.opt.param_groups[0]["lr"])

    monkeypatch.setattr(loop.Trainer, "_set_rate", spy)
    cfg = fast_config(gain_data, budget_s=0.25, chunks_per_segment=256, learning_rate=1e-2)
    r = neuralfx.train(cfg)
    rows = read_metrics(r.run_dir / "metrics.csv")
    assert len(rows) == 1 and r.stopped_by == "budget"
    assert r.train_seconds < 0.25 + 0.25, "stopped within a few steps of the budget"
    assert rates[0] == pytest.approx(1e-2) and rates[-1] < 1e-2 * 0.9, (
        "the rate falls within the batch"
    )


def test_without_a_budget_the_rate_halves_on_plateaus(gain_data):
    r = neuralfx.train(fast_config(gain_data, max_epochs=4, learning_rate=1e-2))
    rows = read_metrics(r.run_dir / "metrics.csv")
    assert all(math.log2(1e-2 / row["lr"]) % 1 == pytest.approx(0) for row in rows)


def test_the_step_count_is_checkpointed_so_chunks_grow_the_same_after_a_resume(gain_data):
    r = neuralfx.train(fast_config(gain_data, max_epochs=2))
    ck = torch.load(r.run_dir / "checkpoint.pt", weights_only=True)
    assert ck["progress"]["steps"] > 0
    assert ck["progress"]["steps"] == ck["average"]["steps"]  # no step failed here


def test_knob_data_starts_at_the_full_chunk_and_plain_data_at_128():
    assert first_chunk(0, 512, knobs=False) == 128
    assert first_chunk(0, 512, knobs=True) == 512
    assert first_chunk(256, 512, knobs=True) == 256  # an explicit --chunk-start wins
