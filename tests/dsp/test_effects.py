import json
import math

import numpy as np
import pytest
from scipy import signal

from neuralfx.dsp.catalogue import CATALOGUE, FAMILIES
from neuralfx.dsp.chains import (
    Chain,
    chain_from_dict,
    chain_to_dict,
    load_chain,
    load_chain_file,
    parse_chain,
    render_effect,
)
from neuralfx.errors import EffectError

SR = 44100


def sine(freq_hz, seconds=1.0, amp=0.5, sr=SR):
    n = np.arange(int(seconds * sr))
    return (amp * np.sin(2 * np.pi * freq_hz * n / sr)).astype(np.float32)


def mixed_signal():
    rng = np.random.default_rng(1)
    return (sine(220, 1.5) + 0.1 * rng.standard_normal(int(1.5 * SR))).astype(np.float32)


def gain_db(name, freq_hz, **params):
    """Steady-state gain of an effect on a sine, skipping the filter's start-up transient."""
    x = sine(freq_hz, 1.0, amp=0.1)
    y = CATALOGUE[name](x, SR, **params)
    skip = SR // 5
    return 20 * math.log10(np.sqrt(np.mean(y[skip:] ** 2.0)) / np.sqrt(np.mean(x[skip:] ** 2.0)))


def warped(freq_hz, cutoff_hz):
    """Analog-prototype frequency seen by a bilinear biquad prewarped at cutoff_hz."""
    return math.tan(math.pi * freq_hz / SR) / math.tan(math.pi * cutoff_hz / SR)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_effect_is_deterministic_same_length_and_finite(name):
    x = mixed_signal()
    a = CATALOGUE[name](x, SR)
    b = CATALOGUE[name](x, SR)
    assert a.dtype == np.float32 and a.shape == x.shape
    assert np.all(np.isfinite(a))
    assert np.array_equal(a, b)
    chain = parse_chain(name)
    assert np.array_equal(chain(x, SR), a)


def test_catalogue_metadata_is_complete():
    for spec in CATALOGUE.values():
        assert spec.family in FAMILIES and spec.description
        for p in spec.params:
            assert p.minimum <= p.default <= p.maximum, (spec.name, p)


def test_lowpass_attenuates_8k_as_its_biquad_predicts():
    omega, q = warped(8000, 1000), 0.7071
    expected = -10 * math.log10((1 - omega**2) ** 2 + (omega / q) ** 2)
    measured = gain_db("lowpass", 8000, cutoff_hz=1000.0)
    assert expected < -35
    assert abs(measured - expected) < 1.5


def test_highpass_attenuates_125hz_as_its_biquad_predicts():
    omega, q = warped(125, 1000), 0.7071
    expected = 20 * math.log10(omega**2 / math.sqrt((1 - omega**2) ** 2 + (omega / q) ** 2))
    measured = gain_db("highpass", 125, cutoff_hz=1000.0)
    assert expected < -30
    assert abs(measured - expected) < 1.5


def test_resonant_peaks_at_cutoff():
    assert gain_db("resonant", 1000, cutoff_hz=1000.0, q=8.0) > 10.0
    assert gain_db("resonant", 4000, cutoff_hz=1000.0, q=8.0) < -15.0


def test_peaking_and_shelves_reach_their_gain():
    assert gain_db("peaking", 2000, centre_hz=2000.0, gain_db=9.0) == pytest.approx(9.0, abs=0.3)
    assert gain_db("peaking", 200, centre_hz=2000.0, gain_db=9.0) == pytest.approx(0.0, abs=1.0)
    assert gain_db("lowshelf", 40, cutoff_hz=500.0, gain_db=-8.0) == pytest.approx(-8.0, abs=0.5)
    assert gain_db("lowshelf", 500, cutoff_hz=500.0, gain_db=-8.0) == pytest.approx(-4.0, abs=0.3)
    assert gain_db("highshelf", 15000, cutoff_hz=2000.0, gain_db=6.0) == pytest.approx(6.0, abs=0.5)
    assert gain_db("highshelf", 100, cutoff_hz=2000.0, gain_db=6.0) == pytest.approx(0.0, abs=0.3)


