"""Every registered rate rule through the same checks (the executable form of docs/rule-interface.md).

For each rule in :data:`neuro_grlu.rules.RULES` (plus a few variants that exercise other
state: GRLU's numpy backend, momentum, SGD optimisers) on a tiny network:

* shapes: ``step`` returns one finite float64 reward per example; the weights keep their shapes;
* determinism: the same seeds give bit-identical weights, rewards and learner state;
* ``delta`` (where defined) changes neither the network nor the learner state;
* parameters and learner state round-trip through a run file (:class:`~neuro_grlu.io.RunWriter`);
* resume equivalence: train, save, rebuild from the file, train on — bit-identical to not stopping.
"""

from __future__ import annotations

import numpy as np
import pytest

from neuro_grlu.io import RunWriter, read_learner_state, read_run
from neuro_grlu.network import Architecture
from neuro_grlu.params import from_dict
from neuro_grlu.rules import RULES, get_rule, init_learner, train_chunk
from neuro_grlu.rules.state import flatten, restore, states_equal

#: Small settings so every rule runs in well under a second (merged over the rule's defaults).
SMALL = {
    "es": {"pairs": 2},
    "eki": {"ensemble": 5},
    "noprop": {"blocks": 3, "z_width": 4},
    "ff": {"goodness_from": 1},
}
#: Variants beyond the defaults: other backends and optimisers keep other state.
VARIANTS = [
    ("grlu", {"backend": "numpy", "pairs": 2}),
    ("grlu", {"backend": "tiled"}),
    ("grlu", {"noise_at": "input", "decorrelate": "antihebbian", "decorrelate_lr": 1e-4}),
    ("dfa", {"decorrelate": "antihebbian", "decorrelate_lr": 1e-4}),
    ("grlu", {"rng": "philox", "pairs": 3}),
    ("backprop", {"momentum": 0.9, "weight_decay": 0.01}),
    ("fa", {"momentum": 0.5}),
    ("es", {"pairs": 2, "optimizer": "sgd"}),
    ("ff", {"goodness_from": 1, "optimizer": "sgd", "negatives": "random"}),
    ("rm-hebbian", {"features": "sanger"}),
    ("noprop", {"blocks": 2, "z_width": 4, "shift_pixels": 1}),
    ("pc", {"optimizer": "adam", "weight_decay": 0.01}),
    ("pc", {"momentum": 0.0}),
    ("eqprop", {"optimizer": "adam", "nudging": "positive"}),
    ("eqprop", {"momentum": 0.0, "weight_decay": 0.01}),
]
CASES = [(name, SMALL.get(name, {})) for name in sorted(RULES)] + VARIANTS
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CASES]

N_IN, N_OUT, BATCH, CHUNK = 16, 4, 4, 12  # 16 = a 4x4 image, for shift augmentation


def make_rule(name, kw):
    cls = get_rule(name)
    arch = Architecture(n_in=N_IN, hidden=(8,), n_out=N_OUT)
    return cls(from_dict(cls.Params, dict(kw), f"rule ({name})"), arch, batch_size=BATCH)


def fresh(rule, seed=0):
    """``(model, state)`` from seed-derived init and noise streams, as the training loop does."""
    init_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return init_learner(rule, init_rng, noise_rng)


def data(seed=3, n=2 * CHUNK):
    rng = np.random.default_rng(seed)
    return rng.random((n, N_IN), dtype=np.float32), rng.integers(0, N_OUT, n)


def hyper(rule):
    return rule.hyper(0, 2)


def run_chunks(rule, model, state, x, y, chunks):
    rewards = []
    for c in chunks:
        sl = slice(c * CHUNK, (c + 1) * CHUNK)
        state, r = train_chunk(rule, model, state, x[sl], y[sl], hyper(rule))
        rewards.append(r)
    return state, np.concatenate(rewards)


def weights_of(rule, model):
    return {**{k: np.array(v) for k, v in model.state_dict().items()},
            **{f"extra/{k}": np.array(v) for k, v in rule.model_arrays(model).items()}}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


@pytest.fixture(params=CASES, ids=IDS)
def case(request):
    name, kw = request.param
    return make_rule(name, kw)


def test_shapes_and_rewards(case):
    rule = case
    model, state = fresh(rule)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    x, y = data()
    state2, metrics = rule.step(model, state, x[:BATCH], y[:BATCH], hyper(rule))
    r = metrics["reward"]
    assert r.shape == (BATCH,) and r.dtype == np.float64 and np.isfinite(r).all()
    state2, r = train_chunk(rule, model, state2, x[:CHUNK], y[:CHUNK], hyper(rule))
    assert r.shape == (CHUNK,) and r.dtype == np.float64 and np.isfinite(r).all()
    assert {k: v.shape for k, v in model.state_dict().items()} == shapes
    assert rule.chunk_size % rule.batch_size == 0 and rule.chunk_size >= CHUNK
    arrays, tree = flatten(state2)  # every state can be saved
    assert "rng" in tree and all(isinstance(a, np.ndarray) for a in arrays.values())
    state2.close()


