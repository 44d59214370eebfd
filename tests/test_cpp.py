"""neuralfx-process (real RTNeural, C++) against PyTorch for every model type and format.

The C++ example is built once per session against a local RTNeural (env RTNEURAL_DIR, or the
shared copy beside the repo) and cached in cpp/build-test/<source hash>, so reruns are fast.
Without RTNeural or cmake the tests skip, except under CI where that is a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from utils import RATE, metadata, random_model, run_blocks, sine_and_noise

from neuralfx.errors import ModelFileError
from neuralfx.export import load_model, save_model
from neuralfx.models import LAB_FORMAT_HIDDEN_SIZES

REPO = Path(__file__).resolve().parents[1]
CPP = REPO / "cpp"
BUILD_ROOT = CPP / "build-test"
SHARED_RTNEURAL = (
    REPO.parent / "shared" / "third_party" / "RTNeural",
    Path("/work/shared/third_party/RTNeural"),
)


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def _find_rtneural() -> Path:
    env = os.environ.get("RTNEURAL_DIR")
    if env:
        if not (Path(env) / "RTNeural" / "RTNeural.h").is_file():
            _unavailable(f"RTNEURAL_DIR={env} holds no RTNeural/RTNeural.h")
        return Path(env).resolve()
    for candidate in SHARED_RTNEURAL:
        if (candidate / "RTNeural" / "RTNeural.h").is_file():
            return candidate.resolve()
    _unavailable(
        "RTNeural not found: set RTNEURAL_DIR or place it at ../shared/third_party/RTNeural"
    )


def _source_key(rtneural: Path) -> str:
    h = hashlib.sha256(str(rtneural).encode())
    commit = rtneural / "COMMIT"
    if commit.is_file():
        h.update(commit.read_bytes())
    for f in sorted(CPP.iterdir()):
        if f.is_file() and f.suffix in (".cpp", ".h", ".txt"):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def neuralfx_process() -> Path:
    rtneural = _find_rtneural()
    if shutil.which("cmake") is None:
        _unavailable("cmake is not installed")
    key = _source_key(rtneural)
    build = BUILD_ROOT / key
    exe = build / "neuralfx-process"
    if not exe.is_file():
        steps = [
            [
                "cmake",
                "-S",
                str(CPP),
                "-B",
                str(build),
                f"-DRTNEURAL_DIR={rtneural}",
                "-DCMAKE_BUILD_TYPE=Release",
            ],
            ["cmake", "--build", str(build), "-j", str(max(2, os.cpu_count() or 2))],
        ]
        for cmd in steps:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            if r.returncode:
                tail = "\n".join((r.stdout + r.stderr).splitlines()[-40:])
                pytest.fail(f"building cpp/ failed: {' '.join(cmd)}\n{tail}")
        # Builds of older sources are dead weight (Eigen objects are large).
        for old in BUILD_ROOT.iterdir():
            if old.is_dir() and old.name != key:
                shutil.rmtree(old, ignore_errors=True)
    return exe


@pytest.fixture(scope="session")
def input_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cpp") / "in.wav"
    sf.write(path, sine_and_noise(0.5), RATE, subtype="FLOAT")
    return path


def run_cpp(exe: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=300)


def compare(exe: Path, model_path: Path, wav: Path, out: Path) -> tuple[float, float]:
    """Max abs difference and ESR of neuralfx-process against PyTorch on the same wav."""
    model, _ = load_model(model_path)
    x, _ = sf.read(wav, dtype="float32")
    want = run_blocks(model, x)
    r = run_cpp(exe, model_path, wav, out)
    assert r.returncode == 0, r.stderr
    got, rate = sf.read(out, dtype="float32")
    assert rate == RATE and sf.info(out).subtype == "FLOAT" and got.shape == want.shape
    err = got.astype(np.float64) - want
    esr = np.sum(err**2) / np.sum(want.astype(np.float64) ** 2)
    return float(np.max(np.abs(err))), float(esr)


MODELS = [
    ("lstm", 8, 1, False),
    ("lstm", 16, 1, False),
    ("lstm", 64, 1, False),
    ("gru", 16, 1, False),
    ("gru", 32, 1, False),
    ("gru", 64, 1, True),
    ("lstm", 16, 1, True),
    ("lstm", 16, 2, False),
    ("gru", 8, 3, True),
    ("conv-lstm", 16, 1, False),
    ("conv-gru", 16, 1, False),
    ("conv-gru", 8, 2, True),
]
CASES = [
    (*m, fmt)
    for m in MODELS
    for fmt in ("lab", "native")
    if fmt == "native"
    or (m[2] == 1 and not m[0].startswith("conv") and m[1] in LAB_FORMAT_HIDDEN_SIZES)
]


@pytest.mark.parametrize(
    "name,hidden,layers,skip,fmt",
    CASES,
    ids=[f"{n}{h}x{n_l}{'-skip' if s else ''}-{f}" for n, h, n_l, s, f in CASES],
)
def test_rtneural_matches_pytorch(
    neuralfx_process, input_wav, tmp_path, name, hidden, layers, skip, fmt
):
    model = random_model(name, hidden, layers, skip, seed=hidden + layers)
    path = save_model(model, tmp_path / "model.json", metadata(name, hidden, layers, skip), fmt)
    max_diff, esr = compare(neuralfx_process, path, input_wav, tmp_path / "out.wav")
    assert max_diff < 1e-5 and esr < 1e-8, (max_diff, esr)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_wav_subtypes_are_read_like_soundfile(neuralfx_process, tmp_path, subtype):
    wav = tmp_path / "in.wav"
    sf.write(wav, 0.9 * sine_and_noise(0.1, seed=4).clip(-1, 1), RATE, subtype=subtype)
    path = save_model(random_model("gru", 16), tmp_path / "m.json", metadata("gru", 16), "lab")
    max_diff, _ = compare(neuralfx_process, path, wav, tmp_path / "out.wav")
    assert max_diff < 1e-5


def test_bench_reports_a_real_time_factor(neuralfx_process, tmp_path):
    path = save_model(random_model("lstm", 16), tmp_path / "m.json", metadata("lstm", 16), "native")
    r = run_cpp(neuralfx_process, "--bench", path)
    assert r.returncode == 0, r.stderr
    rtf = float(re.search(r"real-time factor ([0-9.]+)", r.stdout).group(1))
    assert 0 < rtf < 1, r.stdout  # a 16-unit LSTM runs far faster than real time


def _edited(tmp_path: Path, name: str, hidden: int, fmt: str, edit) -> Path:
    d = json.loads(
        save_model(
            random_model(name, hidden), tmp_path / "src.json", metadata(name, hidden), fmt
        ).read_text()
    )
    edit(d)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(d))
    return path


BROKEN = {
    "lab-missing-key": ("lab", lambda d: d.pop("lstm.bias_hh_l0"), ["'lstm.bias_hh_l0'"]),
    "lab-hidden-mismatch": (
        "lab",
        lambda d: d.__setitem__("dense.weight", [[0.1] * 8]),
        ["dense.weight", "[1, 8]", "[1, 16]"],
    ),
    "native-missing-weights": (
        "native",
        lambda d: d["layers"][1].pop("weights"),
        ["layer 1 (dense)", "'weights'"],
    ),
    "native-missing-in-shape": ("native", lambda d: d.pop("in_shape"), ["'in_shape'"]),
    "native-wrong-shape": (
        "native",
        lambda d: d["layers"][0]["weights"].__setitem__(1, [[0.0] * 64] * 8),
        ["layer 0 (lstm)", "recurrent kernel", "[8, 64]", "[16, 64]"],
    ),
    "native-short-bias": (
        "native",
        lambda d: d["layers"][0]["weights"][2].pop(),
        ["layer 0 (lstm)", "bias", "[63]", "[64]"],
    ),
    "native-metadata-hidden": (
        "native",
        lambda d: d["neuralfx"].__setitem__("hidden_size", 32),
        ["hidden_size 32", "16"],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_files_give_one_line_errors_in_both(neuralfx_process, input_wav, tmp_path, case):
    fmt, edit, words = BROKEN[case]
    path = _edited(tmp_path, "lstm", 16, fmt, edit)
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    r = run_cpp(neuralfx_process, path, input_wav, tmp_path / "out.wav")
    assert r.returncode == 2
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("neuralfx-process: error: ") and str(path) in line
    for w in words:
        assert w in line
    assert any(w.strip("'") in str(err.value) for w in words)
    assert not (tmp_path / "out.wav").exists()


def test_uncompiled_lab_size_is_refused_with_the_sizes(neuralfx_process, input_wav, tmp_path):
    path = save_model(random_model("lstm", 12), tmp_path / "m.json", metadata("lstm", 12), "lab")
    r = run_cpp(neuralfx_process, path, input_wav, tmp_path / "out.wav")
    assert r.returncode == 2
    assert "hidden size 12" in r.stderr and "8, 16, 32, 64" in r.stderr
    assert "--format native" in r.stderr
    native = save_model(
        random_model("lstm", 12), tmp_path / "n.json", metadata("lstm", 12), "native"
    )
    max_diff, _ = compare(neuralfx_process, native, input_wav, tmp_path / "out.wav")
    assert max_diff < 1e-5


def test_bad_invocations_exit_2(neuralfx_process, input_wav, tmp_path):
    good = save_model(random_model("gru", 8), tmp_path / "m.json", metadata("gru", 8), "lab")
    truncated = tmp_path / "t.json"
    truncated.write_text(good.read_text()[:200])
    other_rate = tmp_path / "48k.wav"
    sf.write(other_rate, sine_and_noise(0.05), 48000, subtype="FLOAT")
    cases = [
        ((tmp_path / "none.json", input_wav, tmp_path / "o.wav"), "no such model file"),
        ((good, tmp_path / "none.wav", tmp_path / "o.wav"), "none.wav"),
        ((truncated, input_wav, tmp_path / "o.wav"), "not valid JSON"),
        ((good, other_rate, tmp_path / "o.wav"), "48000 Hz"),
        ((good, input_wav), "usage"),
    ]
    for args, words in cases:
        r = run_cpp(neuralfx_process, *args)
        assert r.returncode == 2 and words in r.stderr, (args, r.stderr)


@pytest.mark.parametrize("fmt", ["lab", "native"])
def test_rtneural_plays_an_lstm_set_to_a_filter_as_the_filter(
    neuralfx_process, input_wav, tmp_path, fmt
):
    """The linear start's tiny cells and large output weights, through real RTNeural, against
    scipy's own filter: the file is the filter whichever loader reads it."""
    from scipy.signal import butter, lfilter

    from neuralfx.dsp.linear import fit_linear
    from neuralfx.models.recurrent import RecurrentModel, start_as_filter

    b, a = butter(2, [200, 2000], "bandpass", fs=RATE)
    # as loud as the test wav: the cells are linear up to the level the filter was fitted at
    noise = np.random.default_rng(0).standard_normal(3 * RATE)
    system, _ = fit_linear(noise, lfilter(b, a, noise), 2 * RATE, 16)
    model = RecurrentModel(hidden_size=16)
    peak = float(np.max(np.abs(system.states(noise))))
    start_as_filter(model, system.a, system.b, system.c, peak)
    path = save_model(model, tmp_path / "model.json", metadata("lstm", 16), fmt)
    out = tmp_path / "out.wav"
    assert run_cpp(neuralfx_process, path, input_wav, out).returncode == 0
    x, _ = sf.read(input_wav, dtype="float64")
    got, _ = sf.read(out, dtype="float64")
    want = lfilter(b, a, x)
    assert np.sum((got - want) ** 2) / np.sum(want**2) < 1e-5
