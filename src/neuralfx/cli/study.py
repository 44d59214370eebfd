"""``neuralfx sweep`` and ``report``."""

from __future__ import annotations

import sys


def add_sweep_and_report(sub) -> None:
    p = sub.add_parser("sweep", help="train every model of a study file on every effect")
    p.add_argument("study", help="study file (TOML); see docs/study.md")
    p.add_argument(
        "--jobs", type=int, default=0, help="runs at once (default: cores / threads per run)"
    )
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--address", default="", help="Ray cluster address (default: start locally)")
    p.add_argument("--dry-run", action="store_true", help="print the grid and estimated time")
    p.add_argument("--out", help="study folder (default: the study's output_dir)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("report", help="write report.html for a study folder or one run")
    p.add_argument("folder", help="a sweep's folder or a run folder (DATA/runs/NAME)")
    p.add_argument(
        "--markdown",
        metavar="PATH",
        help="also refresh the generated part of a markdown page, e.g. docs/study.md",
    )
    p.set_defaults(func=cmd_report)


def cmd_sweep(args) -> int:
    from ..study.sweep import sweep

    try:
        summary = sweep(args.study, args.jobs, args.backend, args.address, args.dry_run, args.out)
    except KeyboardInterrupt:
        print("neuralfx: interrupted; rerun the same command to resume the study", file=sys.stderr)
        return 130
    if summary.report:
        print(f"report: {summary.report}")
    if summary.failed:
        run, error = summary.failed[0]
        print(
            f"neuralfx: error: {len(summary.failed)} of {summary.total} runs failed (first: "
            f"{run}: {error}); see runs/RUN/error.txt, rerun to retry",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_report(args) -> int:
    from ..study.report import write_report

    for path in write_report(args.folder, args.markdown):
        print(path)
    return 0
