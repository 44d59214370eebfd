"""``neuralfx render``, ``export``, ``info`` and ``models``."""

from __future__ import annotations

import argparse

from ..errors import ExportError


def add_render(sub) -> None:
    p = sub.add_parser(
        "render", help="run a model file (ours, RTNeural JSON, AIDA-X, NAM LSTM) over a wav"
    )
    p.add_argument("model")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--threads", type=threads_flag, default=1, help="torch threads (1-64)")
    p.add_argument(
        "--resample",
        action="store_true",
        help="convert a file at another rate to the model's, and the result back",
    )
    p.add_argument(
        "--knob",
        action="append",
        metavar="NAME=VALUE",
        help="a knob of a conditioned model, in its units (see neuralfx info MODEL); "
        "NAME=START:END sweeps it over the file; give every knob once",
    )
    p.set_defaults(func=cmd_render)


def threads_flag(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"{n}: use 1 to 64 threads")
    return n


def cmd_render(args) -> int:
    from ..render import parse_knob_flags, render_file

    out = render_file(
        args.model,
        args.input,
        args.output,
        threads=args.threads,
        resample=args.resample,
        knobs=parse_knob_flags(args.knob),
    )
    print(out)
    return 0


def cmd_export(args) -> int:
    from ..export import export_model

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
    from ..export.info import model_info

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


def add_export(sub) -> None:
    from ..export.nam import GEAR_TYPES, TONE_TYPES

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


def add_models(sub) -> None:
    p = sub.add_parser("models", help="list the model architectures")
    p.set_defaults(func=cmd_models)


def cmd_models(args) -> int:
    from ..models import REGISTRY, RTNEURAL_HIDDEN_SIZES

    for a in REGISTRY.values():
        print(f"{a.name:10s} {a.description}")
    print(f"hidden sizes: {', '.join(map(str, RTNEURAL_HIDDEN_SIZES))}; layers: 1-3; --skip adds x")
    return 0
