"""A network set to a linear filter plays as that filter in every format, by their own readers."""

import json

import numpy as np
from engines import aidax_forward, nam_forward, rtneural_forward
from scipy.signal import butter, lfilter
from utils import RATE, fast_config, make_pair, noise

import neuralfx
from neuralfx.dsp.levels import esr
from neuralfx.export import model_to_dict

B, A = butter(2, [200, 2000], "bandpass", fs=RATE)


def test_the_filter_survives_lab_native_aidax_and_nam_files(tmp_path):
    x = noise(8.0)
    data = make_pair(tmp_path / "bp", x, lfilter(B, A, x).astype(np.float32))
    result = neuralfx.train(fast_config(data, linear_start="auto"))
    assert result.stopped_by == "linear"
    model, meta = neuralfx.load_model(data / "model.json")
    fresh = noise(0.3, seed=9)
    want = lfilter(B, A, fresh)
    # the lab's torch_helpers file is read by real RTNeural in tests/test_cpp.py
    for fmt, reader in {
        "native": rtneural_forward,
        "aidax": aidax_forward,
        "nam": nam_forward,
    }.items():
        d = json.loads(json.dumps(model_to_dict(model, meta, fmt)))  # the numbers as written
        got = reader(d, fresh.astype(np.float64))
        assert esr(want, got) < 1e-5, fmt