def test_filter_above_nyquist_is_an_error():
    with pytest.raises(EffectError, match="Nyquist"):
        CATALOGUE["lowpass"](sine(100, 0.1, sr=16000), 16000, cutoff_hz=10000.0)


def test_compressor_reduces_crest_factor_of_drum_hits():
    n = np.arange(2 * SR)
    env = np.exp(-(n % (SR // 4)) / (0.05 * SR))
    noise = 1 + 0.3 * np.random.default_rng(0).standard_normal(len(n))
    x = (0.9 * env * np.sin(2 * np.pi * 80 * n / SR) * noise).astype(np.float32)

    def crest(y):
        return np.max(np.abs(y)) / np.sqrt(np.mean(y.astype(np.float64) ** 2))

    y = CATALOGUE["compressor"](x, SR)
    assert 20 * math.log10(crest(x) / crest(y)) > 2.0


@pytest.mark.parametrize("name", ["softclip", "hardclip"])
def test_clippers_are_bounded_and_odd(name):
    x = sine(110, 0.5, amp=1.0) * np.float32(1.0)
    y = CATALOGUE[name](x, SR, drive_db=24.0)
    assert np.max(np.abs(y)) <= 1.0 + 1e-6
    assert np.max(np.abs(y)) > 0.9
    assert np.allclose(CATALOGUE[name](-x, SR, drive_db=24.0), -y, atol=1e-7)


def test_diode_is_asymmetric():
    y = CATALOGUE["diode"](sine(110, 0.5, amp=1.0), SR)
    pos, neg = float(y.max()), float(-y.min())
    assert abs(pos - neg) > 0.2 * max(pos, neg)
    assert np.max(np.abs(y)) <= 1.0


def test_bitcrush_quantises_to_2_pow_bits_levels():
    y = CATALOGUE["bitcrush"](sine(50, 1.0, amp=1.0), SR, bits=4)
    levels = np.unique(y)
    assert len(levels) == 16
    grid = (levels + 1) / 2 * 15
    assert np.allclose(grid, np.round(grid), atol=1e-5)


def test_delay_echo_at_delay_ms():
    x = (0.3 * np.random.default_rng(2).standard_normal(SR)).astype(np.float32)
    y = CATALOGUE["delay"](x, SR, delay_ms=100.0, feedback=0.0, mix=0.5)
    corr = signal.correlate(y, x, mode="full", method="fft")[len(x) - 1 :]
    corr[:20] = 0  # the dry signal at lag 0
    assert int(np.argmax(corr)) == 4410


@pytest.mark.parametrize("name", ["chorus", "phaser", "reverb"])
def test_modulation_and_reverb_change_the_signal(name):
    x = mixed_signal()
    y = CATALOGUE[name](x, SR)
    assert np.all(np.isfinite(y))
    assert np.linalg.norm(y - x) / np.linalg.norm(x) > 0.05


def test_chain_round_trips_and_renders_in_order():
    text = "highpass(cutoff_hz=100) | softclip(drive_db=24) | lowpass(cutoff_hz=4000)"
    chain = parse_chain(text)
    assert isinstance(chain, Chain) and len(chain.stages) == 3
    assert parse_chain(str(chain)) == chain
    assert parse_chain(chain.spec).spec == chain.spec
    assert parse_chain("softclip") == parse_chain("softclip(drive_db=12.0)")
    assert parse_chain("bitcrush(bits=6)").stages[0].kwargs["bits"] == 6
    assert parse_chain("lowpass(cutoff_hz=100)") != parse_chain("lowpass(cutoff_hz=200)")
    x = mixed_signal()
    by_hand = CATALOGUE["lowpass"](
        CATALOGUE["softclip"](CATALOGUE["highpass"](x, SR, cutoff_hz=100.0), SR, drive_db=24.0),
        SR,
        cutoff_hz=4000.0,
    )
    assert np.array_equal(render_effect(text, x, SR), by_hand)
    assert chain_from_dict(json.loads(json.dumps(chain_to_dict(chain)))) == chain


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("lowpas", "valid: amp, bandpass"),
        (
            "lowpass(cutof_hz=3000)",
            "unknown parameter 'cutof_hz' for lowpass (did you mean cutoff_hz?); valid: cutoff_hz, q",
        ),
        ("lowpass(cutoff_hz=abc)", "not a number"),
        ("lowpass(cutoff_hz=1e9)", "outside 10..20000 Hz"),
        ("bitcrush(bits=2.5)", "whole number"),
        ("lowpass(1000)", "parameters need names"),
        ("lowpass | | softclip", "empty effect"),
    ],
)
def test_bad_specs_give_one_line_errors(text, fragment):
    with pytest.raises(EffectError) as info:
        parse_chain(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_chain_files_json_and_toml(tmp_path):
    stages = [{"effect": "highpass", "cutoff_hz": 100}, {"effect": "softclip", "drive_db": 24}]
    expected = parse_chain("highpass(cutoff_hz=100) | softclip(drive_db=24)")
    (tmp_path / "a.json").write_text(json.dumps(stages))
    (tmp_path / "b.json").write_text(json.dumps({"chain": stages}))
    (tmp_path / "c.toml").write_text(
        '[[chain]]\neffect = "highpass"\ncutoff_hz = 100\n\n'
        '[[chain]]\neffect = "softclip"\ndrive_db = 24\n'
    )
    for name in ("a.json", "b.json", "c.toml"):
        assert load_chain_file(tmp_path / name) == expected
        assert load_chain(str(tmp_path / name)) == expected
    (tmp_path / "bad.toml").write_text('[[chain]]\neffect = "softclip"\ndrive = 3\n')
    with pytest.raises(EffectError, match="unknown parameter 'drive'"):
        load_chain_file(tmp_path / "bad.toml")
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(EffectError, match="not valid JSON"):
        load_chain_file(tmp_path / "broken.json")


def test_missing_vst3_is_a_one_line_error(tmp_path):
    path = tmp_path / "Nope.vst3"
    with pytest.raises(EffectError) as info:
        parse_chain(f"vst3:{path}(gain_db=3)")
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(EffectError, match="Nope.vst3"):
        render_effect(f"softclip | vst3:{path}", sine(100, 0.1), SR)


class _FakeParam:
    def __init__(self, kind, choices, rng, units=""):
        self.type, self.valid_values, self.range, self.units = kind, choices, rng, units


class _FakePlugin:
    """Stands in for a loaded VST3 (none ships with the test environment): a gain in dB."""

    def __init__(self):
        object.__setattr__(
            self,
            "parameters",
            {
                "gain_db": _FakeParam(float, [], (-12.0, 12.0, 0.1), "dB"),
                "mode": _FakeParam(str, ["clean", "dirty"], (0, 1, 1)),
            },
        )
        object.__setattr__(self, "values", {"gain_db": 0.0, "mode": "clean"})

    def __getattr__(self, name):
        return self.values[name]

    def __setattr__(self, name, value):
        if name == "gain_db" and not -12 <= value <= 12:
            raise ValueError(f"{value} is out of range")
        self.values[name] = value

    def reset(self):
        pass

    def __call__(self, audio, sample_rate, reset=True):
        return audio * np.float32(10 ** (self.values["gain_db"] / 20))


def test_vst3_stages_validate_render_and_round_trip(tmp_path, monkeypatch):
    import neuralfx.dsp.chains as chains

    monkeypatch.setattr(chains.pb, "load_plugin", lambda path: _FakePlugin())
    plugin = tmp_path / "Gain.vst3"
    plugin.mkdir()
    chain = parse_chain(f"vst3:{plugin}(gain_db=6.0, mode=dirty) | hardclip(drive_db=0)")
    assert parse_chain(str(chain)) == chain
    y = chain(np.full(100, 0.1, np.float32), SR)
    assert y[0] == pytest.approx(0.1 * 10 ** (6 / 20), rel=1e-5)
    assert chains.plugin_parameters(plugin) == [
        ("gain_db", "0.0 dB (-12.0..12.0)"),
        ("mode", "clean (one of clean, dirty)"),
    ]
    with pytest.raises(EffectError, match="unknown parameter 'gain'.*valid: gain_db, mode"):
        parse_chain(f"vst3:{plugin}(gain=6)")
    with pytest.raises(EffectError, match="gain_db=60 rejected"):
        parse_chain(f"vst3:{plugin}(gain_db=60)")
