"""The optimiser's second moment forgets fast enough that a step follows the schedule."""

import math

import pytest
import torch
from utils import fast_config

import neuralfx
from neuralfx.config import ModelConfig
from neuralfx.models import build_model
from neuralfx.training import runs
from neuralfx.training.optimizer import BETAS, KNOB_BETAS, Adam, adam, clip_grads


def last_step_over_rate(opt_for) -> float:
    """Gradients that shrink 10x every 500 steps, as a run's do while its loss falls: the size
    of the 1,500th step relative to the rate."""
    p = torch.nn.Parameter(torch.zeros(4))
    opt = opt_for([p])
    for t in range(1500):
        p.grad = torch.full((4,), 0.1 ** (t / 500))
        before = p.detach().clone()
        opt.step()
    return float((p.detach() - before).abs().mean()) / 1e-2


def test_a_step_keeps_up_with_shrinking_gradients_where_pytorchs_default_stalls():
    ours = last_step_over_rate(lambda ps: adam(ps, 1e-2))
    default = last_step_over_rate(lambda ps: torch.optim.Adam(ps, lr=1e-2))
    assert ours > 0.2, f"our step is {ours:.3f} of the rate"
    assert default < 0.02, "the contrast the module's docstring claims"


def betas_of(run_dir) -> tuple[float, float]:
    ck = runs.load_checkpoint(runs.RunPaths(run_dir))
    return tuple(ck["optimizer"]["param_groups"][0]["betas"])


def test_the_trainer_steps_with_it_and_a_resume_keeps_it(gain_data):
    kw = dict(max_epochs=2, run_name="o")
    assert betas_of(neuralfx.train(fast_config(gain_data, **kw)).run_dir) == BETAS
    more = neuralfx.train(fast_config(gain_data, **{**kw, "max_epochs": 3}), resume=True)
    assert betas_of(more.run_dir) == BETAS


def test_knob_runs_keep_pytorchs_betas(knob_run):
    assert betas_of(knob_run.run_dir) == KNOB_BETAS


def _lstm_params(seed=0):
    torch.manual_seed(seed)
    return list(build_model(ModelConfig(hidden_size=16)).parameters())


def test_the_numpy_step_is_pytorchs_adam_and_shares_its_checkpoints():
    ours_p, theirs_p = _lstm_params(), _lstm_params()
    ours, theirs = adam(ours_p, 2e-2), torch.optim.Adam(theirs_p, lr=2e-2, betas=BETAS)
    gen = torch.Generator().manual_seed(1)
    for step in range(300):
        for a, b in zip(ours_p, theirs_p):
            a.grad = torch.randn(a.shape, generator=gen) * 0.1 * (1 + step % 7)
            b.grad = a.grad.clone()
        ours.step()
        theirs.step()
    assert max(float((a - b).detach().abs().max()) for a, b in zip(ours_p, theirs_p)) < 1e-5
    # a checkpoint of either resumes in the other (old runs were saved by torch's Adam)
    back = adam(_lstm_params(), 2e-2)
    back.load_state_dict(theirs.state_dict())
    assert float(back.state[back.param_groups[0]["params"][0]]["step"]) == 300
    torch.optim.Adam(_lstm_params(), lr=1.0).load_state_dict(ours.state_dict())


def test_what_the_numpy_step_does_not_cover_takes_torchs():
    p = torch.nn.Parameter(torch.ones(3))
    opt = Adam([p], lr=0.1, weight_decay=0.5)
    p.grad = torch.zeros(3)
    opt.step()  # torch's step applies the decay; a plain numpy step would not move p
    assert float(p.detach()[0]) < 1.0


def test_clip_grads_is_torchs_clip():
    for scale in (1e-3, 10.0):
        ours, theirs = _lstm_params(), _lstm_params()
        gen = torch.Generator().manual_seed(2)
        for a, b in zip(ours, theirs):
            a.grad = torch.randn(a.shape, generator=gen) * scale
            b.grad = a.grad.clone()
        norm = clip_grads(ours, 1.0)
        assert norm == pytest.approx(float(torch.nn.utils.clip_grad_norm_(theirs, 1.0)), rel=1e-5)
        assert all(
            torch.allclose(a.grad, b.grad, rtol=1e-5, atol=1e-8) for a, b in zip(ours, theirs)
        )
    ours[0].grad[0, 0] = float("inf")
    before = ours[1].grad.clone()
    assert not math.isfinite(clip_grads(ours, 1.0))  # the trainer skips such a step
    assert torch.equal(ours[1].grad, before)
