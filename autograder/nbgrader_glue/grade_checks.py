"""Autograde step, after execution: every check cell scored by the course's grader.

Under autograde `check()` in the kernel does nothing but write a note to stderr (which nbgrader
scores 0, so a pipeline without this step fails closed). This step grades the notebook with
autograder.grade -- the code path of `make grade`: each task in its own child in the jail, judged
here against the fixtures -- and runs the hidden tests StripHiddenTests took out, in a jail of their
own. It writes each check cell's output: the verdict line and the points as a number, which nbgrader
reads as partial credit. A student cannot fake these from the kernel (e.g. by redefining check),
and no hidden test ever ran there. The verdicts and the jail used go into the notebook's metadata
for the report and the export.
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

from .cells import check_task_id, hidden_code
from .commands import FLAGS_KEY
from .jailed_execute import course_source
from .skip_demo_cells import unskip


class GradeChecks(NbGraderPreprocessor):
    jail = Unicode("bwrap", help="the jail for student code: bwrap, landlock, limits or auto").tag(config=True)

    def preprocess(self, nb, resources):
        # Imported here: the grader imports torch, and every nbgrader command (release, collect, export,
        # a student's submit in the course folder) reads nbgrader_config.py, which imports this file.
        from ..grade import grade_report
        from ..report import summary
        from ..run import FAILED, Verdict

        unskip(nb)
        flags = resources.get(FLAGS_KEY, {})
        originals = flags.get("hidden", {})
        checks = [(index, cell, check_task_id(cell)) for index, cell in enumerate(nb.cells)]
        checks = [(index, cell, tid) for index, cell, tid in checks if tid]
        hidden = {tid: hidden_code(originals[index]) for index, _, tid in checks if index in originals}
        info = resources["nbgrader"]
        folder = info["assignment"]
        with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
            path = Path(tmp) / folder / f"{folder}.ipynb"
            path.parent.mkdir()
            nbformat.write(nb, path)
            lessons = sorted({tid.split(".")[0] for _, _, tid in checks})
            report = grade_report(Path(tmp), lessons, deps=course_source(), hidden=hidden, jail=self.jail)
        verdicts = {v.task: v for v in report.verdicts}

        earned = possible = 0.0
        for index, cell, tid in checks:
            cell.source = originals.get(index, cell.source)  # the instructor's record keeps its hidden tests
            verdict = verdicts.get(tid) or Verdict(tid, FAILED, 0.0, 0.0, "no such task in the course's checks")
            earned += verdict.points
            possible += verdict.max_points
            cell.outputs = [new_output("stream", name="stdout", text=summary(verdict) + "\n"),
                            new_output("execute_result", data={"text/plain": repr(float(verdict.points))},
                                       execution_count=cell.get("execution_count"))]
        seconds = time.monotonic() - flags.get("started", time.monotonic())
        record = nb.metadata.setdefault(FLAGS_KEY, {})
        record.update(autograde_seconds=round(seconds, 2), isolation=str(report.isolation),
                      verdicts=[dataclasses.asdict(v) for v in report.verdicts],
                      visible=[dataclasses.asdict(v) for v in report.visible.values()])
        self.log.info("graded %s/%s: %g/%g points in %.1f s (%s)", info["student"], folder, earned, possible,
                      seconds, report.isolation.name)
        return nb, resources
