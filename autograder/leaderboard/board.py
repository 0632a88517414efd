"""Points, ranking and what the leaderboard writes: results.json (Gradescope's `leaderboard` field
included), the class table and the figure of val curves.

    python -m autograder leaderboard --from DIR        # make leaderboard FROM=DIR

DIR holds one folder per student (<student>/NN_slug/NN_slug.ipynb and <student>/capstone_run.json,
like nbgrader's submitted/). The course's presets train first, from the reference lessons, as the
reference rows. Everything printed comes from Results this process computed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..printable import printable
from ..report import write_results
from . import rules as R
from .entry import RANKED, REFUSED, Result

VAL_DIGITS = 4  # the val loss as printed, ranked and sent to Gradescope


def rounded(val: float | None) -> float | None:
    return None if val is None or not math.isfinite(val) else round(val, VAL_DIGITS)


def ranked(results: list[Result]) -> list[Result]:
    """Ranked entries by val loss (then fewer parameters, then name), then the refused and failed."""
    good = sorted((r for r in results if r.status == RANKED), key=lambda r: (rounded(r.val), r.params, r.name))
    return good + sorted((r for r in results if r.status != RANKED), key=lambda r: r.name)


def describe(result: Result) -> str:
    """One line for a student: what ran and what it reached, or why it did not."""
    if result.status == REFUSED:
        return f"refused: {result.reason}"
    if not result.settings:  # failed before its run was known (rank.py's GRADER_ERROR)
        return f"{result.status}: {result.reason}"
    s = result.settings
    shape = (f"{result.preset}: {s['n_layer']} x {s['n_embd']}, {s['n_head']} heads, block {s['block_size']}, "
             f"batch {s['batch_size']}, {s['optimizer']} lr {s['lr']:g}; {result.params:,} parameters, "
             f"{result.tokens:,} tokens ({result.steps} steps)")
    if result.status != RANKED:
        return f"{shape}; failed: {result.reason}"
    return f"{shape}; val loss {rounded(result.val):.{VAL_DIGITS}f} (train {rounded(result.train):.{VAL_DIGITS}f})"


def results_json(result: Result, rules: R.Rules, references: list[Result]) -> dict:
    """Gradescope's results.json for one entry: a test per threshold, the run's line, the leaderboard."""
    tests = [{"name": "capstone.run", "score": 0.0, "max_score": 0.0,
              "status": "passed" if result.status == RANKED else "failed",
              "output": printable(describe(result))}]
    for threshold in rules.thresholds:
        reached = result.status == RANKED and rounded(result.val) <= threshold
        tests.append({"name": f"capstone.val<={threshold}", "score": rules.points_each if reached else 0.0,
                      "max_score": rules.points_each, "status": "passed" if reached else "failed",
                      "output": (f"val loss {rounded(result.val):.{VAL_DIGITS}f} "
                                 f"{'<=' if reached else '>'} {threshold}") if result.status == RANKED
                      else "no val loss: the run did not finish (see capstone.run)"})
    lines = [f"Leaderboard rules: {rules.token_budget:,} training tokens, at most {rules.max_params:,} "
             f"parameters; points at val loss <= {', '.join(str(t) for t in rules.thresholds)}.",
             "Reference entries (the course's presets, same rules):"]
    lines += [f"  {printable(describe(ref))}" for ref in references]
    if result.sample:
        lines.append("Sample from your weights (the reference GPT generating):\n" + printable(result.sample, lines=True))
    out = {"score": sum(t["score"] for t in tests), "tests": tests, "output": "\n".join(lines)}
    if result.status == RANKED:
        out["leaderboard"] = [{"name": "val loss", "value": rounded(result.val), "order": "asc"},
                              {"name": "parameters", "value": result.params, "order": "asc"},
                              {"name": "preset", "value": result.preset}]
    return out


def table(results: list[Result], rules: R.Rules) -> str:
    rows = [("#", "entry", "val", "points", "params", "tokens", "preset / reason")]
    place = 0
    for r in ranked(results):
        if r.status == RANKED:
            place += 1
        label = printable(r.name) + (" (reference)" if r.reference else "")
        rows.append((str(place) if r.status == RANKED else "-", label,
                     f"{rounded(r.val):.{VAL_DIGITS}f}" if r.status == RANKED else r.status,
                     "" if r.reference else f"{rules.points(rounded(r.val)):g}/{rules.max_points():g}",
                     f"{r.params:,}" if r.params else "", f"{r.tokens:,}" if r.tokens else "",
                     r.preset if r.status == RANKED else printable(r.reason)[:100]))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row[:6], widths)) + "  " + row[6] for row in rows)


def plot_curves(results: list[Result], path: Path, rules: R.Rules = R.RULES) -> Path:
    """The class's val curves (val loss against training tokens), reference entries dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for r in ranked(results):
        if r.status != RANKED or not r.curve:
            continue
        tokens, vals = zip(*r.curve)
        ax.plot(tokens, vals, marker="o", linestyle="--" if r.reference else "-",
                label=f"{printable(r.name)[:30]}{' (reference)' if r.reference else ''}: {rounded(r.val):.3f}")
    for threshold in rules.thresholds:
        ax.axhline(threshold, color="grey", linewidth=0.5, linestyle=":")
    ax.set_xlabel("training tokens")
    ax.set_ylabel("val loss (reference GPT, fixed windows)")
    ax.set_title("capstone leaderboard: val loss during training")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_board(results: list[Result], references: list[Result], rules: R.Rules, out: Path) -> str:
    """results.json per student, leaderboard.json and .txt, val_curves.png in `out`; returns the table."""
    out = Path(out)
    for result in results:
        write_results(results_json(result, rules, references), out / result.name / "results.json")
    everything = references + results
    text = table(everything, rules)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.txt").write_text(text + "\n")
    (out / "leaderboard.json").write_text(json.dumps([r.to_dict() for r in ranked(everything)], indent=1))
    plot_curves(everything, out / "val_curves.png", rules)
    return text
