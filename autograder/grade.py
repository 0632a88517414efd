"""Grade a whole course folder: every task of every lesson, a table, and results.json."""

from __future__ import annotations

import json
from pathlib import Path

from .check import summary
from .fixtures import FixtureError, expected_for
from .loader import LessonLoadError, load_lesson, read_notebook
from .paths import lesson_dirs, lesson_notebook, LessonNotFound
from .run import FAILED, Outcome, Verdict, captured_output, judge, run_exercise
from .sandbox import run_many
from .tasks import all_tasks


def grade(source: str = "lessons", lessons: list[str] | None = None, deps: str = "reference",
          isolate: bool = True) -> list[Verdict]:
    """Grade each task of the selected lessons in `source`, each in its own child process.

    The reference outputs are loaded only after every child has finished, so no child (which starts
    as a copy of this process) ever holds them. isolate=False runs the exercises in this process
    instead: only for measuring what isolation costs, never for untrusted notebooks.
    """
    tasks = [t for t in all_tasks() if lessons is None or t.lesson in lessons]
    jobs, outcomes, unreadable = [], {}, {}
    for task in tasks:
        try:
            notebook = lesson_notebook(task.lesson, source)
        except LessonNotFound as err:
            outcomes[task.id] = Outcome("error", reason=str(err))
            continue
        if notebook not in unreadable:
            try:  # once per notebook here; the children reuse it (and a broken one fails alike)
                read_notebook(notebook)
                unreadable[notebook] = None
            except LessonLoadError as err:
                unreadable[notebook] = f"notebook could not be loaded: {err}"
        if unreadable[notebook]:
            outcomes[task.id] = Outcome("error", reason=unreadable[notebook])
        else:
            jobs.append((task, notebook, deps))
    run = run_many if isolate else _run_in_process
    for (task, _, _), outcome in zip(jobs, run(jobs)):
        outcomes[task.id] = outcome
    verdicts = []
    for task in tasks:
        try:
            expected = expected_for(task)
        except FixtureError as err:
            verdicts.append(judge(task, Outcome("error", reason=str(err)), None))
            continue
        verdicts.append(judge(task, outcomes[task.id], expected))
    return verdicts


def _run_in_process(jobs) -> list[Outcome]:
    modules, outcomes = {}, []
    for task, notebook, deps in jobs:
        with captured_output() as printed:
            try:
                if notebook not in modules:
                    modules[notebook] = load_lesson(notebook, deps=deps)
                outcome = run_exercise(task, modules[notebook].__dict__.__getitem__)
            except LessonLoadError as err:
                outcome = Outcome("error", reason=f"notebook could not be loaded: {err}")
        outcome.output = printed.text()
        outcomes.append(outcome)
    return outcomes


def table(verdicts: list[Verdict], source: str = "lessons") -> str:
    names = {lid: d.name for lid, d in lesson_dirs(source).items()}
    rows = [("Lesson", "Task", "Points", "Status")]
    for v in verdicts:
        lesson = v.task.split(".")[0]
        status = v.status if v.status != FAILED else f"failed: {v.reason}"
        rows.append((names.get(lesson, lesson), v.task, f"{v.points:g}/{v.max_points:g}", status))
    earned = sum(v.points for v in verdicts)
    possible = sum(v.max_points for v in verdicts)
    percent = 100 * earned / possible if possible else 0.0
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in rows]
    lines.insert(1, "-" * min(100, max(len(line) for line in lines)))
    lines.append(f"Total: {earned:g}/{possible:g} points ({percent:.0f}%)")
    return "\n".join(lines)


def results_json(verdicts: list[Verdict]) -> dict:
    """Gradescope's results.json: a score and one entry per task. No timestamps: runs are comparable."""
    tests = []
    for v in verdicts:
        message = summary(v)
        if v.output:
            message += "\n--- your code printed ---\n" + v.output
        tests.append({"name": v.task, "score": v.points, "max_score": v.max_points,
                      "status": "passed" if v.status == "passed" else "failed", "output": message})
    return {"score": sum(v.points for v in verdicts),
            "max_score": sum(v.max_points for v in verdicts),
            "tests": tests}


def write_results(verdicts: list[Verdict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_json(verdicts), indent=2, ensure_ascii=False) + "\n")
