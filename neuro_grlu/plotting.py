"""Figures drawn from run files, one set per run kind.

Every ``fig_*`` function returns a :class:`matplotlib.figure.Figure` built without pyplot,
so nothing here selects a backend: the same code saves PNGs on a headless machine and
shows inline in a notebook. :func:`figures` picks what suits a run's kind
(:data:`FIGURES`), :func:`plot_runs` writes them as PNGs (``neuro-grlu plot``), and
``Run.plot()`` calls :func:`figures` for one run.

========== ============= ============================================================
run kind   figure        content
========== ============= ============================================================
rate       curves        test/train accuracy (%), training reward (nat) and gradient
                         alignment (degree) against epoch; several runs overlaid
rate       alignment     gradient alignment alone (degree per weight layer)
spiking    raster        spikes (neuron index against time, s) in the first and the
                         last excerpt, populations marked
spiking    weights       chosen synapse and tracked synapses (mV) with rewards, and the
                         chosen synapse's eligibility trace, against time (s)
spiking    histogram     weight distribution of all plastic synapses over time (counts
                         per bin, log colour) and at start vs end
spiking    dopamine      dopamine concentration against time (s), rewards marked
continual  matrix        accuracy matrix (%) after each task on every task, class- and
                         task-incremental, with average accuracy and forgetting
continual  forgetting    forgetting per task (percentage points); several runs side by side
continual  fewshot       accuracy (%) on the new classes against examples per class
                         (mean ± s.d. over draws); several runs overlaid
stdp-window window       weight change (%) against spike timing (ms), model vs
                         Bi & Poo (1998) with exponential fits
========== ============= ============================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .errors import NeuroGRLUError, RunFileError
from .io import Run

LAYER_STYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (1, 3)), (0, (3, 1, 1, 1, 1, 1)))


def __getattr__(name):
    # ``from neuro_grlu.plotting import plt`` (benchmark scripts): pyplot on the Agg backend,
    # imported only when asked for, so importing this module never picks a backend.
    if name == "plt":
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        return plt
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _save(fig: Figure, out) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out


# ------------------------------------------------------------------------------ rate runs

def fig_learning_curves(runs: list[Run], title: str | None = None) -> Figure:
    """Train/test accuracy (%) and mean training reward against epoch, one line per run;
    a third panel with the gradient alignment when any run recorded it."""
    with_alignment = any("alignment_deg" in run.arrays for run in runs)
    ncols = 3 if with_alignment else 2
    fig = Figure(figsize=(5 * ncols, 4), layout="constrained")
    axes = fig.subplots(1, ncols)
    ax_acc, ax_rew = axes[0], axes[1]
    for run in runs:
        m = run.metrics
        epochs = range(1, run.epochs_completed + 1)
        label = run.model + ("" if run.complete else " (incomplete)")
        line, = ax_acc.plot(epochs, 100 * m["test_accuracy"], marker="o", ms=3, label=f"{label} test")
        if "train_accuracy" in m:
            ax_acc.plot(epochs, 100 * m["train_accuracy"], ls="--", color=line.get_color(), label=f"{label} train")
        if "validation_accuracy" in m:
            ax_acc.plot(epochs, 100 * m["validation_accuracy"], ls=":", color=line.get_color(),
                        label=f"{label} validation")
        if "mean_reward" in m:
            ax_rew.plot(epochs, m["mean_reward"], marker="o", ms=3, color=line.get_color(), label=label)
        if with_alignment and "alignment_deg" in run.arrays:
            plot_alignment(axes[2], run, color=line.get_color(), label=run.model)
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax_rew.set(xlabel="epoch", ylabel="mean reward, log p(true class) (nat)", title="training reward")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def plot_learning_curves(runs: list[Run], out: str | Path, title: str | None = None) -> Path:
    """:func:`fig_learning_curves` saved as a PNG at `out`; returns the path."""
    return _save(fig_learning_curves(runs, title), out)


def plot_alignment(ax, run: Run, color=None, label: str | None = None) -> None:
    """Angle (degrees) between the rule's update and the true gradient, per weight layer,
    against training progress in epochs (``alignment_samples`` / training-set size)."""
    deg = run.arrays["alignment_deg"]
    samples = run.arrays["alignment_samples"].astype(float)
    n_train = run.config.get("data", {}).get("train_limit") or 60000
    per_epoch = samples[-1] / max(run.epochs_completed, 1) if run.epochs_completed and samples[-1] else n_train
    x = samples / per_epoch
    for layer in range(deg.shape[1]):
        name = "output" if layer == deg.shape[1] - 1 else f"hidden {layer + 1}"
        ax.plot(x, deg[:, layer], ls=LAYER_STYLES[layer % len(LAYER_STYLES)], color=color, marker=".", ms=3,
                label=f"{label} {name}" if label else name)
    ax.axhline(90, color="0.6", lw=0.8)
    ax.set(xlabel="epoch", ylabel="angle to the true gradient (degree)", ylim=(0, 100),
           title="gradient alignment (0° = gradient, 90° = random)")


def fig_alignment(runs: list[Run]) -> Figure:
    """Gradient alignment of one or more rate runs (degree per weight layer against epoch)."""
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    for i, run in enumerate(r for r in runs if "alignment_deg" in r.arrays):
        plot_alignment(ax, run, color=f"C{i}", label=run.model)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


# ------------------------------------------------------------------------------ spiking runs

def population_ranges(run: Run) -> dict[str, tuple[int, int]]:
    """Neuron index range ``[start, stop)`` of each simulated population (spike sources excluded),
    in the order the network numbers them (``spike_i`` indexes this range)."""
    out, start = {}, 0
    for name, pop in run.config.get("populations", {}).items():
        if pop.get("model") in ("poisson", "generator"):
            continue
        out[name] = (start, start + int(pop["n"]))
        start += int(pop["n"])
    return out


def _duration(run: Run) -> float:
    if run.epochs_completed and "time_s" in run.metrics:
        return float(run.metrics["time_s"][-1])
    return float(run.config.get("simulation", {}).get("duration_s", 0.0))


def fig_raster(run: Run, excerpt_s: float | None = None) -> Figure:
    """Spike raster (neuron index against time in s) of the first and the last `excerpt_s`
    (default ``recording.raster_excerpt_s``, else 1 s); one panel if the run is that short."""
    st, si = run.arrays["spike_t"], run.arrays["spike_i"]
    end = _duration(run) or (float(st.max()) if len(st) else 1.0)
    length = excerpt_s or run.config.get("recording", {}).get("raster_excerpt_s") or 1.0
    length = min(float(length), end)
    windows = [(0.0, length)] if end <= 2 * length else [(0.0, length), (end - length, end)]
    fig = Figure(figsize=(5.5 * len(windows), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(windows), sharey=True))
    ranges = population_ranges(run)
    for ax, (lo, hi) in zip(axes, windows):
        sel = (st >= lo) & (st < hi)
        for k, (name, (a, b)) in enumerate(ranges.items()):
            pop = sel & (si >= a) & (si < b)
            ax.plot(st[pop], si[pop], ".", ms=1.5, color=f"C{k}", label=f"{name} ({a}-{b - 1})")
        ax.set_xlim(lo, hi)
        ax.set_xlabel("time (s)")
        ax.set_title(f"{lo:g}-{hi:g} s")
    axes[0].set_ylabel("neuron index")
    if ranges:
        axes[0].set_ylim(-0.5, max(b for _, b in ranges.values()) - 0.5)
        axes[-1].legend(fontsize=7, loc="upper right", markerscale=6)
    fig.suptitle(f"{run.model}: spikes (seed {run.seed})")
    return fig


def fig_weights(run: Run, control: Run | None = None) -> Figure:
    """Weight of the chosen (rewarded) synapse and the tracked others (mV) against time (s),
    rewards marked, the control run's chosen synapse if given; below, its eligibility trace."""
    w_max = run.config["plasticity"]["w_max"]
    t, w = run.arrays["state_t"], run.arrays["tracked_w"]
    c = run.arrays.get("tracked_c")
    rewards = run.arrays.get("reward_t", np.zeros(0))
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    if c is not None:
        ax, axc = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        ax, axc = fig.subplots(), None
    ax.plot(t, w[:, 0], color="C0", lw=1.2, label="chosen synapse (rewarded)")
    for k in range(1, w.shape[1]):
        ax.plot(t, w[:, k], color="0.6", lw=0.5, label="other synapses (random sample)" if k == 1 else None)
    if control is not None:
        ax.plot(control.arrays["state_t"], control.arrays["tracked_w"][:, 0], color="C3", lw=1.0,
                label="chosen synapse, control (no reward)")
    ax.plot(rewards, np.full(len(rewards), -0.12 * w_max), "|", color="C2", ms=6, label="rewards")
    ax.set_ylim(-0.2 * w_max, 1.05 * w_max)
    ax.set_ylabel("synaptic weight (mV)")
    ax.legend(loc="center right", fontsize=8)
    ax.set_title(f"{run.model}: chosen synapse (seed {run.seed})")
    if axc is not None:
        axc.plot(t, c[:, 0], color="C1", lw=0.6)
        axc.set_ylabel("eligibility c (a.u.)")
        axc.set_xlabel("time (s)")
    else:
        ax.set_xlabel("time (s)")
    return fig


