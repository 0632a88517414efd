"""`check("01.encode")`: the check cell of a lesson notebook.

It runs the task's exercise on the functions defined in the notebook's kernel and judges the
result exactly as `make grade` does. It prints one line and returns the points earned, a number
nbgrader reads as the cell's grade.
"""

from __future__ import annotations

import os
import sys

from .fixtures import expected_for
from .run import NOT_STARTED, PASSED, Verdict, captured_output, judge, run_exercise
from .tasks import get_task


class Points(float):
    """Points earned by one check; shows as a bare number so nbgrader can read it."""

    def __repr__(self) -> str:
        return repr(float(self))


def summary(verdict: Verdict) -> str:
    earned = f"{verdict.points:g}/{verdict.max_points:g} points"
    if verdict.status == PASSED:
        return f"PASS {verdict.task} ({earned})"
    if verdict.status == NOT_STARTED:
        return f"TODO {verdict.task}: not started, the stub still raises NotImplementedError ({earned})"
    return f"FAIL {verdict.task}: {verdict.reason} ({earned})"


def check(task_id: str, namespace=None) -> Points:
    """Check one task against the reference; namespace defaults to the caller's globals."""
    task = get_task(task_id)
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        # Under `nbgrader autograde` the GradeChecks plug-in (nbgrader_ext.py) grades this task in a
        # sandbox and writes this cell's output; stderr scores 0 if that plug-in is missing.
        print(f"{task_id}: graded outside the kernel by autograder.nbgrader_ext.GradeChecks", file=sys.stderr)
        return None
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    lookup = namespace.__getitem__ if isinstance(namespace, dict) else namespace.__dict__.__getitem__
    with captured_output() as printed:  # nbgrader scores any stderr output as 0
        outcome = run_exercise(task, lookup)
    outcome.output = printed.text()
    verdict = judge(task, outcome, expected_for(task))
    print(summary(verdict))
    return Points(verdict.points)
