"""`check("01.encode")`: the check cell of a lesson notebook.

It grades the task on the definitions in the notebook's kernel, the way `make grade` grades the
saved notebook: the exercise runs in a child process with the same time, memory, process and output
limits and the same Landlock sandbox (jail/), earlier lessons are the reference versions (so an
unfinished lesson 08 does not fail lesson 09's checks, exactly as in `make grade`), and the verdict
is judged here against the fixtures and printed in the same words. A pass prints one line and returns
nothing (so no bare number shows under the verdict); anything else raises CheckNotPassed, whose
whole traceback is that one line: the cell fails, so nbgrader's Validate button and `nbgrader
validate` agree with `make grade`, and "Run All" stops at the first task still to do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .fixtures import expected_for
from .jail.child import Job
from .jail.client import run_forked
from .loader import Loader
from .reference import visible_to
from .report import summary
from .run import PASSED, Verdict, judge
from .source import Source, dependencies_for
from .tasks import get_task

class CheckNotPassed(AssertionError):
    """A check cell's failure: Jupyter shows the verdict line, and no traceback (IPython asks
    `_render_traceback_` for the lines to show)."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


_loader: Loader | None = None  # the reference lessons checks judge with, loaded once per kernel


def reference_loader() -> Loader:
    global _loader
    if _loader is None:
        _loader = Loader(deps=dependencies_for(Source.parse("lessons")))
    return _loader


def check_namespace(task_id: str, namespace: dict) -> Verdict:
    """The verdict of one task on the definitions in `namespace` (a kernel's globals)."""
    task = get_task(task_id)
    loader = reference_loader()
    loader.preload(visible_to(task.lesson, loader.deps.ids()), loader.deps)
    job = Job(0, task.id, "namespace", None, task.timeout, task.memory_gib)
    outcome = run_forked([job], loader=loader, namespace=namespace, readable=[Path.cwd()])[0]
    return judge(task, outcome, expected_for(task))


def check(task_id: str, namespace=None) -> None:
    """Check one task against the reference: print the verdict if it passes, else raise CheckNotPassed.

    namespace defaults to the caller's globals (the notebook's)."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        # Under `nbgrader autograde` the GradeChecks plug-in grades this task in the jail and writes
        # this cell's output; stderr scores 0 if that plug-in is missing (the pipeline fails closed).
        print(f"{task_id}: graded outside the kernel by the course's GradeChecks plug-in", file=sys.stderr)
        return None
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    if not isinstance(namespace, dict):
        namespace = vars(namespace)
    verdict = check_namespace(task_id, namespace)
    if verdict.status != PASSED:
        raise CheckNotPassed(summary(verdict))
    print(summary(verdict))
    return None
