"""The loss-curve figure: train and val loss against steps and against training time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works on servers and in tests, never opens a window
import matplotlib.pyplot as plt  # noqa: E402


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average: per-step training loss is noisy, its trend is what we read."""
    out, avg = [], 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** (i + 1)))  # debiased: the first points are not pulled to 0
    return out


def plot_losses(history: dict, path: Path, title: str = "") -> Path:
    """history: {"steps": [(step, seconds, loss)], "evals": [(step, seconds, train, val)]}."""
    steps = history.get("steps", [])
    evals = history.get("evals", [])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, col, label in ((axes[0], 0, "step"), (axes[1], 1, "training time (s)")):
        if steps:
            xs = [s[col] for s in steps]
            ax.plot(xs, [s[2] for s in steps], color="tab:blue", alpha=0.2, linewidth=0.8)
            ax.plot(xs, smooth([s[2] for s in steps]), color="tab:blue", label="train (per step, smoothed)")
        if evals:
            xs = [e[col] for e in evals]
            ax.plot(xs, [e[2] for e in evals], "o-", color="tab:green", markersize=3, label="train (estimate)")
            ax.plot(xs, [e[3] for e in evals], "o-", color="tab:orange", markersize=3, label="val (estimate)")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("cross-entropy loss")
    axes[0].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(temp, dpi=110)
    plt.close(fig)
    temp.replace(path)
    return path


def plot_bench(curves: dict[str, list[tuple[float, float]]], path: Path, target: float | None = None) -> Path:
    """Val loss against training time, one line per run: the benchmark's time-to-quality figure."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = {}
    for label, points in curves.items():
        # one colour per configuration; solid = CPU-seconds clock, dotted = wall clock
        color = colors.setdefault(label.split()[0], f"C{len(colors)}")
        style = "-" if "cpu clock" in label else ":"
        ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", markersize=2.5, color=color,
                label=label)
    if target:
        ax.axhline(target, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("val loss")
    ax.set_ylim(top=min(3.0, ax.get_ylim()[1]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
