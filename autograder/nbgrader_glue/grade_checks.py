"""Autograde step: every check cell scored by the course's grader -- the one run of student code.

This step grades the notebook with autograder.grade -- the code path of `make grade`: each task in
its own child in the jail, judged here against the fixtures -- from a copy of the notebook without
hidden tests, and runs the hidden tests (taken from the check cells as OverwriteCells restored them)
in a jail of their own. It writes each check cell's output: the verdict line and the points as a
number, which nbgrader reads as partial credit. Nothing a student's code does can change these (the
verdicts are decided here, from plain data), and no hidden test ever reaches a process that ran it.
The verdicts and the jail used go into the notebook's metadata for the report and the export.

Under autograde `check()` in a kernel does nothing but write a note to stderr (which nbgrader
scores 0): a pipeline without this step fails closed.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .cells import check_task_id, hidden_code, without_any_hidden_tests
from .commands import FLAGS_KEY
from .jailed_execute import KERNEL_SECONDS, course_source


class GradeChecks(NbGraderPreprocessor):
    jail = Unicode("bwrap", help="the jail for student code: bwrap, landlock, limits or auto").tag(config=True)

    def preprocess(self, nb, resources):
        # Imported here: the grader imports torch, and every nbgrader command (release, collect, export,
        # a student's submit in the course folder) reads nbgrader_config.py, which imports this file.
        from ..grade import grade_report
        from ..report import summary
        from ..run import FAILED, Verdict

        started = time.monotonic()
        checks = [(cell, check_task_id(cell)) for cell in nb.cells]
        checks = [(cell, tid) for cell, tid in checks if tid]
        hidden = {tid: hidden_code(cell.source) for cell, tid in checks if hidden_code(cell.source).strip()}
        info = resources["nbgrader"]
        folder = info["assignment"]
        with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
            path = Path(tmp) / folder / f"{folder}.ipynb"
            path.parent.mkdir()
            nbformat.write(without_any_hidden_tests(nb), path)  # what the student's code may read
            lessons = sorted({tid.split(".")[0] for _, tid in checks})
            report = grade_report(Path(tmp), lessons, deps=course_source(), hidden=hidden, jail=self.jail)
        verdicts = {v.task: v for v in report.verdicts}

        earned = possible = 0.0
        for cell, tid in checks:
            verdict = verdicts.get(tid) or Verdict(tid, FAILED, 0.0, 0.0, "no such task in the course's checks")
            earned += verdict.points
            possible += verdict.max_points
            cell.outputs = [new_output("stream", name="stdout", text=summary(verdict) + "\n"),
                            new_output("execute_result", data={"text/plain": repr(float(verdict.points))},
                                       execution_count=cell.get("execution_count"))]
        seconds = time.monotonic() - started + resources.get(FLAGS_KEY, {}).get(KERNEL_SECONDS, 0.0)
        record = nb.metadata.setdefault(FLAGS_KEY, {})
        record.update(autograde_seconds=round(seconds, 2), isolation=str(report.isolation),
                      verdicts=[dataclasses.asdict(v) for v in report.verdicts],
                      visible=[dataclasses.asdict(v) for v in report.visible.values()])
        self.log.info("graded %s/%s: %g/%g points in %.1f s (%s)", info["student"], folder, earned, possible,
                      seconds, report.isolation.name)
        return nb, resources
