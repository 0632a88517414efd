"""Autograde step: every check cell scored by the course's grader -- the one run of student code.

This step grades the notebook with autograder.grade -- the code path of `make grade`: each task in
its own child in the jail, judged here against the fixtures -- from a copy of the notebook without
hidden tests, and runs the hidden tests (taken from the check cells as OverwriteCells restored them)
in a jail of their own. It writes each check cell's output: the verdict line and the points as a
number, which nbgrader reads as partial credit. Nothing a student's code does can change these (the
verdicts are decided here, from plain data), and no hidden test ever reaches a process that ran it.
The jailed worker is kept for the same student's next notebook (one start of torch per student when
`make autograde` grades all lessons, student by student), never for another student's.
The verdicts and the jail used go into the notebook's metadata for the report and the export.

Under autograde `check()` in a kernel does nothing but write a note to stderr (which nbgrader
scores 0): a pipeline without this step fails closed.
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
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
        hidden = {tid: code for tid, code in ((tid, hidden_code(cell.source)) for cell, tid in checks) if code.strip()}
        info = resources["nbgrader"]
        folder = info["assignment"]
        student = _StudentWorker.for_student(info["student"], self.jail)
        path = student.folder / folder / f"{folder}.ipynb"
        try:
            path.parent.mkdir()
            nbformat.write(without_any_hidden_tests(nb), path)  # what the student's code may read
            lessons = sorted({tid.split(".")[0] for _, tid in checks})
            report = grade_report(student.folder, lessons, deps=course_source(), hidden=hidden, jail=self.jail,
                                  warm=student.warm)
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
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


class _StudentWorker:
    """The jailed worker of the student being graded, kept for their next notebook (nbgrader grades a
    student's lessons one after another when `make autograde` runs them all): torch and the jail
    start once per student instead of once per notebook. It reads the student's notebooks from a
    folder of its own, and is closed -- folder removed -- before another student's notebook: one
    worker never sees two students. One per process (nbgrader makes a new GradeChecks per notebook)."""

    current: _StudentWorker | None = None

    def __init__(self, student: str, jail: str):
        from ..jail.client import WarmWorker, choose

        self.student, self.jail_name = student, jail
        self.folder = Path(tempfile.mkdtemp(prefix="autograde-"))
        # In-process grading (for measuring the jail's cost only) has no worker to keep.
        self.warm = None if jail == "in-process" else WarmWorker(choose(jail), readable=[self.folder])

    @classmethod
    def for_student(cls, student: str, jail: str) -> _StudentWorker:
        kept = cls.current
        if kept is not None and (kept.student, kept.jail_name) == (student, jail):
            return kept
        cls.close_current()
        cls.current = cls(student, jail)
        return cls.current

    @classmethod
    def close_current(cls) -> None:
        kept, cls.current = cls.current, None
        if kept is not None:
            if kept.warm is not None:
                kept.warm.close()
            shutil.rmtree(kept.folder, ignore_errors=True)


atexit.register(_StudentWorker.close_current)
