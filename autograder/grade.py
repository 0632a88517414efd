"""Grade a folder of lesson notebooks: every task of every lesson, each in a jailed child.

    report = grade_report(Source.parse("lessons"))              # make grade
    report = grade_report(submission, hidden={"01.encode": code}, jail="bwrap")   # nbgrader, Gradescope

Student code runs only in the jail (jail/): the outcomes come back as plain data and are judged here
against the fixtures, which no jailed process ever sees. Hidden tests (an instructor's, from the
source notebooks) run after the visible checks in a trusted process of their own that calls the
student's functions across a data-only channel (jail/hidden.py); a task scores only if both pass, and
a hidden test's verdict is one of a few fixed phrases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .fixtures import FixtureError, expected_for
from .jail.child import Job
from .jail.client import Isolation, WarmWorker, choose, run_jobs
from .jail.hidden import run_hidden
from .loader import LessonLoadError, Loader
from .paths import LessonNotFound
from .reference import CompiledLessons
from .run import FAILED, NOT_STARTED, PASSED, Outcome, Verdict, captured_output, judge, run_exercise
from .source import Source, dependencies_for
from .tasks import Task, all_tasks


@dataclass
class Report:
    verdicts: list[Verdict]
    isolation: Isolation
    visible: dict[str, Verdict] = field(default_factory=dict)  # tasks with hidden tests: visible checks alone


def grade(source="lessons", lessons: list[str] | None = None, **options) -> list[Verdict]:
    """The verdicts of grade_report (see there)."""
    return grade_report(source, lessons, **options).verdicts


def grade_report(source="lessons", lessons: list[str] | None = None, *, deps=None,
                 hidden: dict[str, str] | None = None, jail: str = "auto",
                 parallel: int | None = None, warm: WarmWorker | None = None) -> Report:
    """Grade each task of the selected lessons in `source`.

    deps: where the lessons' own load_lesson() calls look (default: the reference, see
    source.dependencies_for), or the compiled reference lessons themselves. hidden: {task id: hidden test code}. jail: "auto" (the strongest this
    machine offers), "bwrap", "landlock", "limits", or "in-process" (no isolation at all: only for
    measuring what the jail costs, never for untrusted notebooks). warm: the student's worker, kept
    between their notebooks (jail/client.WarmWorker; it was started with `source` readable).
    """
    source = Source.parse(source)
    # compiled deps: what a Gradescope zip carries instead of solutions/
    deps = Source.parse(deps) if deps is not None else dependencies_for(source)
    tasks = [t for t in all_tasks() if lessons is None or t.lesson in lessons]
    loader = Loader(deps=deps)
    jobs, outcomes, unreadable = [], {}, {}
    for task in tasks:
        try:
            notebook = source.notebook(task.lesson)
        except LessonNotFound as err:
            outcomes[task.id] = Outcome("error", reason=str(err))
            continue
        if notebook not in unreadable:
            try:  # once per notebook here: a broken one fails all its tasks alike, without a jail
                loader.read_notebook(notebook)
                unreadable[notebook] = None
            except LessonLoadError as err:
                unreadable[notebook] = f"notebook could not be loaded: {err}"
        if unreadable[notebook]:
            outcomes[task.id] = Outcome("error", reason=unreadable[notebook])
            continue
        jobs.append(Job(len(jobs), task.id, "task", str(notebook), task.timeout, task.memory_gib))
        if hidden and task.id in hidden:
            jobs.append(Job(len(jobs), task.id, "hidden", str(notebook), task.timeout, task.memory_gib,
                            hidden[task.id]))
    if jail == "in-process":
        isolation = Isolation("in-process", "none: exercises ran in the grader's own process")
        done = _run_in_process(jobs, tasks, loader)
    else:
        isolation = warm.isolation if warm is not None else choose(jail)
        last = max((job.lesson for job in jobs), default="")
        reference = CompiledLessons.for_lesson(deps, last, loader.reader)
        visible = [job for job in jobs if job.kind != "hidden"]
        done = run_jobs(visible, isolation, readable=[source.root], reference=reference, parallel=parallel, warm=warm)
        if len(visible) < len(jobs):
            done.update(run_hidden([job for job in jobs if job.kind == "hidden"], isolation, readable=[source.root],
                                   reference=reference))
    hidden_outcomes = {}
    for job in jobs:
        if job.kind == "hidden":
            hidden_outcomes[job.task] = done[job.id]
        else:
            outcomes[job.task] = done[job.id]
    verdicts, visible = [], {}
    for task in tasks:
        verdict = _judge(task, outcomes[task.id])
        if task.id in hidden_outcomes:
            visible[task.id] = verdict
            verdict = _with_hidden(verdict, hidden_outcomes[task.id])
        verdicts.append(verdict)
    return Report(verdicts, isolation, visible)


def _judge(task: Task, outcome: Outcome) -> Verdict:
    try:
        expected = expected_for(task)
    except FixtureError as err:
        return judge(task, Outcome("error", reason=str(err)), None)
    return judge(task, outcome, expected)


def _with_hidden(verdict: Verdict, outcome: Outcome) -> Verdict:
    """A task passes only if its hidden test does too; the reason never quotes the hidden test."""
    if outcome.status == "ok" or verdict.status != PASSED:  # else the visible check already says why
        return verdict
    if outcome.status == "not_started":
        reason = "a hidden check reached a stub that still raises NotImplementedError"
    elif outcome.reason.startswith("name "):
        reason = f"{outcome.reason} (in a hidden check)"
    else:
        reason = outcome.reason
    return Verdict(verdict.task, FAILED, 0.0, verdict.max_points, reason, verdict.output)


def _run_in_process(jobs: list[Job], tasks: list[Task], loader: Loader) -> dict[int, Outcome]:
    by_id, modules, done = {t.id: t for t in tasks}, {}, {}
    for job in jobs:
        if job.kind == "hidden":
            done[job.id] = Outcome("error", reason="hidden checks only run in a jail")
            continue
        with captured_output() as printed:
            try:
                if job.notebook not in modules:
                    modules[job.notebook] = loader.load(job.notebook, deps=loader.deps)
                outcome = run_exercise(by_id[job.task], modules[job.notebook].__dict__.__getitem__)
            except LessonLoadError as err:
                outcome = Outcome("error", reason=f"notebook could not be loaded: {err}")
        outcome.output = printed.text()
        done[job.id] = outcome
    return done


__all__ = ["FAILED", "NOT_STARTED", "PASSED", "Report", "grade", "grade_report"]