def fig_weight_histograms(run: Run) -> Figure:
    """Weights of all plastic synapses: the histogram at the start of every chunk and at the
    end as an image (time in s against weight in mV, log colour), and start vs end overlaid
    with the chosen synapse marked."""
    edges = run.arrays["w_hist_edges"]
    w0, w1 = run.weights["w_initial"], run.weights["w_final"]
    hist = np.vstack([run.arrays["w_hist"], np.histogram(w1, bins=edges)[0][None, :]]).astype(float)
    chunk = run.config.get("simulation", {}).get("chunk_s", 1.0)
    times = np.arange(len(hist) + 1) * chunk - chunk / 2  # row k: weights at k * chunk_s
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_t, ax_h = fig.subplots(1, 2, width_ratios=[1.4, 1])
    image = ax_t.pcolormesh(times, edges, np.ma.masked_equal(hist, 0).T, cmap="viridis",
                            norm="log", shading="flat")
    fig.colorbar(image, ax=ax_t, label="synapses per bin")
    ax_t.set(xlabel="time (s)", ylabel="synaptic weight (mV)", xlim=(0, max(_duration(run), chunk / 2)),
             title=f"weight distribution, snapshots every {chunk:g} s")
    ax_h.hist(w0, bins=edges, histtype="step", color="0.5", label="start")
    ax_h.hist(w1, bins=edges, histtype="stepfilled", alpha=0.5, color="C0", label=f"end ({_duration(run):g} s)")
    if "tracked_synapses" in run.arrays and run.config.get("reward", {}).get("projection"):
        chosen = int(run.arrays["tracked_synapses"][0])
        ax_h.plot([w1[chosen]], [1], "v", color="C3", ms=10, label=f"chosen synapse at end ({w1[chosen]:.2f} mV)")
    ax_h.set_yscale("log")
    ax_h.set(xlabel="synaptic weight (mV)", ylabel="synapses", title="start vs end")
    ax_h.legend(fontsize=8)
    return fig


