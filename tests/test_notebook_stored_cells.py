"""The cells of notebooks 03 and 06 that read the stored results (no simulation), run in the
default test group: the notebooks' full small-mode runs are in the `slow` group (CI's second
step, tests/test_notebooks.py), and their simulations are tested on their own elsewhere."""

from __future__ import annotations

import json

import matplotlib
import pytest

matplotlib.use("Agg")

from neuro_grlu import read_run  # noqa: E402
from neuro_grlu.results import stored  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_notebook_03_stored_distal_reward_cells():
    from neuro_grlu.plotting import fig_weights
    from neuro_grlu.spiking.experiments.distal_reward import markdown_table, summarize

    full, control = read_run(stored("distal-reward", "distal-reward.h5")), read_run(stored("distal-reward", "control.h5"))
    table = markdown_table({"distal-reward (stored)": summarize(full), "control (stored)": summarize(control)})
    assert "distal-reward (stored)" in table and "control (stored)" in table
    assert fig_weights(full, control=control) is not None
    assert full.plot("histogram", "dopamine")


def test_notebook_06_stored_cells():
    from neuro_grlu.definitions import load_raw
    from neuro_grlu.plotting import fig_stdp_window
    from neuro_grlu.reference import read_sjostrom
    from neuro_grlu.spiking.config import parse_spiking
    from neuro_grlu.spiking.experiments.sjostrom import goodness, pairing_times, triplet_reference
    from neuro_grlu.spiking.experiments.stdp_window import read_window
    from neuro_grlu.spiking.statistics import CORTEX, fig_statistics, run_statistics

    for name in ("stdp-window", "stdp-window-izhikevich2007"):
        stored_result, ref_lag, ref_dw = read_window(stored("stdp-window", f"{name}.h5"))
        assert fig_stdp_window(stored_result, ref_lag, ref_dw) is not None
    hour = run_statistics(read_run(stored("distal-reward", "distal-reward.h5")), t_start=3000.0, t_stop=3600.0)
    assert fig_statistics(hour, title="stored distal-reward run, 3000-3600 s") is not None
    for stats in hour.values():
        assert {"mean_rate_hz", "median_cv_isi", "median_fano", "mean_correlation"} <= set(stats)
    assert {"rate_hz", "cv_isi", "fano", "correlation"} <= set(CORTEX)
    assert stored("sjostrom", "table.md").read_text() and stored("sjostrom", "frequency.png").is_file()
    rows = read_sjostrom()
    raw, name = load_raw("stdp-triplet-nearest")
    p = parse_spiking(raw, name).plasticity
    ratios = [1.0 + triplet_reference(*pairing_times(r), p) for r in rows]
    g = goodness(ratios, rows)
    assert g["n_points"] == len(rows) and g["chi2"] >= 0
    assert stored("td-conditioning", "schultz.png").is_file()
    assert json.loads(stored("td-conditioning", "responses.json").read_text())["responses"]
