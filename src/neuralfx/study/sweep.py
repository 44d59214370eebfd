"""``neuralfx sweep STUDY.toml``: train every point of a study's grid, in parallel, resumably.

Layout of the study folder::

    STUDY_DIR/study.toml        the study file as last swept (the report reads its grid)
    STUDY_DIR/data/<effect>/    one dataset per effect, all made before any run starts (a knob
                                grid's: an output per setting, knobs.csv, and the guitar demo
                                through the effect at each setting)
    STUDY_DIR/runs/<run-id>/    train()'s run folder, plus train.log, analysis.json and
                                guitar_model.wav
    STUDY_DIR/results.csv, results.md, report.html, plots/   from ``report.write_study_report``

A rerun skips finished runs (result.json and analysis.json present), resumes interrupted ones
from their checkpoint and trains the rest. Workers only read the datasets and each writes only
its own run folder, so any number can run at once; two sweeps on one folder are refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from ..audio import write_text_atomic
from ..config import load_config
from ..errors import ConfigError, RunError
from .datasets import make_datasets
from .report import write_study_report
from .spec import Study, grid, load_study, output_dir
from .tasks import Task, make_tasks, run_task, status

BACKENDS = ("local", "ray")
SWEEP_JSON = "sweep.json"  # how the folder was made: the study file and the command


@dataclass(frozen=True)
class SweepSummary:
    study_dir: Path
    total: int
    skipped: int
    failed: tuple[tuple[str, str], ...] = ()
    report: Path | None = None
    outcomes: list[dict[str, Any]] = field(default_factory=list)


def _check_existing(tasks: list[Task]) -> None:
    """A run folder made for another grid point (a loss variant edited under the same name)
    must not be resumed or counted as done."""
    for t in tasks:
        if not t.paths.config.is_file():
            continue
        old, new = load_config(t.paths.config), t.config
        if new.loss.pre_emphasis is None:  # left to the data: whatever it resolved to matches
            new = dataclasses.replace(
                new, loss=dataclasses.replace(new.loss, pre_emphasis=old.loss.pre_emphasis)
            )
        for key in ("model", "loss", "seed", "output_name", "holdout"):
            if getattr(old, key) != getattr(new, key):
                raise ConfigError(
                    f"{t.paths.root}: was trained with {key} {getattr(old, key)}, the study now "
                    f"says {getattr(new, key)}; rename that grid value or delete the run folder"
                )


@contextlib.contextmanager
def _exclusive(study_dir: Path):
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: trust the user
        yield
        return
    with open(study_dir / ".sweep.lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(
                f"{study_dir}: another sweep is running on this folder; wait for it "
                "or sweep into another --out"
            ) from None
        yield


def default_jobs(threads: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(threads, 1))


def sweep(
    study_path: str | Path,
    jobs: int = 0,
    backend: str = "local",
    address: str = "",
    dry_run: bool = False,
    out: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> SweepSummary:
    """Run (or, with ``dry_run``, list) the study's grid and write the report at the end."""
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend}: choose one of {', '.join(BACKENDS)}")
    if jobs < 0:
        raise ConfigError(f"--jobs {jobs}: use 1 or more (0 picks cores / threads per run)")
    study = load_study(study_path)
    study_dir = Path(out) if out else output_dir(study, study_path)
    jobs = jobs or (len(grid(study)) if address else default_jobs(study.threads))
    tasks = make_tasks(study, study_dir)
    states = [status(t) for t in tasks]
    todo = [t for t, s in zip(tasks, states) if s != "done"]
    if dry_run:
        _print_plan(study, study_path, study_dir, tasks, states, jobs, echo)
        return SweepSummary(study_dir, len(tasks), len(tasks) - len(todo))
    try:
        study_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{study_dir}: cannot be the study folder ({exc.strerror}); pass --out with a "
            "folder you can write to"
        ) from None
    with _exclusive(study_dir):
        _check_existing(tasks)
        echo(
            f"{study_dir}: {len(tasks)} runs, {len(tasks) - len(todo)} already done, "
            f"{len(todo)} to run with {min(jobs, max(len(todo), 1))} {backend} job(s)"
        )
        make_datasets(study, study_dir.resolve())
        # only now, with the study checked against what the folder holds, record it
        write_text_atomic(study_dir / "study.toml", Path(study_path).read_text(encoding="utf-8"))
        command = f"neuralfx sweep {study_path}" + (f" --out {out}" if out else "")
        write_text_atomic(
            study_dir / SWEEP_JSON,
            json.dumps({"study_file": str(study_path), "command": command}, indent=2) + "\n",
        )
        outcomes: list[dict[str, Any]] = []

        def done(outcome: dict[str, Any]) -> None:
            outcomes.append(outcome)
            tail = (
                f"test ESR {outcome['test_esr']:.4g}"
                if outcome["status"] == "ok"
                else f"FAILED {outcome['error']}"
            )
            echo(
                f"[{len(outcomes)}/{len(todo)}] {outcome['run']}  {outcome['action']}  {tail}  "
                f"({outcome['seconds']:.0f} s)"
            )

        if backend == "ray":
            _run_ray(todo, jobs, study.threads, address, done)
        else:
            _run_local(todo, jobs, done)
        report = write_study_report(study_dir)
    failed = tuple((o["run"], o["error"]) for o in outcomes if o["status"] != "ok")
    return SweepSummary(study_dir, len(tasks), len(tasks) - len(todo), failed, report, outcomes)


