"""Command line: a thin layer over the library API. Errors print one line and exit 2."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
import typing

from .config import LossConfig, ModelConfig, TrainConfig, load_config
from .errors import ExportError, NeuralFXError
from .version import __version__


def _train_fields() -> list[tuple[str | None, dataclasses.Field]]:
    """Every config field with a flag: (section or None for the top level, field)."""
    out: list[tuple[str | None, dataclasses.Field]] = []
    for section, cls in ((None, TrainConfig), ("model", ModelConfig), ("loss", LossConfig)):
        out += [(section, f) for f in dataclasses.fields(cls) if f.metadata.get("flag")]
    return out


def _flag_type(f: dataclasses.Field, owner: type) -> type:
    hint = typing.get_type_hints(owner)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model on DATA/input + DATA/output")
    p.add_argument("data", help="dataset folder with input/ and output/")
    owners = {None: TrainConfig, "model": ModelConfig, "loss": LossConfig}
    for section, f in _train_fields():
        meta, kind = f.metadata, _flag_type(f, owners[section])
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = meta["help"] + (
            f"; default {default}" if default not in (None, "", False) else ""
        )
        dest = f"{section}.{f.name}" if section else f.name
        if kind is bool:
            p.add_argument(
                meta["flag"], dest=dest, action="store_const", const=True, help=help_text
            )
        else:
            p.add_argument(
                meta["flag"], dest=dest, type=kind, help=help_text, choices=meta["choices"] or None
            )
    p.add_argument("--config", help="a config.json to start from (flags override it)")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run (name or folder)")


def _train_config(args) -> tuple[TrainConfig, bool]:
    from .training.runs import resolve_run

    if args.resume:
        paths = resolve_run(args.data, args.resume)
        cfg = load_config(paths.config)
        # resume exactly the folder named, wherever it is and whatever its config calls it
        cfg = dataclasses.replace(
            cfg, data_dir=args.data, run_name=paths.root.name, runs_dir=str(paths.root.parent)
        )
    elif args.config:
        cfg = dataclasses.replace(load_config(args.config), data_dir=args.data, run_name="")
    else:
        cfg = TrainConfig(data_dir=args.data)
    given: dict[str | None, dict[str, object]] = {None: {}, "model": {}, "loss": {}}
    for section, f in _train_fields():
        value = getattr(args, f"{section}.{f.name}" if section else f.name)
        if value is not None:
            given[section][f.name] = value
    if args.resume:
        given[None].pop("run_name", None)
        _check_resume(cfg, given, paths.root)
    cfg = dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, **given["model"]),
        loss=dataclasses.replace(cfg.loss, **given["loss"]),
        **given[None],
    )
    return cfg, bool(args.resume)


# what a checkpoint's weights and data depend on: a resume may not change them
_FIXED_ON_RESUME = {
    None: ("output_name", "latency_samples", "align", "resample", "sample_rate_hz", "seed"),
    "model": tuple(f.name for f in dataclasses.fields(ModelConfig)),
    "loss": tuple(f.name for f in dataclasses.fields(LossConfig)),
}


def _check_resume(cfg: TrainConfig, given: dict, run: object) -> None:
    for section, names in _FIXED_ON_RESUME.items():
        have = getattr(cfg, section) if section else cfg
        for name in names:
            if name in given[section] and given[section][name] != getattr(have, name):
                flag = next(
                    f.metadata["flag"]
                    for s, f in _train_fields()
                    if s == section and f.name == name
                )
                raise NeuralFXError(
                    f"{run}: was trained with {name} {getattr(have, name)!r}; {flag} "
                    f"{given[section][name]!r} cannot change on --resume: drop {flag}, or start "
                    "a new run"
                )


def cmd_train(args) -> int:
    from .training import train

    cfg, resume = _train_config(args)
    train(cfg, resume=resume)
    return 0


def cmd_init(args) -> int:
    from .data.builtin import init_dataset

    made = init_dataset(
        args.data, args.effect, args.name, args.seed, args.duration, args.force, args.sample_rate
    )
    for kind, path in made.items():
        print(f"{kind:7s} {path}")
    print(f"next: neuralfx train {args.data}")
    return 0


def cmd_render(args) -> int:
    from .render import render_file

    out = render_file(
        args.model, args.input, args.output, threads=args.threads, resample=args.resample
    )
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
    from .study.sweep import sweep

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
    from .study.report import write_report

    for path in write_report(args.folder, args.markdown):
        print(path)
    return 0


def cmd_data_make(args) -> int:
    from .data.make import make_outputs

    for path in make_outputs(args.data, args.effect, args.name, args.force, args.knob):
        print(path)
    return 0


def cmd_data_check(args) -> int:
    from .data.check import check_dataset
    from .data.view import plot_report, print_report

    report = check_dataset(
        args.data,
        args.output,
        args.sample_rate or (44100 if args.resample else 0),
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
    from .dsp.catalogue import CATALOGUE, FAMILIES
    from .dsp.chains import plugin_parameters

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
    p.add_argument(
        "--sample-rate",
        type=int,
        default=0,
        metavar="HZ",
        help="resample every pair to HZ in memory (default: the dataset's rate)",
    )
    p.add_argument("--resample", action="store_true", help="the same as --sample-rate 44100")
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
    p.add_argument(
        "--sample-rate",
        type=int,
        default=44100,
        metavar="HZ",
        help="rate of the synthesized audio (AIDA-X hosts usually run 48000)",
    )
    p.set_defaults(func=cmd_init)

    _add_train(sub)
    sub.choices["train"].set_defaults(func=cmd_train)

    p = sub.add_parser(
        "render", help="run a model file (ours, RTNeural JSON, AIDA-X, NAM LSTM) over a wav"
    )
    p.add_argument("model")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--threads", type=_threads, default=1, help="torch threads (1-64)")
    p.add_argument(
        "--resample",
        action="store_true",
        help="convert a file at another rate to the model's, and the result back",
    )
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


def _threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"{n}: use 1 to 64 threads")
    return n


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
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return args.func(args)
    except NeuralFXError as exc:
        print(f"neuralfx: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        hint = _INTERRUPTED.get(args.command, "outputs already written are complete")
        print(f"neuralfx: interrupted; {hint}", file=sys.stderr)
        return 130
