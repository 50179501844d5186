"""The patch cortex (issue 15, section 1): a convolutional front end whose filters a WTA Hebbian
learner shapes on the cortex's own classes, then frozen.

* its slow learner never receives a withheld class (recorded in a protocol run) and refuses one;
* one WTA Hebbian pass against its closed form (winner = best cosine, centre = renormalised sum of
  the patches it won, a centre that won nothing kept), and the objective never falls;
* the features against an explicit loop over positions (triangle code, max-pool regions), their
  shape and dtype, uint8 = float input, read-only centres;
* the untrained control keeps the random patches of the same draw; the random control reads no
  image (zero-mean, unit-length Gaussian centres, the same whatever the data);
* bad parameters are one-line errors before any work;
* a continual run file stores the centres; a run stopped in task 2 and resumed equals the
  uninterrupted one without shaping again; tampered centres are refused.
"""

from __future__ import annotations

import numpy as np
import pytest

from neuro_grlu.cls.config import parse_continual
from neuro_grlu.cls.patch import PatchCortex, PatchParams, sample_patches, shape_patch, wta_hebbian_pass
from neuro_grlu.errors import ConfigError, RunFileError
from _runfiles import datasets

HIPPO = {"learner": "prototype-hebbian", "prototypes_per_class": 2}
SMALL = {"centres": 8, "patch": 5, "pool": 2, "patch_images": 60, "patches_per_image": 5, "iterations": 3}


def continual(patch=None, **cortex):
    return parse_continual({"kind": "continual", "protocol": {"tasks": [[0, 1], [2, 3], [4, 5]], "validation": 100,
                                                              "evaluate": "validation", "fewshot": [1],
                                                              "fewshot_classes": [6, 7], "fewshot_repeats": 1},
                            "cortex": {"classes": [0, 1, 2, 3], **cortex, "patch": {**SMALL, **(patch or {})}},
                            "hippocampus": HIPPO})


class _Data:
    """Random 28 x 28 images; reading the test images fails (the runs score on the validation split)."""

    name = "fake"

    def __init__(self, n=400):
        rng = np.random.default_rng(0)
        self.x_train = (rng.random((n, 784)) < 0.2).astype(np.uint8) * 255
        self.y_train = np.arange(n) % 10

    @property
    def x_test(self):
        raise AssertionError("a validation run read the test images")

    y_test = x_test


def test_shaping_never_receives_withheld_classes(monkeypatch):
    from neuro_grlu.cls import experiment

    seen = []

    def recording(params, x, y, classes, **kw):
        seen.append((np.unique(y).tolist(), len(x)))
        return shape_patch(params, x, y, classes, **kw)

    monkeypatch.setattr(experiment, "shape_patch", recording)
    data = _Data()
    s = experiment.run_continual(continual(), data, log=lambda *a: None)
    assert seen == [([0, 1, 2, 3], 120)]  # the training part (300 images) of classes 0-3 only
    assert s["cortex"].classes == [0, 1, 2, 3] and s["uses"].startswith("cortex: its own classes' images (WTA Hebbian")
    with pytest.raises(ConfigError, match=r"given classes \[5\]"):
        shape_patch(PatchParams(**SMALL), data.x_train[:10], np.array([0] * 9 + [5]), [0, 1, 2, 3])


