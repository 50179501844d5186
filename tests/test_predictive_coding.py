"""Predictive coding (``pc``): its equilibrium update against backprop per layer, the energy
descent of inference, parameter and architecture checks, and learning."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_grlu.alignment import measure_alignment
from neuro_grlu.config import parse_config
from neuro_grlu.errors import ConfigError
from neuro_grlu.network import Architecture, Network
from neuro_grlu.rules import get_rule
from neuro_grlu.rules.backprop import loss_gradient
from neuro_grlu.rules.predictive_coding import PCParams, pc_gradients, relax

from _synthetic import blobs, learner, train_epochs


def _net(hidden, seed=0, n_in=12, n_out=4):
    """A float64 network (so the tolerances below measure PC, not float32 rounding)."""
    rng = np.random.default_rng(seed)
    net = Network.init(Architecture(n_in=n_in, hidden=hidden, n_out=n_out), rng)
    net.W = [w.astype(np.float64) for w in net.W]
    net.b = [rng.standard_normal(b.shape) * 0.1 for b in net.b]
    x = rng.random((6, n_in))
    y = rng.integers(0, n_out, 6)
    return net, x, y


def _rel_errors(net, x, y, w, steps=6000, rate=0.05):
    grads = pc_gradients(net, relax(net, x, y, steps, rate, w), w)
    exact = loss_gradient(net, x, y)
    return np.array([np.linalg.norm(np.concatenate([(g - e).ravel(), gb - eb]))
                     / np.linalg.norm(np.concatenate([e.ravel(), eb]))
                     for (g, gb), (e, eb) in zip(grads, exact)])


@pytest.mark.parametrize("hidden", [(10,), (24, 20, 16)])
def test_equilibrium_update_equals_backprop_per_layer_for_small_output_errors(hidden):
    """Inference run to convergence; as the output weight w (the size of the output error)
    shrinks, the relative error of every layer's update against the exact gradient shrinks
    in proportion to w (observed: ~2.3 w), and is below 0.05% (1 and 3 hidden layers) at w = 1e-4."""
    net, x, y = _net(hidden)
    errs = {w: _rel_errors(net, x, y, w) for w in (1e-3, 1e-4)}
    assert (errs[1e-4] < 5e-4).all(), errs
    assert (errs[1e-4] < 0.3 * errs[1e-3]).all(), errs  # O(w): the gap is PC's, not numerical
    # ... and with large output errors PC is its own rule, measurably different from backprop
    assert (_rel_errors(net, x, y, 1.0)[:-1] > 0.05).all()


def test_too_few_inference_steps_leave_the_lower_layers_behind():
    """From the feed-forward start the error reaches one layer further per step (rate 1):
    after 1 step the lowest layer of a 3-hidden-layer network has received no error yet."""
    net, x, y = _net((10, 8, 6))
    grads = pc_gradients(net, relax(net, x, y, 1, 1.0, 1e-3), 1e-3)
    assert np.abs(grads[0][0]).max() == 0.0 and np.abs(grads[2][0]).max() > 0.0


@pytest.mark.parametrize("hidden", [(10,), (10, 8, 6)])
def test_inference_decreases_the_energy_monotonically(hidden):
    """Plain gradient steps (no backtracking), a small step size and small output errors
    (w = 1e-3, so no unit crosses its ReLU kink, where the energy is not smooth): the
    descent lemma holds and the energy falls at every step. (With w = 1 the relaxed states
    cross kinks and plain steps can raise the energy slightly; hence the backtracking.)"""
    net, x, y = _net(hidden, seed=3)
    energy = relax(net, x, y, 300, 0.05, 1e-3, backtrack=False).energy
    assert energy[0] - energy[-1] > 1e-4 * energy[0]  # inference moved (the drop is O(w²))
    assert (np.diff(energy) <= 1e-14 * energy[0]).all(), np.diff(energy).max()  # rounding at convergence
    with_backtracking = relax(net, x, y, 300, 0.05, 1e-3)
    assert with_backtracking.rejected == 0  # it never had to intervene: same trajectory
    np.testing.assert_allclose(with_backtracking.energy, energy, rtol=1e-12)


def test_backtracking_keeps_a_too_large_step_from_diverging():
    """Layer norm over few active units makes the energy steep: step 0.1 diverges on this
    network without backtracking; with it, steps are undone and halved per example and the
    energy goes down."""
    net, x, y = _net((10, 8, 6))
    plain = relax(net, x, y, 2000, 0.1, 1e-4, backtrack=False).energy
    assert plain[-1] > 10 * plain[0]
    guarded = relax(net, x, y, 2000, 0.1, 1e-4)
    assert guarded.rejected > 0 and guarded.energy[-1] < guarded.energy[0]
    assert (np.diff(guarded.energy) <= 0).all()


def test_learns_and_aligns_with_the_gradient():
    x, y = blobs(nonnegative=True)
    arch = Architecture(n_in=40, hidden=(32, 32), n_out=10)
    rule = get_rule("pc")(PCParams(lr_max=0.05, inference_steps=20, inference_rate=0.2), arch, batch_size=16)
    net, state = learner(rule)
    before = net.accuracy(x[2500:], y[2500:])
    train_epochs(rule, net, state, x, y, 2)
    after = net.accuracy(x[2500:], y[2500:])
    assert after > 0.9 and after > before + 0.5, (before, after)
    frozen = [w.copy() for w in net.W]
    deg, _ = measure_alignment(rule, net, x[:128], y[:128], {"lr": 0.05}, None, 16, state)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, net.W))  # delta leaves the model alone
    assert (deg < 30).all(), deg  # PC's own update at w = 1: close to, not equal to, the gradient


@pytest.mark.parametrize("kw,match", [
    (dict(inference_steps=0), "inference_steps must be >= 1"),
    (dict(inference_steps=-3), "inference_steps"),
    (dict(inference_rate=0.0), "inference_rate must be > 0"),
    (dict(inference_rate=1.5), "inference_rate must be <= 1"),
    (dict(output_weight=0.0), "output_weight"),
    (dict(optimizer="rmsprop"), "optimizer must be one of 'sgd', 'adam'"),
])
def test_bad_parameters_are_one_line_errors(kw, match):
    with pytest.raises(ConfigError, match=match) as err:
        PCParams(**kw)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("network", [{"activation": "topk"}, {"skip": "readout", "hidden": [8, 8]}])
def test_architecture_it_cannot_run_fails_at_load(network):
    raw = {"rule": {"name": "pc"}, "network": network}
    with pytest.raises(ConfigError, match="rule pc needs") as err:
        parse_config(raw, "bad")
    assert "\n" not in str(err.value)