def fig_dopamine(run: Run, window_s: float = 60.0) -> Figure:
    """Dopamine concentration (µM, the scale of Izhikevich 2007) over `window_s` seconds
    starting 5 s before the first reward (or at 0 s), rewards marked."""
    t, d = run.arrays["state_t"], run.arrays["dopamine"]
    rewards = run.arrays.get("reward_t", np.zeros(0))
    lo = max(0.0, float(rewards[0]) - 5.0) if len(rewards) else 0.0
    sel = (t >= lo) & (t < lo + window_s)
    fig = Figure(figsize=(9, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(t[sel], d[sel], color="C2", lw=0.8, label="dopamine d")
    rs = rewards[(rewards >= lo) & (rewards < lo + window_s)]
    ax.plot(rs, np.zeros(len(rs)), "x", color="C3", label="reward (dopamine release)")
    tonic = run.config.get("dopamine", {}).get("tonic")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("dopamine d (µM)")
    ax.set_title("dopamine concentration (tonic level + decaying releases)"
                 + (f"; tonic input {tonic:g} µM/s" if tonic is not None else ""))
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------------------ continual runs

def _task_labels(run: Run) -> list[str]:
    tasks = run.arrays.get("tasks")
    if tasks is None:
        n = run.arrays["accuracy_matrix_class"].shape[1]
        return [f"task {i + 1}" for i in range(n)]
    return [",".join(str(c) for c in row if c >= 0) for row in tasks]


def fig_accuracy_matrix(run: Run) -> Figure:
    """Accuracy (%) on every task (columns) after learning each task (rows), class- and
    task-incremental; the titles give the final average accuracy and mean forgetting."""
    labels = _task_labels(run)
    fig = Figure(figsize=(10, 4.3), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, scen, name in zip(axes, ("class", "task"), ("class-incremental", "task-incremental")):
        A = 100 * run.arrays[f"accuracy_matrix_{scen}"]
        T = A.shape[0]
        image = ax.imshow(np.ma.masked_invalid(A), vmin=0, vmax=100, cmap="viridis")
        for i in range(T):
            for j in range(A.shape[1]):
                if np.isfinite(A[i, j]):
                    ax.text(j, i, f"{A[i, j]:.0f}", ha="center", va="center", fontsize=8,
                            color="w" if A[i, j] < 60 else "k")
        ax.set_xticks(range(A.shape[1]), labels, fontsize=8)
        ax.set_yticks(range(T), labels[:T], fontsize=8)
        ax.set_xlabel("evaluated on task (classes)")
        ax.set_ylabel("after learning task (classes)")
        done = np.flatnonzero(np.isfinite(A).all(axis=1))
        last = done[-1] if len(done) else None
        avg = f"{np.mean(A[last, :last + 1]):.1f}%" if last is not None else "-"
        f = 100 * run.arrays.get(f"forgetting_{scen}", np.full(T, np.nan))
        forget = f"{np.nanmean(f):.1f} pp" if np.isfinite(f).any() else "-"
        ax.set_title(f"{name}\naverage {avg}, mean forgetting {forget}", fontsize=9)
    fig.colorbar(image, ax=axes, label="test accuracy (%)", shrink=0.8)
    fig.suptitle(f"{run.model}: accuracy matrix")
    return fig


def fig_forgetting(runs: list[Run]) -> Figure:
    """Forgetting per task (best earlier accuracy minus final accuracy, percentage points),
    class- and task-incremental, one bar group per run (the last task has none)."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    width = 0.8 / max(len(runs), 1)
    for ax, scen in zip(axes, ("class", "task")):
        for k, run in enumerate(runs):
            f = 100 * run.arrays[f"forgetting_{scen}"]
            x = np.arange(len(f)) + (k - (len(runs) - 1) / 2) * width
            ax.bar(x, np.nan_to_num(f), width=width, color=f"C{k}", label=run.model)
        ax.set_xticks(range(len(_task_labels(runs[0]))), _task_labels(runs[0]), fontsize=8)
        ax.set(xlabel="task (classes)", title=f"{scen}-incremental")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("forgetting (percentage points)")
    axes[-1].legend(fontsize=7)
    return fig


def fig_fewshot(runs: list[Run]) -> Figure:
    """Few-shot accuracy (%) on the new classes against examples per class (log axis),
    mean ± s.d. over the independent draws, one line per run; chance level dashed."""
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    n_new = None
    for k, run in enumerate(runs):
        shots = run.arrays["fewshot_shots"]
        acc = 100 * np.atleast_2d(run.arrays["fewshot_accuracy"])
        ax.errorbar(shots, acc.mean(axis=0), yerr=acc.std(axis=0) if len(acc) > 1 else None, marker="o",
                    ms=4, capsize=3, color=f"C{k}", label=f"{run.model} ({len(acc)} draws)")
        n_new = len(run.config.get("protocol", {}).get("fewshot_classes", ())) or n_new
    if n_new:
        ax.axhline(100 / n_new, color="0.5", ls="--", lw=0.8, label=f"chance ({n_new} new classes)")
    ax.set_xscale("log")
    ax.set(xlabel="training examples per new class", ylabel="test accuracy on the new classes (%)",
           ylim=(0, 100), title="few-shot learning of new classes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


# ------------------------------------------------------------------------------ STDP window

def fig_stdp_window(result: dict, ref_lag=None, ref_dw=None) -> Figure:
    """The simulated STDP window (weight change in % against t_post - t_pre in ms) over the
    reference points (default: Bi & Poo 1998, ``data/bi_poo_1998.csv``), with both fits."""
    if ref_lag is None or ref_dw is None:
        from .spiking.experiments.stdp_window import read_reference

        ref_lag, ref_dw = read_reference()
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.plot(ref_lag, ref_dw, "s", mfc="none", color="0.4", label="Bi & Poo (1998), reconstructed from published fit")
    lag = np.asarray(result["lags_ms"])
    ax.plot(lag, result["dw_percent"], "o", color="C0", ms=4,
            label=f"model, {result['n_pairs']} pairs at {result['pair_rate_hz']:g} Hz")
    s = np.linspace(-100, 100, 801)
    for fit, color, label in ((result["fit"], "C0", "fit to model"), (result["data_fit"], "0.4", "fit to reference")):
        y = np.where(s > 0, fit["a_plus"] * np.exp(-s / fit["tau_plus_ms"]), -fit["a_minus"] * np.exp(s / fit["tau_minus_ms"]))
        ax.plot(s[s > 0], y[s > 0], "-", color=color, lw=1,
                label=f"{label}: τ+ {fit['tau_plus_ms']:.1f} ms, τ− {fit['tau_minus_ms']:.1f} ms")
        ax.plot(s[s < 0], y[s < 0], "-", color=color, lw=1)
    ax.set_xlabel("spike timing t_post − t_pre (ms)")
    ax.set_ylabel("change in synaptic weight (%)")
    ax.set_title(f"STDP window: {result['model']}")
    ax.legend(fontsize=7, loc="upper left")
    return fig


# ------------------------------------------------------------------------------ many runs

def fig_sweep(series: dict, x, y: str = "test_accuracy", *, xlabel: str, ylabel: str = "test accuracy (%)",
              scale: float = 100.0, logx: bool = False, title: str | None = None, ax=None) -> Figure:
    """One value of many runs against a setting: mean ± s.d. over the runs (seeds) at each x.

    Parameters
    ----------
    series : dict of str to list of dict
        Label -> rows (:func:`neuro_grlu.results.report` / ``Run.summary()`` dicts). A label
        starting with ``"stored"`` is drawn with open markers, one starting with ``"published"``
        with crosses and no line.
    x : str or callable
        Row key of the setting (e.g. ``"pairs"``) or a function of the row (e.g. the depth
        ``lambda r: len(r["hidden"])``).
    y : str
        Row key of the value (default ``"test_accuracy"``), multiplied by `scale`.
    """
    fig = None
    if ax is None:
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
    get_x = x if callable(x) else (lambda row: row.get(x))
    for k, (label, rows) in enumerate(series.items()):
        groups: dict = {}
        for row in rows:
            if row.get(y) is not None and get_x(row) is not None:
                groups.setdefault(get_x(row), []).append(scale * float(row[y]))
        if not groups:
            continue
        xs = sorted(groups)
        mean = np.array([np.mean(groups[v]) for v in xs])
        sd = np.array([np.std(groups[v]) for v in xs])
        n = max(len(groups[v]) for v in xs)
        style = dict(marker="o", ms=5, capsize=3, color=f"C{k}")
        if label.startswith("stored"):
            style.update(mfc="none", ls="--")
        if label.startswith("published"):
            style.update(marker="x", ms=8, ls="none", mew=2)
        ax.errorbar(xs, mean, yerr=sd if n > 1 else None, label=label + (f" (mean ± s.d., {n} seeds)" if n > 1 else ""),
                    **style)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig if fig is not None else ax.figure


# ------------------------------------------------------------------------------ dispatch

def _needs(*arrays, weights=(), config=()):
    def ok(run):
        return (all(a in run.arrays for a in arrays) and all(w in run.weights for w in weights)
                and all(run.config.get(c) for c in config))
    ok.data = [("arrays", a) for a in arrays] + [("weights", w) for w in weights]
    return ok


def _stripped_reason(run: Run, name: str) -> str | None:
    """One line saying figure `name` needs data that stripping dropped from `run`, else None."""
    available = FIGURES[run.kind][name][2]
    for group, item in getattr(available, "data", ()):
        if run.missing(group, item):
            return (f"figure {name!r} needs {group}/{item}, which `neuro-grlu strip` dropped from {run.path}; "
                    "draw it from the full run file (re-run the command stored in the file)")
    return None


def _stdp_result(run):
    from .spiking.experiments.stdp_window import result_from_run

    return result_from_run(run)


#: run kind -> figure name -> (draw(runs) -> Figure, draws several runs in one figure, available(run) -> bool)
FIGURES = {
    "rate": {
        "curves": (lambda runs: fig_learning_curves(runs), True, _needs()),
        "alignment": (fig_alignment, True, _needs("alignment_deg", "alignment_samples")),
    },
    "spiking": {
        "raster": (lambda runs: fig_raster(runs[0]), False, _needs("spike_t", "spike_i")),
        "weights": (lambda runs: fig_weights(runs[0]), False, _needs("state_t", "tracked_w", config=("plasticity",))),
        "histogram": (lambda runs: fig_weight_histograms(runs[0]), False,
                      _needs("w_hist", "w_hist_edges", weights=("w_initial", "w_final"))),
        "dopamine": (lambda runs: fig_dopamine(runs[0]), False, _needs("state_t", "dopamine")),
    },
    "continual": {
        "matrix": (lambda runs: fig_accuracy_matrix(runs[0]), False,
                   _needs("accuracy_matrix_class", "accuracy_matrix_task")),
        "forgetting": (fig_forgetting, True, _needs("forgetting_class", "forgetting_task")),
        "fewshot": (fig_fewshot, True, _needs("fewshot_shots", "fewshot_accuracy")),
    },
    "stdp-window": {
        "window": (lambda runs: fig_stdp_window(_stdp_result(runs[0])), False, _needs("lags_ms", "dw_percent")),
    },
}

#: The figures drawn when none are named (rate runs: the learning curves, which include alignment).
DEFAULT_FIGURES = {"rate": ("curves",)}


def figure_names(run: Run) -> list[str]:
    """Names of the figures the run's kind defines and its content supports, in drawing order."""
    table = FIGURES.get(run.kind)
    if table is None:
        raise NeuroGRLUError(f"run file {run.path} has kind {run.kind!r}, which has no figures; "
                             f"plot supports {', '.join(FIGURES)}")
    return [name for name, (_, _, available) in table.items() if available(run)]


def _check_names(runs: list[Run], names) -> list[str]:
    kinds = sorted({run.kind for run in runs})
    if len(kinds) > 1:
        raise NeuroGRLUError(f"cannot draw runs of different kinds ({', '.join(kinds)}) together; "
                             "plot each kind separately")
    kind = kinds[0]
    have = [figure_names(run) for run in runs]
    if names is None or len(names) == 0:
        defaults = DEFAULT_FIGURES.get(kind)
        names = [n for n in (defaults or FIGURES[kind]) if all(n in h for h in have)]
        if not names and runs[0].stripped:
            reasons = [r for r in (_stripped_reason(runs[0], n) for n in FIGURES[kind]) if r]
            if reasons:
                raise RunFileError(reasons[0])
        if not names:
            raise RunFileError(f"run file {runs[0].path} ({kind}) holds none of the data its figures need "
                               f"({', '.join(FIGURES[kind])}); was it recorded with them?")
        return names
    for name in names:
        if name not in FIGURES[kind]:
            raise NeuroGRLUError(f"no figure {name!r} for {kind} runs; choose from {', '.join(FIGURES[kind])}")
        for run, h in zip(runs, have):
            if name not in h and _stripped_reason(run, name):
                raise RunFileError(_stripped_reason(run, name))
            if name not in h:
                raise RunFileError(f"run file {run.path} lacks the data of figure {name!r} "
                                   f"(it can draw: {', '.join(h) or 'nothing'})")
    return list(names)


def figures(runs: Run | list[Run], names: list[str] | str | None = None) -> "FigureSet":
    """Draw the figures that suit the runs' kind.

    Parameters
    ----------
    runs : Run or list of Run
        Runs of one kind. Figures that overlay runs (``curves``, ``alignment``,
        ``forgetting``, ``fewshot``) draw them all in one figure; the others draw one figure
        per run.
    names : str or list of str, optional
        Figure names (see :data:`FIGURES`); default: all the runs' content supports
        (``curves`` only for rate runs).

    Returns
    -------
    FigureSet (a dict) mapping ``name`` (one run or an overlay) or ``"<file stem>-<name>"`` (per run, several
    runs) to a matplotlib Figure.

    Raises
    ------
    NeuroGRLUError
        Unknown run kind or figure name, runs of different kinds, or content missing
        (one-line message; ``RunFileError`` for damaged content).
    """
    runs = [runs] if isinstance(runs, Run) else list(runs)
    if not runs:
        raise NeuroGRLUError("no runs to plot")
    if isinstance(names, str):
        names = [names]
    names = _check_names(runs, names)
    table = FIGURES[runs[0].kind]
    out = FigureSet()
    for name in names:
        draw, overlay, _ = table[name]
        groups = [runs] if overlay or len(runs) == 1 else [[r] for r in runs]
        for group in groups:
            key = name if len(groups) == 1 else f"{group[0].path.stem}-{name}"
            try:
                out[key] = draw(group)
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                raise RunFileError(f"cannot draw {name!r} from run file {group[0].path}: its content is "
                                   f"incomplete or inconsistent ({type(exc).__name__}: {exc})") from exc
    return out


def plot_runs(runs: list[Run], out=None, names=None) -> list[Path]:
    """Write :func:`figures` as PNGs; returns the paths.

    One figure goes to `out` (default: the first run's path with ``.png``); several go to
    ``<out without suffix>-<name>.png`` (default prefix: the first run's path without suffix).
    """
    figs = figures(runs, names)
    runs = [runs] if isinstance(runs, Run) else list(runs)
    base = Path(out) if out else runs[0].path.with_suffix(".png")
    if len(figs) == 1:
        return [_save(next(iter(figs.values())), base if base.suffix else base.with_suffix(".png"))]
    paths = []
    for key, fig in figs.items():
        stem = key if len(runs) > 1 and key.startswith(tuple(f"{r.path.stem}-" for r in runs)) else \
            f"{base.with_suffix('').name}-{key}"
        paths.append(_save(fig, base.parent / f"{stem}.png"))
    return paths


class FigureSet(dict):
    """Figures by name (what :func:`figures` and ``Run.plot()`` return).

    A plain dict of :class:`matplotlib.figure.Figure`; in a notebook it shows every figure,
    and :meth:`save` writes them as PNGs.
    """

    def save(self, directory, prefix: str = "") -> list[Path]:
        """Write ``<directory>/<prefix><name>.png`` for every figure; returns the paths."""
        return [_save(fig, Path(directory) / f"{prefix}{name}.png") for name, fig in self.items()]

    def _ipython_display_(self):  # pragma: no cover - exercised in the notebooks
        from IPython.display import display

        for fig in self.values():
            display(fig)
