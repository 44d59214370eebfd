"""The optimiser's second moment forgets fast enough that a step follows the schedule."""

import torch
from utils import fast_config

import neuralfx
from neuralfx.training import runs
from neuralfx.training.optimizer import BETAS, KNOB_BETAS, adam


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
