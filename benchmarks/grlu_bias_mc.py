"""Per-layer bias of GRLU's expected update, by Monte Carlo (issue 17, item 2).

    python benchmarks/grlu_bias_mc.py   ->  benchmarks/results/grlu-beyond/bias-mc.json

The network and the estimator of tests/test_grlu.py::test_expected_update_per_layer_input_noise_unbiased_output_noise_biased
(16-24-4 ReLU, hidden biases lowered so that most hidden units are off, 3 examples, σ = 0.01,
100,000 antithetic pairs per example): the cosine of each layer's expected update with the true
gradient, and its norm ratio, for noise after the activation (published) and before it.
"""

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import test_grlu as T  # noqa: E402


def main() -> int:
    arch, net, rng = T.make(dict(hidden=(24,), activation="relu"), seed=5, n_in=16, n_out=4)
    net.b[0][:] -= np.float32(0.3)
    x = rng.random((3, arch.n_in)).astype(np.float32)
    y = np.array([0, 2, 3])
    ref = T._relu_net_gradients(net, x, y)
    inactive = float(np.mean([(net.W[0].astype(np.float64) @ ((xi - xi.mean()) / xi.std()) + net.b[0] <= 0).mean() for xi in x]))
    out = {"command": "python benchmarks/grlu_bias_mc.py", "hidden_units_inactive": inactive, "sigma": 0.01,
           "pairs_per_example": 100_000, "layers": ["W0", "b0", "W1", "b1"]}
    for noise_at in ("output", "input"):
        est = T._expected_update(net, x, y, 0.01, noise_at)
        out[noise_at] = {
            "cosine_with_true_gradient": [T.cosine(e.ravel(), t.ravel()) for e, t in zip(est, ref["true"])],
            "norm_ratio": [float(np.linalg.norm(e) / np.linalg.norm(t)) for e, t in zip(est, ref["true"])],
            "cosine_with_dr_dh_x (hidden)": [T.cosine(e.ravel(), t.ravel()) for e, t in zip(est[:2], ref["no_relu_derivative"])],
        }
    dest = ROOT / "benchmarks" / "results" / "grlu-beyond" / "bias-mc.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
