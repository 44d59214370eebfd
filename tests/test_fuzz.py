"""Fuzzing the loaders of files people send each other: config.json, study files, model files.

Random structures, shapes and values must give a NeuralFXError or a valid object, never another
exception, within a time bound. CI runs a short budget; `make fuzz` runs a long one
(``NEURALFX_FUZZ_EXAMPLES``).
"""

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuralfx.config import TrainConfig, from_dict
from neuralfx.errors import NeuralFXError
from neuralfx.export import load_model
from neuralfx.study.spec import parse_study

EXAMPLES = int(os.environ.get("NEURALFX_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # each example is timed below; the shared CI machine makes deadlines flaky
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
GOLDEN = Path(__file__).resolve().parent / "golden"
SECONDS_PER_EXAMPLE = 5.0

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=12), kids, max_size=5)
    ),
    max_leaves=30,
)
config_keys = st.sampled_from(
    [f.name for f in TrainConfig.__dataclass_fields__.values()] + ["model", "loss", "nope"]
)
model_keys = st.sampled_from(["name", "hidden_size", "num_layers", "skip", "conv_kernel", "x"])


def _bounded(call):
    t0 = time.perf_counter()
    try:
        return call()
    except NeuralFXError:
        return None
    finally:
        assert time.perf_counter() - t0 < SECONDS_PER_EXAMPLE


@FUZZ
@given(
    st.dictionaries(config_keys, json_values, max_size=6),
    st.dictionaries(model_keys, json_values, max_size=4),
)
def test_config_loading_never_raises_anything_else(top, model):
    data = {**top, "model": model} if model else top
    cfg = _bounded(lambda: from_dict(TrainConfig, data))
    assert cfg is None or isinstance(cfg, TrainConfig)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "effects",
                "models",
                "hidden_sizes",
                "layers",
                "seeds",
                "budget_s",
                "duration_s",
                "train",
                "exclude",
                "losses",
            ]
        ),
        json_values,
        max_size=6,
    )
)
def test_study_files_never_raise_anything_else(data):
    _bounded(lambda: parse_study(data))


def _mutate(value, path: list, new):
    """``value`` with the element at ``path`` replaced by ``new`` (a deep copy)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_mutate(v, rest, new) if k == head else v) for k, v in value.items()}
    return [(_mutate(v, rest, new) if i == head else v) for i, v in enumerate(value)]


def _paths(value, prefix=(), depth=0):
    yield list(prefix)
    if depth > 6:
        return
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for i, (k, v) in enumerate(items):
        if i > 6:  # big weight lists: a few of their rows are enough
            break
        yield from _paths(v, (*prefix, k), depth + 1)


GOLDEN_FILES = sorted(GOLDEN.glob("*.json"))
shape_bombs = st.sampled_from(
    [
        [[0.0] * 20000],  # one row of 20000 units: 6 GB of LSTM if built from this width
        [[0.0]] * 3000,
        [],
        [[[]]],
        "fast",
        "no",
        {"x": 1},
        -1,
        1e308,
    ]
)


def _plugin_files() -> dict[str, dict]:
    """An AIDA-X file and a .nam file of small seeded models, for the interop loaders."""
    from utils import metadata, random_model

    from neuralfx.export import model_to_dict

    knob_meta = metadata("lstm", 8, knobs=2)
    return {
        "aidax_gru8": model_to_dict(random_model("gru", 8), metadata("gru", 8), "aidax"),
        "nam_lstm8": model_to_dict(random_model("lstm", 8), metadata("lstm", 8), "nam"),
        "native_lstm8_knobs2": model_to_dict(random_model("lstm", 8, knobs=2), knob_meta, "native"),
        "aidax_lstm8_knobs2": model_to_dict(random_model("lstm", 8, knobs=2), knob_meta, "aidax"),
    }


BASES = [p.stem for p in GOLDEN_FILES] + [
    "aidax_gru8",
    "nam_lstm8",
    "native_lstm8_knobs2",
    "aidax_lstm8_knobs2",
]


@pytest.mark.parametrize("name", BASES)
def test_model_files_mutated_give_a_model_or_one_error(name, tmp_path):
    golden = GOLDEN / f"{name}.json"
    base = json.loads(golden.read_text()) if golden.is_file() else _plugin_files()[name]
    paths = list(_paths(base))

    @FUZZ
    @given(st.sampled_from(paths), json_values | shape_bombs, st.booleans())
    def run(path, new, delete):
        d = _mutate(base, path, new)
        if delete and path and isinstance(d, dict) and path[0] in d and len(path) == 1:
            d = {k: v for k, v in d.items() if k != path[0]}
        f = tmp_path / "m.json"
        f.write_text(json.dumps(d))
        _bounded(lambda: load_model(f))

    run()


def test_a_deeply_nested_model_file_is_one_error(tmp_path):
    f = tmp_path / "deep.json"
    f.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(NeuralFXError):
        load_model(f)
    f.write_text('{"layers": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(NeuralFXError):
        load_model(f)
