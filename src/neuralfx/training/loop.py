"""The one training loop: TBPTT on random segments, validation, records, renders, resume.

The CLI, sweeps, benchmarks, examples and tests all call :func:`train`. Read top to bottom:
``train`` sets up the threads, ``Trainer`` owns the run's objects and runs epochs until a stop
rule fires, each epoch is ``train_epoch`` then ``validate_and_record`` then ``checkpoint``, and
``finish`` scores the best model on the test block.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from ..config import TrainConfig
from ..data import Dataset, dataset_for
from ..errors import ConfigError
from ..losses import EffectLoss
from ..models import build_model, count_parameters
from . import conditioning as knobs
from . import fused, runs, tbptt
from .averaging import SETTLED_RATE, WeightAverage, pick_weights
from .device import kernels_notice, pick_device, shard_count
from .display import Reporter, Status
from .dynamics import dynamics_notice, init_for_dynamics, memory_of, resolve
from .forecast import forecast, records, run_end_s
from .init_from import start_from
from .knob_teacher import KnobTeacher
from .linear_start import linear_start
from .linear_start import notice as linear_notice
from .optimizer import adam, clip_grads
from .outputs import RunOutputs
from .recovery import diverged, roll_back, rollback_note
from .result import TrainResult, result_of, summary_lines
from .schedule import chunk_at, first_chunk, has_tail, lr_factor, run_fraction
from .sizing import resolve_hidden
from .state import Progress, RandomState, checkpoint_dict, restore_checkpoint, stop_reason
from .tbptt import evaluate, segment_batches, segment_samples, shard_grads, validation_scores

MAX_GRAD_NORM = 1.0
RATE_EVERY = 16  # steps between learning-rate updates inside a batch


def train(
    cfg: TrainConfig, resume: bool = False, on_epoch: Callable[[dict[str, Any]], None] | None = None
) -> TrainResult:
    """Train ``cfg`` into ``DATA/runs/<run_name>``; with ``resume``, continue that run."""
    device = pick_device(cfg.device)
    threads_before = torch.get_num_threads()
    shards = shard_count(cfg, device)
    if device.type == "cpu":
        torch.set_num_threads(1)  # the cores go to batch shards instead (see device.shard_count)
    elif cfg.threads:
        torch.set_num_threads(cfg.threads)
    pool = ThreadPoolExecutor(shards) if shards > 1 else None
    try:
        with contextlib.ExitStack() as held:
            return Trainer(cfg, resume, device, shards, pool, held).run(on_epoch)
    finally:
        if pool:
            pool.shutdown()
        torch.set_num_threads(threads_before)


class Trainer:
    """One run's objects: data, model, optimiser, schedule, progress, and where it writes."""

    def __init__(
        self,
        cfg: TrainConfig,
        resume: bool,
        device: torch.device,
        shards: int,
        pool: ThreadPoolExecutor | None,
        held: contextlib.ExitStack,
    ):
        self.report = Reporter(cfg.quiet)
        self.data: Dataset = dataset_for(
            cfg, min_train_samples=segment_samples(cfg), min_eval_samples=cfg.warmup_samples
        )
        for warning in self.data.warnings:  # after the split, so an error stays one line
            self.report.message(f"warning: {warning}")
        split = self.data.split
        memory_s = memory_of(split, self.data.sample_rate_hz)
        cfg = resolve(cfg, memory_s, min(hi - lo for lo, hi in split.train_bounds))
        cfg = resolve_hidden(cfg, bool(split.settings))
        if resume:
            paths = runs.run_paths(cfg.data_dir, cfg.run_name, cfg.runs_dir)
            knobs.check_resume(cfg, split, paths.root)
        else:
            cfg, paths = runs.create_run(knobs.conditioned_config(cfg, split))
        held.enter_context(runs.locked(paths))  # released when train() returns
        self.cfg, self.device, self.shards, self.pool = cfg, device, shards, pool
        self.paths = paths

        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.model = build_model(cfg.model).to(device)
        if device.type == "cpu" and (note := kernels_notice(self.model.cell)):
            self.report.message(note)  # compiled before the clock starts: the budget is training
        init_for_dynamics(self.model, memory_s, self.data.sample_rate_hz)  # before --init
        start_from(self.model, cfg.init_model)
        self.loss_fn = EffectLoss(**asdict(cfg.loss), level=split.train_y)
        fresh = not resume and not cfg.init_model and cfg.linear_start == "auto"
        self.linear = linear_start(self.model, split, self.loss_fn, device) if fresh else None
        if self.linear:
            self.report.message(linear_notice(self.linear))
        segment_s = segment_samples(cfg) / self.data.sample_rate_hz
        if notice := dynamics_notice(self.model, memory_s, segment_s, device):
            self.report.message(notice)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.grads_of = fused.shard_grads if fused.supported(self.model, self.loss_fn) else None
        self.opt = adam(self.model.parameters(), cfg.learning_rate, bool(cfg.model.knobs))
        self.sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.opt, factor=cfg.lr_factor, patience=cfg.lr_patience
        )
        decay = cfg.weight_average
        self.average = WeightAverage(self.params, decay) if decay else None
        self.teacher = (
            KnobTeacher(cfg.model, cfg.learning_rate, cfg.weight_average, device, self.model)
            if cfg.model.knobs and cfg.knob_teacher == "gain"
            else None
        )
        # the cosine tail needs the run's end: the budget, else max_epochs
        self.tail, self.low_rate = has_tail(cfg.lr_schedule, cfg.budget_s), False
        self.progress = Progress()
        if resume:
            saved, where = runs.load_checkpoint(self.paths), str(self.paths.checkpoint)
            parts = (self.model, self.opt, self.sched, self.rng, self.average, self.teacher)
            self.progress = restore_checkpoint(saved, where, *parts)
            p = self.progress
            self.report.message(
                f"resuming {self.paths.root} at epoch {p.epoch} "
                f"(best val loss {p.best_val:.5f} at epoch {p.best_epoch})"
            )
        runs.save_config(self.paths, cfg)
        self.outputs = RunOutputs(cfg, self.data, paths, self.report.message)
        self.train_x = torch.from_numpy(split.train_x).to(device)
        self.train_y = torch.from_numpy(split.train_y).to(device)

    def run(self, on_epoch: Callable[[dict[str, Any]], None] | None) -> TrainResult:
        cfg, p = self.cfg, self.progress
        try:
            if self.linear:  # the network is the pair's filter already: its one record
                p.linear = True  # checkpointed with it, so a resume stops too
                self.end_epoch(
                    *self._validate_and_record(math.nan, 0.0, self.linear.scores), on_epoch
                )
            # checked before the first epoch too: a resumed run that is done stops at once
            while (stopped_by := stop_reason(cfg, p)) is None:
                if self.teacher and self.teacher.leads(p.train_seconds, cfg.budget_s):
                    self.teacher_epoch()
                    continue
                row, record = self.validate_and_record(*self.train_epoch())
                if not record:
                    self.recover(row["val_loss"])
                self.end_epoch(row, record, on_epoch)
        finally:
            self.report.close()
        return self.finish(stopped_by)

    def end_epoch(self, row: dict[str, Any], record: bool, on_epoch) -> None:
        self.checkpoint()
        self.report.end_epoch(row, record, self.status())
        if on_epoch:
            on_epoch(row)

    def recover(self, val_loss: float) -> None:
        """After an epoch that diverged, back to the record at a lower rate (recovery.py)."""
        p = self.progress
        why = diverged(val_loss, p.best_val, *self.skipped)
        if why and p.best_state is not None:
            self.average = roll_back(self.model, self.opt, self.average, p)
            self.report.message(rollback_note(why, p, self.cfg.learning_rate))

    def status(self) -> Status:
        """The run as the display shows it: its best, when it will end, and the forecast."""
        cfg, p = self.cfg, self.progress
        end_s = run_end_s(cfg.budget_s, cfg.max_epochs, p.epoch, p.train_seconds)
        outlook = forecast(records(p.rows), end_s, cfg.target_esr)
        return Status(p.best_val_esr, outlook, cfg.target_esr, p.train_seconds, end_s)

    def teacher_epoch(self) -> None:
        """With a budget, the teacher trains alone first; then the model starts from its
        network and learns from it (see knob_teacher)."""
        cfg, t = self.cfg, self.teacher
        train_loss, _, _ = self.train_epoch(t)
        val_esr = t.validate(self.data.split, self.loss_fn, self.device)
        if not t.leads(self.progress.train_seconds, cfg.budget_s):
            t.hand_over(self.model)
            # the model starts afresh from the teacher's network: new moments, a new average
            self.opt = adam(self.model.parameters(), cfg.learning_rate, bool(cfg.model.knobs))
            if self.average is not None:
                self.average = WeightAverage(self.params, cfg.weight_average)
        self.report.message(t.summary(train_loss, val_esr, self.data.split.knobs))
        self.checkpoint()

    def train_epoch(self, learner: KnobTeacher | None = None) -> tuple[float, float, float]:
        """One pass over random segments, of the model or of ``learner``; returns (mean train
        loss, seconds, samples/s)."""
        cfg, p, device = self.cfg, self.progress, self.device
        seg_len, w = segment_samples(cfg), cfg.warmup_samples
        start = first_chunk(cfg.chunk_start, cfg.chunk_samples, bool(self.data.split.settings))
        offsets = torch.arange(seg_len, device=device)
        batches = segment_batches(self.data.split.train_bounds, cfg, self.rng)
        self.report.start_epoch(p.epoch, len(batches), self.status())
        self.model.train()
        t0, seen, loss_sum, loss_n, steps0 = time.perf_counter(), 0, 0.0, 0, p.steps

        def spent(elapsed: float) -> bool:  # the budget, or the teacher's share of it
            now = p.train_seconds + elapsed
            return bool(cfg.budget_s and now >= cfg.budget_s) or bool(
                learner and not learner.leads(now, cfg.budget_s)
            )

        for b, starts in enumerate(batches):
            idx = torch.from_numpy(starts).to(device)[:, None] + offsets[None, :]
            x, y = self.train_x[idx], self.train_y[idx].unsqueeze(-1)
            x = x if x.dim() == 3 else x.unsqueeze(-1)  # knob data has its channels already
            beside = self.teacher and not learner  # without a budget, on the recorded batch
            teacher = self.teacher.beside(x, y, self.shards, cfg.budget_s) if beside else None
            if self.teacher and not learner:
                x, y = self.teacher.mix(x, y, self.rng)
            xs, ys = x.chunk(self.shards), y.chunk(self.shards)
            states, lo = [None] * len(xs), w
            while lo < seg_len:  # chunks of the length the step count has grown to
                if spent(elapsed := time.perf_counter() - t0):
                    break  # checked every step: a batch of long segments can take seconds
                if self.tail and (lo == w or p.steps % RATE_EVERY == 0):
                    self._set_rate(p.train_seconds + elapsed, (b + lo / seg_len) / len(batches))
                hi = min(seg_len, lo + chunk_at(p.steps, start, cfg.chunk_samples))
                # the first chunk is preceded by the warm-up, which gets no gradient
                sl = slice(0 if lo == w else lo, hi)
                if teacher:  # the teacher learns the recorded settings, chunk for chunk
                    teacher[2] = self._step(*teacher, sl, w if lo == w else 0, self.teacher)[1]
                loss, states = self._step(xs, ys, states, sl, w if lo == w else 0, learner)
                lo, p.steps = hi, p.steps + 1
                p.low_rate_steps += self.low_rate and not learner
                if loss is not None:
                    loss_sum, loss_n = loss_sum + loss, loss_n + 1
            seen += x.shape[0] * lo
            elapsed = time.perf_counter() - t0
            self.report.batch(loss_sum / max(loss_n, 1), seen / max(elapsed, 1e-9))
            if spent(elapsed):
                break  # validate what we have rather than lose the partial epoch
        epoch_s = time.perf_counter() - t0
        p.train_seconds += epoch_s
        self.skipped = (p.steps - steps0 - loss_n, p.steps - steps0)  # for recover()
        return loss_sum / max(loss_n, 1), epoch_s, seen / epoch_s

    def _set_rate(self, seconds: float, epoch_part: float) -> None:
        cfg = self.cfg
        fraction = run_fraction(
            cfg.budget_s, cfg.max_epochs, seconds, self.progress.epoch + epoch_part
        )
        for group in self.opt.param_groups:
            group["lr"] = cfg.learning_rate * self.progress.rate_scale * lr_factor(fraction)
        self.low_rate = lr_factor(fraction) <= SETTLED_RATE
        if self.teacher:
            self.teacher.set_rate(cfg.learning_rate, fraction, seconds, cfg.budget_s)

    def _step(
        self, xs, ys, states, sl: slice, warmup: int, learner: KnobTeacher | None = None
    ) -> tuple[float | None, list]:
        """One optimiser step over every shard's chunk, of the model or of ``learner``; None
        when the loss was not finite."""
        model, params, opt, average = (
            (learner.model, learner.params, learner.opt, learner.average)
            if learner
            else (self.model, self.params, self.opt, self.average)
        )
        jobs = [
            (model, self.loss_fn, params, xi[:, sl], yi[:, sl], si, warmup)
            for xi, yi, si in zip(xs, ys, states)
        ]
        grads_of = (not learner and self.grads_of) or shard_grads  # fused.py says why
        out = list(self.pool.map(grads_of, *zip(*jobs))) if self.pool else [grads_of(*jobs[0])]
        states = [o[2] for o in out]
        if any(o[1] is None for o in out):
            return None, states
        tbptt.mean_grads(params, [o[1] for o in out])
        if not math.isfinite(clip_grads(params, MAX_GRAD_NORM)):
            # a finite loss can still have an infinite gradient; clipped, it would be NaN and
            # one step would poison every weight (and Adam's moments) for the rest of the run
            return None, states
        opt.step()
        if average is not None:
            average.update()
        return float(torch.stack([o[0] for o in out]).mean()), states

    def validate_and_record(
        self, train_loss: float, epoch_s: float, samples_per_s: float
    ) -> tuple[dict[str, float], bool]:
        """Validate on the whole block; on a record, write model.json (atomically) twice.

        With a weight average, the average is what is validated, kept and rendered, except
        once a landing has settled: then the trained weights compete with it (``settled``)."""
        split = self.data.split
        scores, averaged = pick_weights(
            self.average,
            lambda: validation_scores(self.model, split, self.loss_fn, self.device),
            self.progress.low_rate_steps,
        )
        with self.average.applied() if averaged else contextlib.nullcontext():
            return self._validate_and_record(train_loss, samples_per_s, scores)

    def _validate_and_record(
        self, train_loss: float, samples_per_s: float, scores: tuple[float, float]
    ) -> tuple[dict[str, float], bool]:
        cfg, p, split = self.cfg, self.progress, self.data.split
        epoch, (val_loss, val_esr) = p.epoch, scores
        if not self.tail:
            self.sched.step(val_loss)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_esr": val_esr,
            "lr": self.opt.param_groups[0]["lr"],
            "seconds": round(p.train_seconds, 3),
            "samples_per_s": samples_per_s,
        }
        record = val_loss < p.best_val
        if record:
            p.record(epoch, val_loss, val_esr, self.model)
            self.outputs.save_models(self.model, epoch=epoch, val_esr=val_esr, test_esr=None)
        else:
            p.since_best += 1
        if self.outputs.guitar is not None and epoch % cfg.render_every == 0:
            self.outputs.render_guitar(self.model, f"{split.name}{epoch}", self.device)
        p.rows.append(row)
        p.epoch = epoch + 1
        return row, record

    def checkpoint(self) -> None:
        runs.save_metrics(self.paths, self.progress.rows)
        rng, config = RandomState.capture(self.rng), asdict(self.cfg)
        parts = (self.model, self.opt, self.sched, rng, self.progress, config)
        runs.save_checkpoint(self.paths, checkpoint_dict(*parts, self.average, self.teacher))

    def finish(self, stopped_by: str) -> TrainResult:
        """Reload the best model, score it on the test block, and stamp the score into model.json."""
        p, split = self.progress, self.data.split
        if p.best_state is None:
            raise ConfigError(
                f"{self.paths.root}: no epoch completed; raise --budget or --max-epochs"
            )
        self.model.load_state_dict(p.best_state)
        scores: list[dict[str, Any]] = []
        if split.settings:
            test_esr, scores = knobs.test_scores(self.model, split, self.loss_fn, self.device)
        else:
            _, test_esr = evaluate(
                self.model, split.test_x, split.test_y, self.loss_fn, self.device
            )
        by_setting = {"test_esr_by_setting": {s["label"]: s["test_esr"] for s in scores}}
        model_path = self.outputs.save_models(
            self.model,
            epoch=p.best_epoch,
            val_esr=p.best_val_esr,
            test_esr=test_esr,
            **(by_setting if scores else {}),
        )
        result = result_of(
            self.paths.root,
            model_path,
            test_esr,
            p,
            count_parameters(self.model),
            stopped_by,
            scores,
        )
        runs.save_result(self.paths, result)
        renders = ""
        if self.outputs.guitar is not None:
            # the per-epoch renders show progress; this one is what the saved model sounds like
            best = self.outputs.render_guitar(self.model, f"{split.name}_best", self.device)
            at = "_<setting>" if split.settings else ""
            renders = (
                f"\nrenders: {self.outputs.out_dir}/{split.name}<epoch>{at}.wav, best model: {best}"
            )
        if self.teacher:
            gains = self.teacher.gains_text(split.knobs)
            self.report.message(f"knob teacher's input gain over each knob's range: {gains}")
        model_json = self.outputs.out_dir / "model.json"
        for line in summary_lines(result, model_json, self.cfg.target_esr, renders):
            self.report.message(line)
        return result