def _run_local(tasks: list[Task], jobs: int, done: Callable[[dict[str, Any]], None]) -> None:
    if jobs == 1 or len(tasks) <= 1:
        for t in tasks:
            done(run_task(t))
        return
    # spawn, not fork: torch's thread pools do not survive a fork of a process that used them
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=get_context("spawn"))
    futures = [pool.submit(run_task, t) for t in tasks]
    try:
        for f in as_completed(futures):
            done(f.result())
    except BrokenProcessPool:
        raise RunError(
            "a sweep worker died (out of memory?); rerun the same command to resume "
            "where it stopped"
        ) from None
    except BaseException:
        # interrupted: stop the workers now (their runs resume from checkpoints next time)
        # rather than leave orphans training on
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(
    tasks: list[Task], jobs: int, threads: int, address: str, done: Callable[[dict[str, Any]], None]
) -> None:
    """The same tasks as Ray tasks; on a cluster every node needs neuralfx installed and the
    study folder at the same path (a shared filesystem), since workers write run folders."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--backend ray: ray is not installed here; "
            "pip install 'neuralfx[ray]' or use --backend local"
        ) from None
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=jobs * threads, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=threads, max_retries=0)(run_task)
        waiting, running = list(reversed(tasks)), []
        while waiting or running:
            # at most `jobs` in flight, so --jobs bounds a cluster run as it does a local one
            while waiting and len(running) < jobs:
                running.append(remote.remote(waiting.pop()))
            ready, running = ray.wait(running, num_returns=1)
            for ref in ready:
                done(ray.get(ref))
    finally:
        ray.shutdown()


def _print_plan(
    study: Study,
    study_path,
    study_dir: Path,
    tasks: list[Task],
    states: list[str],
    jobs: int,
    echo: Callable[[str], None],
) -> None:
    cols = ("run", "effect", "model", "hidden", "layers", "loss", "seed")
    rows = [[str(t.info[c]) for c in cols] + [s] for t, s in zip(tasks, states)]
    header = [*cols, "status"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    todo = sum(s != "done" for s in states)
    waves = -(-todo // max(jobs, 1))
    budget = (
        f"{todo} runs x {study.budget_s:g} s / {jobs} jobs = about "
        f"{waves * study.budget_s / 60:.0f} min of training, plus validation, datasets "
        "and analysis"
        if study.budget_s
        else f"unknown (no budget_s; up to {study.max_epochs} epochs per run)"
    )
    echo(
        f"{study_path} -> {study_dir}: {len(tasks)} runs, {len(tasks) - todo} done, "
        f"{todo} to run; estimated time: {budget}"
    )
