"""Command line: a thin layer over the library API. Errors print one line and exit 2."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading

from . import __version__
from .config import TrainConfig, load_config
from .errors import ExportError, NeuralFXError

# train flags -> (config section or None, field); None defaults mean "not given"
_TRAIN_FLAGS = {
    "model": ("model", "name"),
    "hidden": ("model", "hidden_size"),
    "layers": ("model", "num_layers"),
    "skip": ("model", "skip"),
    "esr_weight": ("loss", "esr_weight"),
    "dc_weight": ("loss", "dc_weight"),
    "pre_emphasis": ("loss", "pre_emphasis"),
    "max_epochs": (None, "max_epochs"),
    "budget": (None, "budget_s"),
    "batch_size": (None, "batch_size"),
    "lr": (None, "learning_rate"),
    "chunk": (None, "chunk_samples"),
    "chunks": (None, "chunks_per_segment"),
    "warmup": (None, "warmup_samples"),
    "render_every": (None, "render_every"),
    "seed": (None, "seed"),
    "device": (None, "device"),
    "threads": (None, "threads"),
    "quiet": (None, "quiet"),
    "run_name": (None, "run_name"),
    "output": (None, "output_name"),
    "latency": (None, "latency_samples"),
    "align": (None, "align"),
    "resample": (None, "resample"),
    "patience": (None, "early_stop_patience"),
}


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model on DATA/input + DATA/output")
    p.add_argument("data", help="dataset folder with input/ and output/")
    p.add_argument("--model", help="architecture (see `neuralfx models`); default lstm")
    p.add_argument("--hidden", type=int, help="hidden units; default 32")
    p.add_argument("--layers", type=int, help="stacked recurrent layers (1-3)")
    p.add_argument("--skip", action="store_const", const=True, help="output = network(x) + x")
    p.add_argument("--max-epochs", type=int)
    p.add_argument("--budget", type=float, help="wall-clock training budget in seconds")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="Adam learning rate")
    p.add_argument("--chunk", type=int, help="TBPTT chunk length in samples")
    p.add_argument("--chunks", type=int, help="chunks per segment")
    p.add_argument("--warmup", type=int, help="warm-up samples without gradient")
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    p.add_argument("--esr-weight", type=float)
    p.add_argument("--dc-weight", type=float)
    p.add_argument("--pre-emphasis", type=float, help="pre-emphasis coefficient (0 = off)")
    p.add_argument("--render-every", type=int, help="epochs between guitar.wav renders (0 = off)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["cpu", "cuda", "mps", "auto"])
    p.add_argument(
        "--threads",
        type=int,
        help="CPU: batch shards, one core each (0 = every core); GPU: torch threads",
    )
    p.add_argument("--quiet", action="store_const", const=True, help="log lines, no live display")
    p.add_argument("--run-name", help="name of the run folder under DATA/runs/")
    p.add_argument("--output", help="which output/NAME.wav to learn when there are several")
    p.add_argument("--latency", type=int, help="output delay in samples to compensate")
    p.add_argument(
        "--align",
        action="store_const",
        const=True,
        help="measure the output's latency and remove it",
    )
    p.add_argument(
        "--resample",
        action="store_const",
        const=True,
        help="convert other sample rates to 44.1 kHz (in memory)",
    )
    p.add_argument("--config", help="a config.json to start from (flags override it)")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run")


def _train_config(args) -> tuple[TrainConfig, bool]:
    from .runs import resolve_run

    if args.resume:
        cfg = load_config(resolve_run(args.data, args.resume).config)
        cfg = dataclasses.replace(cfg, data_dir=args.data)
    elif args.config:
        cfg = dataclasses.replace(load_config(args.config), data_dir=args.data, run_name="")
    else:
        cfg = TrainConfig(data_dir=args.data)
    top, sections = {}, {"model": {}, "loss": {}}
    for flag, (section, field) in _TRAIN_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            (sections[section] if section else top)[field] = value
    if args.resume and "run_name" in top:
        del top["run_name"]
    cfg = dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, **sections["model"]),
        loss=dataclasses.replace(cfg.loss, **sections["loss"]),
        **top,
    )
    return cfg, bool(args.resume)


def cmd_train(args) -> int:
    from .train import train

    cfg, resume = _train_config(args)
    train(cfg, resume=resume)
    return 0


def cmd_init(args) -> int:
    from .demo import init_dataset

    made = init_dataset(args.data, args.effect, args.name, args.seed, args.duration, args.force)
    for kind, path in made.items():
        print(f"{kind:7s} {path}")
    print(f"next: neuralfx train {args.data}")
    return 0


def cmd_render(args) -> int:
    from .render import render_file

    out = render_file(args.model, args.input, args.output, threads=args.threads)
    print(out)
    return 0


def cmd_export(args) -> int:
    from .export import export_model

    options = {}
    if args.format == "aidax":
        info = {"name": args.name, "author": args.author, "style": args.style}
        info.update(based=args.based_on, license=args.license)
        options = dict(
            input_gain_db=args.input_gain_db, output_gain_db=args.output_gain_db, info=info
        )
    elif args.format == "nam":
        keys = ("name", "modeled_by", "gear_make", "gear_model", "gear_type", "tone_type")
        info = {k: getattr(args, k) for k in (*keys, "input_level_dbu", "output_level_dbu")}
        options = {"info": info, "loudness_wav": args.loudness_input}
    else:
        given = [f for f in _FORMAT_FLAGS if getattr(args, f) is not None]
        if given:
            raise ExportError(
                f"--{given[0].replace('_', '-')} is for --format aidax or nam, not {args.format}"
            )
    print(export_model(args.model, args.format, args.output, **options))
    return 0


def cmd_info(args) -> int:
    from .export.info import model_info

    for line in model_info(args.model):
        print(line)
    return 0


_FORMAT_FLAGS = (
    "input_gain_db",
    "output_gain_db",
    "name",
    "author",
    "style",
    "based_on",
    "license",
    "modeled_by",
    "gear_make",
    "gear_model",
    "gear_type",
    "tone_type",
    "input_level_dbu",
    "output_level_dbu",
    "loudness_input",
)


def _add_export(sub) -> None:
    from .export.nam import GEAR_TYPES, TONE_TYPES

    p = sub.add_parser("export", help="write a model.json (or RUN/model.json) in another format")
    p.add_argument("model", help="a model.json or a run folder holding one")
    p.add_argument(
        "--format",
        choices=["lab", "native", "aidax", "nam"],
        required=True,
        help="lab: state_dict for RTNeural torch_helpers; native: RTNeural parseJson; "
        "aidax: the AIDA-X plugin; nam: Neural Amp Modeler plugins (.nam, LSTM only)",
    )
    p.add_argument("-o", "--output", help="output path (default: model.FORMAT.json / model.nam)")
    g = p.add_argument_group("aidax")
    g.add_argument("--input-gain-db", type=float, help="in_gain: dB before the network")
    g.add_argument("--output-gain-db", type=float, help="out_gain: dB after it")
    g.add_argument("--author", help="metadata author")
    g.add_argument("--style", help="metadata style, e.g. Clean, Crunch, High Gain")
    g.add_argument("--based-on", help="metadata based: the gear it models")
    g.add_argument("--license", help="metadata license")
    g = p.add_argument_group("aidax and nam")
    g.add_argument("--name", help="the model's name (default: the run's)")
    g = p.add_argument_group("nam")
    g.add_argument("--modeled-by")
    g.add_argument("--gear-make")
    g.add_argument("--gear-model")
    g.add_argument("--gear-type", choices=GEAR_TYPES)
    g.add_argument("--tone-type", choices=TONE_TYPES)
    g.add_argument("--input-level-dbu", type=float, help="dBu at the gear's input for 0 dBFS")
    g.add_argument("--output-level-dbu", type=float, help="dBu at its output for 0 dBFS")
    g.add_argument(
        "--loudness-input",
        metavar="WAV",
        help="measure loudness on this wav (e.g. NAM's loudness_input.wav) instead of ours",
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("info", help="what a model file holds and which formats it can go to")
    p.add_argument("model", help="any model file neuralfx reads (ours, RTNeural, AIDA-X, .nam)")
    p.set_defaults(func=cmd_info)


def cmd_models(args) -> int:
    from .models import REGISTRY, RTNEURAL_HIDDEN_SIZES

    for a in REGISTRY.values():
        print(f"{a.name:10s} {a.description}")
    print(f"hidden sizes: {', '.join(map(str, RTNEURAL_HIDDEN_SIZES))}; layers: 1-3; --skip adds x")
    return 0


def cmd_sweep(args) -> int:
    from .sweep import sweep

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
    from .report import write_report

    for path in write_report(args.folder, args.markdown):
        print(path)
    return 0


def cmd_data_make(args) -> int:
    from .datamake import make_outputs

    for path in make_outputs(args.data, args.effect, args.name, args.force, args.knob):
        print(path)
    return 0


def cmd_data_check(args) -> int:
    from .datacheck import check_dataset, plot_report, print_report

    report = check_dataset(
        args.data,
        args.output,
        args.resample,
        args.align,
        args.latency,
        raise_errors=False,
        all_outputs=True,
    )
    print_report(report)
    if args.plot:
        print(f"plot: {plot_report(report)}")
    report.raise_for_errors()
    return 0


def cmd_effects(args) -> int:
    from .chains import plugin_parameters
    from .effects import CATALOGUE, FAMILIES

    if args.plugin:
        for name, desc in plugin_parameters(args.plugin):
            print(f"{name:28s} {desc}")
        return 0
    for spec in sorted(CATALOGUE.values(), key=lambda s: (FAMILIES.index(s.family), s.name)):
        print(f"{spec.name:11s} {spec.family:9s} {spec.description}")
        print(f"{'':21s}" + ", ".join(p.describe() for p in spec.params))
    print(
        f"{'vst3:PATH':11s} {'plugin':9s} a VST3 plugin: vst3:/path/X.vst3(name=value, ...); "
        "its parameters: neuralfx effects --plugin PATH"
    )
    print('chain: "highpass(cutoff_hz=100) | softclip(drive_db=24)" or a .json/.toml file')
    return 0


def _add_data(sub) -> None:
    data = sub.add_parser("data", help="make and check datasets").add_subparsers(
        dest="data_command", required=True
    )
    p = data.add_parser("make", help="render DATA/output from every DATA/input wav")
    p.add_argument("data", help="dataset folder with input/")
    p.add_argument("--effect", required=True, help="chain spec or .json/.toml chain file")
    p.add_argument("--name", default="", help="output name (default: from the effect)")
    p.add_argument("--force", action="store_true", help="replace existing outputs")
    p.add_argument("--knob", help="one output per value: [effect.]param=start:stop:count")
    p.set_defaults(func=cmd_data_make)
    p = data.add_parser("check", help="check each pair: rate, length, level, clipping, latency")
    p.add_argument("data", help="dataset folder with input/ and output/")
    p.add_argument("--output", default="", help="which output/NAME(.wav or folder) to check")
    p.add_argument("--resample", action="store_true", help="convert other rates in memory")
    p.add_argument("--align", action="store_true", help="remove the measured output latency")
    p.add_argument("--latency", type=int, help="output latency in samples to remove")
    p.add_argument("--plot", action="store_true", help="write DATA/check.png")
    p.set_defaults(func=cmd_data_check)
    p = sub.add_parser("effects", help="list the effect catalogue or a VST3 plugin's parameters")
    p.add_argument("--plugin", metavar="PATH", help="a .vst3 plugin to list")
    p.set_defaults(func=cmd_effects)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuralfx", description=__doc__)
    parser.add_argument("--version", action="version", version=f"neuralfx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="make a dataset from the built-in clean signal and an effect")
    p.add_argument("data")
    p.add_argument("--effect", default="softclip", help="catalogue name or chain spec")
    p.add_argument("--name", default="", help="output file name (default: from the effect)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, default=180.0, help="clean signal length, seconds")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.set_defaults(func=cmd_init)

    _add_train(sub)
    sub.choices["train"].set_defaults(func=cmd_train)

    p = sub.add_parser(
        "render", help="run a model file (ours, RTNeural JSON, AIDA-X, NAM LSTM) over a wav"
    )
    p.add_argument("model")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_render)

    _add_export(sub)

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

    p = sub.add_parser("models", help="list the model architectures")
    p.set_defaults(func=cmd_models)
    _add_data(sub)
    return parser


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # `kill` stops a command the way Ctrl-C does: outputs stay whole, runs stay resumable
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return args.func(args)
    except NeuralFXError as exc:
        print(f"neuralfx: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(
            "neuralfx: interrupted; a run resumes with `neuralfx train DATA --resume RUN`",
            file=sys.stderr,
        )
        return 130