def test_same_seed_is_bit_identical_and_training_changes_the_model(case):
    rule = case
    x, y = data()
    out = []
    for _ in range(2):
        model, state = fresh(rule)
        before = weights_of(rule, model)
        state, r = run_chunks(rule, model, state, x, y, [0, 1])
        out.append((before, weights_of(rule, model), r, state))
        state.close()
    (b0, w0, r0, s0), (b1, w1, r1, s1) = out
    assert_same_weights(w0, w1)
    assert r0.tobytes() == r1.tobytes()
    assert states_equal(s0, s1)
    assert any(not np.array_equal(b0[k], w0[k]) for k in b0), "training did not change the model"
    model, state = fresh(rule, seed=1)
    state, _ = run_chunks(rule, model, state, x, y, [0, 1])
    assert any(not np.array_equal(w0[k], v) for k, v in weights_of(rule, model).items()), "the seed is ignored"
    state.close()


def test_delta_changes_neither_network_nor_state(case):
    rule = case
    x, y = data()
    model, state = fresh(rule)
    state, _ = run_chunks(rule, model, state, x, y, [0])
    w_before = weights_of(rule, model)
    s_arrays, s_tree = flatten(state)
    s_arrays = {k: v.copy() for k, v in s_arrays.items()}
    d = rule.delta(model, state, x[:BATCH], y[:BATCH], hyper(rule), np.random.default_rng(9))
    assert_same_weights(w_before, weights_of(rule, model))
    a2, t2 = flatten(state)
    assert t2 == s_tree and all(np.array_equal(a2[k], s_arrays[k]) for k in s_arrays)
    if d is not None:
        assert [(dw.shape, db.shape) for dw, db in d] == [(w.shape, b.shape) for w, b in zip(model.W, model.b)]
        assert all(np.isfinite(dw).all() and np.isfinite(db).all() for dw, db in d)
    state.close()


def test_parameters_and_state_round_trip_through_a_run_file(case, tmp_path):
    rule = case
    x, y = data()
    model, state = fresh(rule)
    state, _ = run_chunks(rule, model, state, x, y, [0])
    arrays, tree = flatten(state)
    path = tmp_path / "run.h5"
    config = {"rule": {"name": rule.name, **rule.params.to_dict()}}
    w = RunWriter(path, config=config, seed=0, model="conformance", epochs_planned=2)
    w.append_epoch({"reward": 0.0}, weights=model.state_dict(), learner_state=(arrays, tree))
    run = read_run(path)
    assert from_dict(type(rule.params), {k: v for k, v in run.config["rule"].items() if k != "name"},
                     "rule") == rule.params
    saved_arrays, saved_tree = read_learner_state(path)
    _, other = fresh(rule, seed=5)  # a state with other values, same structure
    restored = restore(other, saved_arrays, saved_tree)
    assert states_equal(restored, state)
    state.close()
    restored.close()


def test_resume_from_a_run_file_is_bit_identical(case, tmp_path):
    rule = case
    x, y = data()
    model, state = fresh(rule)
    state, r_full = run_chunks(rule, model, state, x, y, [0, 1])
    expected = weights_of(rule, model)
    state.close()

    model, state = fresh(rule)
    state, r_first = run_chunks(rule, model, state, x, y, [0])
    arrays, tree = flatten(state)
    extra = rule.model_arrays(model)
    path = tmp_path / "run.h5"
    w = RunWriter(path, config={}, seed=0, model="conformance", epochs_planned=2)
    w.append_epoch({"reward": 0.0}, weights=model.state_dict(),
                   learner_state=({**{f"rule/{k}": v for k, v in arrays.items()},
                                   **{f"model/{k}": v for k, v in extra.items()}}, tree))
    state.close()
    del model, state

    model, state = fresh(rule, seed=7)  # other values everywhere; the file must restore all of them
    saved, saved_tree = read_learner_state(path)
    rule.load_model(model, read_run(path).weights,
                    {k[len("model/"):]: v for k, v in saved.items() if k.startswith("model/")})
    state = restore(state, {k[len("rule/"):]: v for k, v in saved.items() if k.startswith("rule/")}, saved_tree)
    state, r_second = run_chunks(rule, model, state, x, y, [1])
    assert_same_weights(expected, weights_of(rule, model))
    assert np.concatenate([r_first, r_second]).tobytes() == r_full.tobytes()
    state.close()
