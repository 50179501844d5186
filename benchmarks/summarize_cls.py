"""Tables and plots of the complementary-learning-systems runs (benchmarks/cls.sh).

Usage: python benchmarks/summarize_cls.py RUN_DIR OUT_DIR
Writes OUT_DIR/tables.md (final rows, averages, forgetting, full matrices, few-shot) and PNGs.
"""

import sys
from pathlib import Path

import numpy as np

from neuro_grlu.cls.tasks import average_accuracy, forgetting
from neuro_grlu.io import read_run


def pct(v):
    return "-" if v is None or not np.isfinite(v) else f"{100 * v:.1f}"


def images(run):
    """'all, all' or e.g. '1,000, 2,000': training images per task and test images of a run."""
    pr = run.config["protocol"]
    return ", ".join(f"{n:,}" if n else "all" for n in (pr.get("train_limit_per_task", 0), pr.get("test_limit", 0)))


def main(run_dir, out_dir):
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    runs = {p.stem: read_run(p) for p in sorted(run_dir.glob("*.h5"))}
    lines = []
    for seq in ("split-mnist", "halves"):
        sel = {k.split("--", 1)[1]: r for k, r in runs.items() if k.startswith(seq + "--")}
        if not sel:
            continue
        T = next(iter(sel.values())).arrays["accuracy_matrix_class"].shape[1]
        lines += [f"## {seq}", "", "Final row of the accuracy matrix (accuracy on each task after the last stage), "
                  "average accuracy and average forgetting, in %.", ""]
        for scen in ("class", "task"):
            lines += [f"### {scen}-incremental", "",
                      "| system | " + " | ".join(f"T{i + 1}" for i in range(T)) + " | average | forgetting | train/task, test images | wall s |",
                      "|---|" + "---|" * (T + 4)]
            for name, r in sel.items():
                A = r.arrays[f"accuracy_matrix_{scen}"]
                f = forgetting(A)
                fm = float(np.nanmean(f)) if np.isfinite(f).any() else float("nan")
                lines.append(f"| {name} | " + " | ".join(pct(a) for a in A[-1]) +
                             f" | **{pct(average_accuracy(A))}** | {pct(fm)} | {images(r)} | {r.wall_time_s:.0f} |")
            lines.append("")
        lines += ["### full class-incremental matrices (rows: after stage s; columns: task t)", ""]
        for name, r in sel.items():
            A = r.arrays["accuracy_matrix_class"]
            lines += [f"`{name}`:", "", "```"] + ["  ".join(f"{100 * a:5.1f}" for a in row) for row in A] + ["```", ""]
        fs = {n: r for n, r in sel.items() if "fewshot_accuracy" in r.arrays}
        if fs:
            shots = next(iter(fs.values())).arrays["fewshot_shots"]
            classes = next(iter(fs.values())).config["protocol"]["fewshot_classes"]
            lines += [f"## few-shot: 5-way accuracy on the new classes {classes} (test set) after n examples per class",
                      "", "Mean ± std over draws, in %. Fast learners: one pass; slow learners: "
                      f"{next(iter(fs.values())).config['protocol']['fewshot_slow_epochs']} epochs from scratch.", "",
                      "| system | " + " | ".join(f"n={int(s)}" for s in shots) + " |", "|---|" + "---|" * len(shots)]
            for name, r in fs.items():
                a = r.arrays["fewshot_accuracy"]
                lines.append(f"| {name} | " + " | ".join(f"{100 * m:.1f} ± {100 * s:.1f}"
                                                          for m, s in zip(a.mean(0), a.std(0))) + " |")
            lines.append("")
        plot(sel, out_dir / f"{seq}-matrices.png", seq)
        if fs:
            plot_fewshot(fs, out_dir / "fewshot.png")
    readout = {k.split("--", 1)[1]: r for k, r in runs.items() if k.startswith("readout--")}
    if readout:
        lines += ["## readout at scale: all ten digits as one task, the full test set", "",
                  "Accuracy on the test images after one pass over the training images; simulated and wall "
                  "milliseconds per image of the spiking network (training / evaluation).", "",
                  "| system | train images | test images | test accuracy | sim ms/img train | wall ms/img train "
                  "| sim ms/img test | wall ms/img test | wall s |", "|---|---|---|---|---|---|---|---|---|"]
        for name, r in readout.items():
            w = r.weights
            n_tr = int(r.config["protocol"]["train_limit_per_task"]) or "all"
            n_te = int(r.config["protocol"]["test_limit"]) or 10000

            def ms(key):
                return f"{float(np.ravel(w[key])[0]):.1f}" if key in w else "-"
            lines.append(f"| {name} | {n_tr} | {n_te} | **{pct(r.arrays['accuracy_matrix_class'][-1, 0])}** | "
                         f"{ms('hippocampus_train_sim_ms_per_example')} | {ms('hippocampus_train_wall_ms_per_example')} | "
                         f"{ms('hippocampus_eval_sim_ms_per_example')} | {ms('hippocampus_eval_wall_ms_per_example')} | "
                         f"{r.wall_time_s:.0f} |")
        lines.append("")
    (out_dir / "tables.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def plot(sel, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(sel)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.6), squeeze=False)
    for j, (name, r) in enumerate(sel.items()):
        for i, scen in enumerate(("class", "task")):
            A = r.arrays[f"accuracy_matrix_{scen}"]
            ax = axes[i, j]
            ax.imshow(A, vmin=0, vmax=1, cmap="viridis")
            for (s, t), v in np.ndenumerate(A):
                if t <= s:
                    ax.text(t, s, f"{100 * v:.0f}", ha="center", va="center", fontsize=6,
                            color="w" if v < 0.6 else "k")
            ax.set_xticks([]); ax.set_yticks([])
            ax.set_title(f"{name}\n{scen}-IL avg {100 * average_accuracy(A):.1f}%", fontsize=6)
    fig.suptitle(f"{title}: accuracy on task t (columns) after stage s (rows)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_fewshot(fs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in fs.items():
        a, s = r.arrays["fewshot_accuracy"], r.arrays["fewshot_shots"]
        ax.errorbar(s, a.mean(0), yerr=a.std(0), marker="o", label=name, capsize=2)
    ax.set_xscale("log"); ax.set_xlabel("examples per new class"); ax.set_ylabel("5-way accuracy on digits 5-9")
    ax.axhline(0.2, color="grey", lw=0.5, ls=":"); ax.legend(fontsize=6); ax.grid(alpha=0.3)
    fig.tight_layout(); fig.savefig(path, dpi=130); plt.close(fig)


if __name__ == "__main__":
    main(*sys.argv[1:3])