def test_wta_hebbian_pass_is_its_closed_form():
    rng = np.random.default_rng(1)
    x = np.abs(rng.standard_normal((200, 9))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    c = x[:5].copy()
    c[4] = -1 / 3  # negative cosine with every (positive) patch: wins nothing
    new, objective, empty = wta_hebbian_pass(c, x)
    win = [int(np.argmax([c[k] @ p for k in range(5)])) for p in x]
    for k in range(5):
        won = [p for p, w in zip(x, win) if w == k]
        want = np.sum(won, axis=0) / (np.linalg.norm(np.sum(won, axis=0)) + 1e-6) if won else c[k]
        np.testing.assert_allclose(new[k], want, atol=1e-6)
    assert empty == sum(k not in win for k in range(5)) >= 1
    np.testing.assert_allclose(objective, np.mean([c[w] @ p for p, w in zip(x, win)]), rtol=1e-5)
    # the objective (mean winning cosine) never falls over passes; shape_patch records it
    data = _Data()
    cortex = shape_patch(PatchParams(**{**SMALL, "iterations": 6}), data.x_train, data.y_train, range(10), seed=3)
    obj = [h["objective"] for h in cortex.history]
    assert len(obj) == 6 and all(b >= a - 1e-6 for a, b in zip(obj, obj[1:]))
    np.testing.assert_allclose(np.linalg.norm(cortex.centres, axis=1), 1.0, atol=1e-4)


def test_features_are_the_triangle_code_max_pooled_and_frozen():
    p = PatchParams(centres=4, patch=6, pool=3, contrast_floor=0.3)  # 23 x 23 map: regions 8, 7, 8 wide
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((4, 36)).astype(np.float32)
    centres -= centres.mean(1, keepdims=True)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    cortex = PatchCortex(p, centres)
    x = rng.integers(0, 256, (3, 784), dtype=np.uint8)
    f = cortex.features(x)
    assert f.shape == (3, 36) == (3, cortex.n_features) and f.dtype == np.float32 and (f >= 0).all()
    np.testing.assert_allclose(cortex.features(x.astype(np.float32) / 255), f, atol=1e-6)
    img = x[1].reshape(28, 28).astype(np.float64) / 255
    t = np.zeros((23, 23, 4))
    for i in range(23):
        for j in range(23):
            q = img[i : i + 6, j : j + 6].ravel()
            q = q - q.mean()
            r = centres @ q / (np.linalg.norm(q) + 0.3)
            t[i, j] = np.maximum(r - r.mean(), 0)
    edges = [0, 8, 15, 23]
    want = np.array([[t[edges[a] : edges[a + 1], edges[b] : edges[b + 1]].max(axis=(0, 1)) for b in range(3)]
                     for a in range(3)]).ravel()
    np.testing.assert_allclose(f[1], want, atol=1e-5)
    with pytest.raises(ValueError):
        cortex.centres[0, 0] = 1.0  # frozen
    assert cortex.state_dict()["centres"] is cortex.centres
    with pytest.raises(ConfigError, match="784 pixels"):
        cortex.features(np.zeros((2, 100), np.uint8))


def test_untrained_control_keeps_the_random_patches_of_the_same_draw():
    data = _Data()
    args = (data.x_train, data.y_train, range(10))
    untrained = shape_patch(PatchParams(**{**SMALL, "shape": "none"}), *args, seed=4)
    shaped = shape_patch(PatchParams(**SMALL), *args, seed=4)
    patches = sample_patches(PatchParams(**SMALL), data.x_train, np.random.default_rng([4, 5, 0]))
    assert untrained.history == [] and untrained.patches == shaped.patches == len(patches)
    assert all(np.isclose(patches @ c, 1.0, atol=1e-5).any() for c in untrained.centres)  # each centre is a patch
    c = untrained.centres
    for _ in range(SMALL["iterations"]):  # the shaped cortex starts where the control stays
        c = wta_hebbian_pass(c, patches)[0]
    np.testing.assert_allclose(shaped.centres, c, atol=1e-6)
    assert not np.allclose(shaped.centres, untrained.centres)


def test_random_control_reads_no_image():
    params = PatchParams(**{**SMALL, "shape": "random"})
    a = shape_patch(params, _Data().x_train, _Data().y_train, range(10), seed=4)
    b = shape_patch(params, np.zeros((0, 784), np.uint8), np.zeros(0, int), range(10), seed=4)
    np.testing.assert_array_equal(a.centres, b.centres)  # the same centres without any data
    assert a.patches == 0 and a.history == [] and a.centres.shape == (SMALL["centres"], 25)
    np.testing.assert_allclose(a.centres.sum(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(a.centres, axis=1), 1.0, atol=1e-5)
    c = shape_patch(params, np.zeros((0, 784), np.uint8), np.zeros(0, int), range(10), seed=5).centres
    assert not np.allclose(a.centres, c)  # the protocol seed varies the draw
    with pytest.raises(ConfigError, match="outside its classes"):  # the class check still holds
        shape_patch(params, _Data().x_train, _Data().y_train, [0, 1], seed=4)
    many = PatchParams(**{**SMALL, "shape": "random", "centres": 400})  # more centres than patches: none are drawn
    assert shape_patch(many, np.zeros((0, 784), np.uint8), np.zeros(0, int), range(10)).centres.shape == (400, 25)
    from neuro_grlu.cls.experiment import uses_of  # the tables declare that it used no data
    assert uses_of(continual({"shape": "random"})) == "cortex: none (Gaussian random filters, no data)"


def test_intrinsic_plasticity_standardises_each_feature_on_the_cortexs_own_classes():
    """Intrinsic plasticity (``intrinsic = true``): each feature's offset and gain are its mean and
    1 / standard deviation over the images the slow phase receives (its own classes only), then
    frozen: on those images every feature has mean 0 and sd 1; any image is mapped by the same
    affine map of the raw code; a feature silent on them gets the bounded gain."""
    from neuro_grlu.cls.patch import MIN_SD_FRACTION, intrinsic_statistics

    data = _Data()
    own = data.y_train < 4
    x, y = data.x_train[own], data.y_train[own]
    for shape in ("random", "wta-hebbian"):
        plain = shape_patch(PatchParams(**{**SMALL, "shape": shape}), x, y, [0, 1, 2, 3], seed=2)
        adapted = shape_patch(PatchParams(**{**SMALL, "shape": shape, "intrinsic": True}), x, y, [0, 1, 2, 3], seed=2)
        np.testing.assert_array_equal(adapted.centres, plain.centres)  # the filters are untouched
        raw = plain.features(x).astype(np.float64)
        np.testing.assert_allclose(adapted.offset, raw.mean(axis=0), rtol=1e-5, atol=1e-6)
        f = adapted.features(x)
        np.testing.assert_allclose(f.mean(axis=0), 0.0, atol=1e-4)
        np.testing.assert_allclose(f.std(axis=0), 1.0, atol=1e-3)
        other = data.x_train[~own]  # new images: the same frozen affine map of the raw code
        np.testing.assert_allclose(adapted.features(other), (plain.features(other) - adapted.offset) * adapted.gain,
                                   rtol=1e-5, atol=1e-5)
        assert adapted.state_dict().keys() == {"centres", "offset", "gain"} and plain.offset is None
    with pytest.raises(ConfigError, match="outside its classes"):  # still only its own classes
        shape_patch(PatchParams(**{**SMALL, "shape": "random", "intrinsic": True}), data.x_train, data.y_train, [0, 1])
    with pytest.raises(ConfigError, match="needs images of the cortex's classes"):
        shape_patch(PatchParams(**{**SMALL, "shape": "random", "intrinsic": True}), np.zeros((0, 784), np.uint8),
                    np.zeros(0, int), [0])
    # a feature silent on the cortex's images gets the bounded gain; all features silent is an error
    from neuro_grlu.cls import patch as patch_mod

    n = plain.n_features
    sd = np.linspace(0.5, 1.5, n)
    sd[0] = 0.0
    with pytest.MonkeyPatch.context() as m:
        m.setattr(patch_mod, "intrinsic_statistics", lambda cortex, x: (np.zeros(n), sd))
        g = shape_patch(PatchParams(**{**SMALL, "shape": "random", "intrinsic": True}), x, y, [0, 1, 2, 3]).gain
        np.testing.assert_allclose(g[0], 1.0 / (MIN_SD_FRACTION * np.median(sd)), rtol=1e-6)
        np.testing.assert_allclose(g[1:], 1.0 / sd[1:], rtol=1e-6)
        m.setattr(patch_mod, "intrinsic_statistics", lambda cortex, x: (np.zeros(n), np.zeros(n)))
        with pytest.raises(ConfigError, match="do not vary") as e:
            shape_patch(PatchParams(**{**SMALL, "shape": "random", "intrinsic": True}), x, y, [0, 1, 2, 3])
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("patch, cortex, message", [
    ({"no_such_key": 1}, {}, "unknown key 'no_such_key'"),
    ({"centres": 0}, {}, "centres must be >= 1"),
    ({"shape": "kmeans"}, {}, "shape must be one of 'wta-hebbian', 'none', 'random'"),
    ({"patch": 1}, {}, "patch must be >= 2"),
    ({"patch": 20, "pool": 10}, {}, "pool = 10 is larger than the response map (9 x 9"),
    ({"centres": 400}, {}, "centres = 400 is more than the patches drawn"),
    ({"contrast_floor": -1}, {}, "contrast_floor must be >= 0.0"),
    ({"intrinsic": "yes"}, {}, "intrinsic"),
    ({}, {"epochs": 3}, "a patch cortex takes [cortex] classes/train_limit and [cortex.patch]; remove epochs"),
    ({}, {"localized": {}}, "one of [cortex.localized] and [cortex.patch]"),
    ({}, {"classes": []}, "cortex.classes is empty"),
])
def test_bad_parameters_are_one_line_errors(patch, cortex, message):
    with pytest.raises(ConfigError) as e:
        continual(patch, **cortex)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_too_few_patches_is_a_one_line_error_before_learning():
    blank = np.zeros((20, 784), np.uint8)
    with pytest.raises(ConfigError, match="only 0 non-blank patches") as e:
        shape_patch(PatchParams(**SMALL), blank, np.zeros(20, int), [0])
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("intrinsic", [False, True])
def test_run_file_round_trip_and_resume(tiny_mnist, tmp_path, monkeypatch, intrinsic):
    from neuro_grlu.cls import experiment
    from neuro_grlu.cls.hippocampus import PrototypeHebbian
    from neuro_grlu.data import load_idx_dir
    from neuro_grlu.io import read_run

    data = load_idx_dir(tiny_mnist, name="tiny", md5=None)
    cfg = parse_continual({"kind": "continual", "protocol": {"tasks": [[0, 1], [2, 3], [4, 5]], "test_limit": 100,
                                                             "fewshot": [1], "fewshot_classes": [6, 7],
                                                             "fewshot_repeats": 1},
                           "cortex": {"classes": [0, 1, 2, 3], "patch": {**SMALL, "intrinsic": intrinsic}},
                           "hippocampus": HIPPO})

    def run(out, **kw):
        return experiment.run_continual(cfg, data, out=str(out), log=lambda *a: None, **kw)

    full, part = tmp_path / "full.h5", tmp_path / "part.h5"
    reference = run(full)
    w = datasets(full, "weights")
    np.testing.assert_array_equal(w["cortex_centres"], reference["cortex"].centres)
    if intrinsic:  # the offset and gain are stored with the centres (and restored on resume, below)
        np.testing.assert_array_equal(w["cortex_offset"], reference["cortex"].offset)
        np.testing.assert_array_equal(w["cortex_gain"], reference["cortex"].gain)
    else:
        assert "cortex_offset" not in w and reference["cortex"].offset is None
    assert len(datasets(full, "arrays")["cortex_wta_objective"]) == SMALL["iterations"]
    original, calls = PrototypeHebbian.fit_online, [0]

    def stop_in_task_2(self, features, labels, rng=None):
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return original(self, features, labels, rng)

    with monkeypatch.context() as m:
        m.setattr(PrototypeHebbian, "fit_online", stop_in_task_2)
        with pytest.raises(KeyboardInterrupt):
            run(part)
    assert read_run(part).epochs_completed == 1

    def not_again(*a, **k):
        raise AssertionError("the cortex was shaped again")

    with monkeypatch.context() as m:
        m.setattr(experiment, "shape_patch", not_again)
        resumed = run(part, resume=True)
    for group in ("weights", "arrays"):
        a, b = datasets(full, group), datasets(part, group)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a), group
    assert np.array_equal(resumed["accuracy_matrix_class"], reference["accuracy_matrix_class"], equal_nan=True)
    assert resumed["cortex"].history == reference["cortex"].history
    if intrinsic:
        np.testing.assert_array_equal(resumed["cortex"].gain, reference["cortex"].gain)
    # a run file whose centres do not fit the definition is refused
    import h5py

    bad = tmp_path / "bad.h5"
    with monkeypatch.context() as m:
        m.setattr(PrototypeHebbian, "fit_online", stop_in_task_2)
        calls[0] = 0
        with pytest.raises(KeyboardInterrupt):
            run(bad)
    with h5py.File(bad, "r+") as f:
        name = [n for n in _names(f) if n.endswith("cortex_centres")][0]
        data_ = f[name][()]
        del f[name]
        f[name] = data_[:, :-1]
    with pytest.raises(RunFileError, match="patch cortex does not fit") as e:
        run(bad, resume=True)
    assert "\n" not in str(e.value)


def _names(f):
    out = []
    f.visititems(lambda n, o: out.append(n) if hasattr(o, "shape") else None)
    return out
