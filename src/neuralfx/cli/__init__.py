"""Command line: a thin layer over the library API. Errors print one line and exit 2.

Each subcommand's flags and handler live in one module: ``train`` (flags made from the config
fields), ``data`` (init, data make/check, effects), ``models`` (render, export, info, models)
and ``study`` (sweep, report).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..errors import NeuralFXError
from ..version import __version__
from . import data, models, study, train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuralfx", description=__doc__)
    parser.add_argument("--version", action="version", version=f"neuralfx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    data.add_init(sub)
    train.add_train(sub)

    models.add_render(sub)
    models.add_export(sub)

    study.add_sweep_and_report(sub)
    models.add_models(sub)
    data.add_data(sub)
    return parser


_INTERRUPTED = {
    "train": "a run resumes with `neuralfx train DATA --resume RUN`",
    "render": "no output was written",
    "sweep": "rerun the same command to resume the study",
}


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # `kill` stops a command the way Ctrl-C does: outputs stay whole, runs stay resumable
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if main_thread else None
    try:
        return args.func(args)
    except NeuralFXError as exc:
        print(f"neuralfx: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        hint = _INTERRUPTED.get(args.command, "outputs already written are complete")
        print(f"neuralfx: interrupted; {hint}", file=sys.stderr)
        return 130
    finally:
        # a SIGTERM that lands as the command returns is dropped (Python skips a pending
        # signal whose handler is gone), not raised after main() as a traceback
        if main_thread and previous is not None:  # None: set outside Python, left as is
            signal.signal(signal.SIGTERM, previous)
