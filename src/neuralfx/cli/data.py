"""``neuralfx init``, ``data make``, ``data check`` and ``effects``."""

from __future__ import annotations


def add_init(sub) -> None:
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
    p.add_argument(
        "--knob",
        action="append",
        help="a parametric demo: one output per setting, e.g. drive_db=0:30:5 (repeatable)",
    )
    p.set_defaults(func=cmd_init)


def cmd_init(args) -> int:
    from ..data.builtin import init_dataset

    made = init_dataset(
        args.data,
        args.effect,
        args.name,
        args.seed,
        args.duration,
        args.force,
        args.sample_rate,
        args.knob,
    )
    for kind, path in made.items():
        print(f"{kind:7s} {path}")
    if args.knob:  # one conditioned model of every setting
        print(
            f"next: neuralfx data check {args.data}; neuralfx train {args.data} "
            "(add --holdout NAME=VALUE to score a setting it never trains on)"
        )
    else:
        print(f"next: neuralfx train {args.data}")
    return 0


def cmd_data_make(args) -> int:
    from ..data.make import make_outputs

    for path in make_outputs(args.data, args.effect, args.name, args.force, args.knob):
        print(path)
    return 0


def cmd_data_check(args) -> int:
    from ..data.check import check_dataset
    from ..data.knobs import parse_knob_range
    from ..data.view import plot_report, print_report

    report = check_dataset(
        args.data,
        args.output,
        args.sample_rate or (44100 if args.resample else 0),
        args.align,
        args.latency,
        raise_errors=False,
        all_outputs=True,
        knob_ranges={n: (lo, hi) for n, lo, hi in map(parse_knob_range, args.knob_range)},
    )
    print_report(report)
    if args.plot:
        print(f"plot: {plot_report(report)}")
    report.raise_for_errors()
    return 0


def cmd_effects(args) -> int:
    from ..dsp.catalogue import CATALOGUE, FAMILIES
    from ..dsp.chains import plugin_parameters

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


def add_data(sub) -> None:
    data = sub.add_parser("data", help="make and check datasets").add_subparsers(
        dest="data_command", required=True
    )
    p = data.add_parser("make", help="render DATA/output from every DATA/input wav")
    p.add_argument("data", help="dataset folder with input/")
    p.add_argument("--effect", required=True, help="chain spec or .json/.toml chain file")
    p.add_argument("--name", default="", help="output name (default: from the effect)")
    p.add_argument("--force", action="store_true", help="replace existing outputs")
    p.add_argument(
        "--knob",
        action="append",
        help="one output per value: [effect.]param=start:stop:count; repeat for a grid of up "
        "to 3 knobs (writes DATA/knobs.csv)",
    )
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
    p.add_argument(
        "--knob-range",
        action="append",
        default=[],
        metavar="NAME=LO:HI",
        help="a knob's range, as for train (repeat)",
    )
    p.set_defaults(func=cmd_data_check)
    p = sub.add_parser("effects", help="list the effect catalogue or a VST3 plugin's parameters")
    p.add_argument("--plugin", metavar="PATH", help="a .vst3 plugin to list")
    p.set_defaults(func=cmd_effects)
