"""``neuralfx train``: its flags are made from the config fields, declared once in config.py."""

from __future__ import annotations

import dataclasses
import json
import typing

from ..config import LossConfig, ModelConfig, TrainConfig, load_config
from ..errors import RunError


def add_train(sub) -> None:
    _add_train(sub)
    sub.choices["train"].set_defaults(func=cmd_train)


def _train_fields() -> list[tuple[str | None, dataclasses.Field]]:
    """Every config field with a flag: (section or None for the top level, field)."""
    out: list[tuple[str | None, dataclasses.Field]] = []
    for section, cls in ((None, TrainConfig), ("model", ModelConfig), ("loss", LossConfig)):
        out += [(section, f) for f in dataclasses.fields(cls) if f.metadata.get("flag")]
    return out


def _flag_type(f: dataclasses.Field, owner: type) -> type:
    hint = typing.get_type_hints(owner)[f.name]
    if typing.get_origin(hint) is tuple:
        return tuple  # a repeatable flag
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
            f"; default {default}" if default not in (None, "", False, ()) else ""
        )
        dest = f"{section}.{f.name}" if section else f.name
        if kind is bool:
            p.add_argument(
                meta["flag"], dest=dest, action="store_const", const=True, help=help_text
            )
        elif kind is tuple:
            p.add_argument(
                meta["flag"],
                dest=dest,
                action="append",
                help=help_text,
                metavar=meta["flag"].lstrip("-").upper(),
            )
        else:
            p.add_argument(
                meta["flag"],
                dest=dest,
                type=kind,
                help=help_text,
                choices=meta["choices"] or None,
                metavar=None if meta["choices"] else meta["flag"].lstrip("-").upper(),
            )
    p.add_argument("--config", help="a config.json to start from (flags override it)")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run (name or folder)")


def _train_config(args) -> tuple[TrainConfig, bool]:
    from ..training.runs import resolve_run

    if args.resume:
        paths = resolve_run(args.data, args.resume)
        cfg = load_config(paths.config)
        if "knob_teacher" not in json.loads(paths.config.read_text()):  # from before the teacher
            cfg = dataclasses.replace(cfg, knob_teacher="off")
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
            given[section][f.name] = tuple(value) if isinstance(value, list) else value
    if args.resume:
        given[None].pop("run_name", None)
        _check_resume(cfg, given, paths.root)
    elif given[None].get("init_model"):  # the file's architecture, but for flags given
        given["model"] = {**_architecture_of(given[None]["init_model"]), **given["model"]}
    cfg = dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, **given["model"]),
        loss=dataclasses.replace(cfg.loss, **given["loss"]),
        **given[None],
    )
    return cfg, bool(args.resume)


# what a checkpoint's weights and data depend on: a resume may not change them
_FIXED_ON_RESUME = {
    None: (
        "output_name",
        "latency_samples",
        "align",
        "resample",
        "sample_rate_hz",
        "seed",
        "knob_ranges",
        "holdout",
        "knob_teacher",
    ),
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
                raise RunError(
                    f"{run}: was trained with {name} {getattr(have, name)!r}; {flag} "
                    f"{given[section][name]!r} cannot change on --resume: drop {flag}, or start "
                    "a new run"
                )


def _architecture_of(path: str) -> dict[str, object]:
    """The model flags that ``--init FILE`` implies when none are given."""
    from ..export import load_recurrent_model

    model, _ = load_recurrent_model(path)
    arch: dict[str, object] = {
        "name": f"conv-{model.cell}" if len(model.convs) else model.cell,
        "hidden_size": model.rnn.hidden_size,
        "num_layers": model.rnn.num_layers,
        "skip": model.skip,
    }
    if len(model.convs):
        conv = model.convs[0].conv
        arch.update(conv_channels=conv.out_channels, conv_kernel=conv.kernel_size[0])
    return arch


def cmd_train(args) -> int:
    from ..training import train

    cfg, resume = _train_config(args)
    train(cfg, resume=resume)
    return 0
