"""What grading says, in one place: the verdict line, the score table, and Gradescope's results.json.

`make grade`, the check cell, the nbgrader plug-ins, `make export` and the Gradescope runner all
speak through these functions, so a task reads the same everywhere. A reason can quote what a
student's code raised or printed: it passes through `printable` here, so no control character of
theirs reaches a terminal, a log or a results.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from .printable import printable
from .run import FAILED, NOT_STARTED, PASSED, Verdict

HIDDEN_NOTE = "(hidden checks: shown when grades are published)"


def summary(verdict: Verdict) -> str:
    """The one line a student reads for a task: PASS / TODO / FAIL, the reason, the points."""
    earned = f"{verdict.points:g}/{verdict.max_points:g} points"
    if verdict.status == PASSED:
        return f"PASS {verdict.task} ({earned})"
    if verdict.status == NOT_STARTED:
        return f"TODO {verdict.task}: not started, the stub still raises NotImplementedError ({earned})"
    return printable(f"FAIL {verdict.task}: {verdict.reason} ({earned})")


def table(verdicts: list[Verdict], lesson_names: dict[str, str] | None = None, isolation: str = "") -> str:
    """The score table of `make grade`: lesson, task, points, status; the total; the jail used."""
    names = lesson_names or {}
    rows = [("Lesson", "Task", "Points", "Status")]
    for v in verdicts:
        lesson = v.task.split(".")[0]
        status = v.status if v.status != FAILED else f"failed: {v.reason}"
        rows.append(tuple(printable(cell) for cell in
                          (names.get(lesson, lesson), v.task, f"{v.points:g}/{v.max_points:g}", status)))
    earned = sum(v.points for v in verdicts)
    possible = sum(v.max_points for v in verdicts)
    percent = 100 * earned / possible if possible else 0.0
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in rows]
    lines.insert(1, "-" * min(100, max(len(line) for line in lines)))
    lines.append(f"Total: {earned:g}/{possible:g} points ({percent:.0f}%)")
    if isolation:
        lines.append(printable(f"Isolation: {isolation}"))
    return "\n".join(lines)


def test_entry(verdict: Verdict, *, output: str | None = None, visibility: str | None = None) -> dict:
    """One task as a Gradescope test: its name is the task id, its output the verdict line."""
    message = summary(verdict) if output is None else output
    if output is None and verdict.output:
        message += "\n--- your code printed ---\n" + printable(verdict.output, lines=True)
    entry = {"name": verdict.task, "score": verdict.points, "max_score": verdict.max_points,
             "status": "passed" if verdict.status == PASSED else "failed", "output": message}
    if visibility:
        entry["visibility"] = visibility
    return entry


def results_json(verdicts: list[Verdict], *, isolation: str = "", visible: dict[str, Verdict] | None = None) -> dict:
    """Gradescope's results.json (no timestamps: runs are comparable byte for byte).

    visible: for tasks with hidden checks, their verdict on the visible checks alone. Such a task
    scores only after grades are published (its scored test is `after_published`), and a 0-point
    test shows the visible checks' verdict right away.
    """
    tests = []
    for v in verdicts:
        if visible and v.task in visible:
            shown = visible[v.task]
            tests.append({"name": f"{v.task} (visible checks)", "score": 0.0, "max_score": 0.0,
                          "status": "passed" if shown.status == PASSED else "failed",
                          "output": f"{summary(shown)} {HIDDEN_NOTE}", "visibility": "visible"})
            tests.append(test_entry(v, visibility="after_published"))
        else:
            tests.append(test_entry(v))
    result = {"score": sum(v.points for v in verdicts), "tests": tests}
    if isolation:
        result["output"] = f"Graded in isolation: {isolation}"
    return result


def max_score(results: dict) -> float:
    return sum(test["max_score"] for test in results["tests"])


def write_results(data: dict, path: Path) -> None:
    """Write a results.json, checked against Gradescope's format first."""
    from .gradescope.schema import validate

    validate(data)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
