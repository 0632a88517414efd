"""Autograde step (optional): nbgrader's Execute, with the student's kernel in the jail (jail/kernel.py).

Grading does not need it -- GradeChecks runs the student's code, in the jail, and decides every
score -- so the course's nbgrader_config.py leaves it off (`make autograde OUTPUTS=1` turns it on):
then the autograded notebook shows what the student's set-up and solution cells printed. The kernel
runs a copy of the notebook that has no hidden tests (a student's earlier cell could watch them run
and print them) and whose demo cells are tagged skip-execution (in an unfinished notebook they
raise, and one that calls a looping function would cost a whole cell timeout; no grade depends on
them); the outputs are copied back onto the notebook's own cells, which are otherwise untouched.

The kernel's earlier lessons (its set-up cells' `load_lesson("08")`) come from the course's source
notebooks compiled into a file the kernel reads (reference.py): the lessons before this one only.
`jail = "none"` (make autograde UNSAFE=1) runs an ordinary kernel with the same reference lessons.

Time: `cpu_seconds_per_cell` (60) is each cell's CPU time, enforced in the jailed kernel itself
(jail/kernel.py: RLIMIT_CPU moved per cell, the whole notebook's budget as the hard limit), so a
busy grading machine does not fail a correct notebook. nbclient's `timeout` is wall-clock time:
here only the backstop for a cell that sleeps or blocks, `limits.wall_backstop` of the CPU budget
(330 s). The ordinary kernel of UNSAFE=1 has that wall-clock limit only.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from jupyter_core.utils import run_sync
from nbgrader.preprocessors import Execute
from traitlets import Float, Unicode

from ..jail.kernel import CELL_CPU_SECONDS, JailedKernelManager
from ..jail.limits import wall_backstop
from ..paths import lesson_id
from ..reference import CompiledLessons
from ..source import Source
from .cells import is_demo_cell, without_any_hidden_tests
from .commands import FLAGS_KEY, course_config

SKIP_TAG = "skip-execution"  # nbclient leaves cells with this tag unexecuted
KERNEL_SECONDS = "kernel_seconds"  # resources[FLAGS_KEY][...]: the kernel's time, for GradeChecks' record


def course_source() -> Source:
    """The course's source notebooks (nbgrader's source folder: solutions/ here): the reference."""
    return Source.parse(Path(course_config()["source"]).resolve())


def kernel_copy(nb):
    """What the kernel runs: the notebook without hidden tests, its demo cells tagged to be skipped."""
    run = without_any_hidden_tests(nb)
    for cell in run.cells:
        if is_demo_cell(cell):
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), SKIP_TAG]
    return run


class JailedExecute(Execute):
    jail = Unicode("bwrap", help="bwrap: run the kernel in bubblewrap; none: an ordinary kernel").tag(config=True)
    cpu_seconds_per_cell = Float(CELL_CPU_SECONDS, help="CPU time one cell may use (the jailed kernel "
                                                        "enforces it); timeout becomes the wall-clock "
                                                        "backstop").tag(config=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("kernel_manager_class", JailedKernelManager)
        super().__init__(**kwargs)
        self._reference = ""
        self._cells = 0
        self.timeout = round(wall_backstop(self.cpu_seconds_per_cell))
        self.error_on_timeout = {
            "ename": "CellTimeoutError", "evalue": "",
            "traceback": [f"CellTimeoutError: this cell did not finish within {self.timeout} s of wall-clock "
                          f"time, although its CPU limit is {self.cpu_seconds_per_cell:g} s (blocked or sleeping?)"]}

    def preprocess(self, nb, resources, km=None):
        started = time.monotonic()
        run = kernel_copy(nb)
        self._cells = sum(1 for cell in run.cells if cell.cell_type == "code")
        lesson = lesson_id(resources["nbgrader"]["assignment"])
        source = course_source()
        compiled = CompiledLessons.for_lesson(source, lesson)
        handle, self._reference = tempfile.mkstemp(prefix="gpt-course-reference-", suffix=".bin")
        with os.fdopen(handle, "wb") as f:
            f.write(compiled.to_bytes())
        try:
            run, resources = super().preprocess(run, resources, km)
        finally:
            os.unlink(self._reference)
        for cell, ran in zip(nb.cells, run.cells):
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = ran.get("outputs", []), ran.get("execution_count")
        resources.setdefault(FLAGS_KEY, {})[KERNEL_SECONDS] = time.monotonic() - started
        return nb, resources

    async def async_start_new_kernel(self, **kwargs):
        manager = self.km
        if isinstance(manager, JailedKernelManager):
            manager.jail = self.jail
            manager.visible = self.resources.get("metadata", {}).get("path") or ""
            manager.reference = self._reference
            manager.cpu_seconds_per_cell = self.cpu_seconds_per_cell
            manager.cells = self._cells
        await super().async_start_new_kernel(**kwargs)

    # nbclient's blocking start_new_kernel (what Execute.preprocess calls) wraps the base class's
    # coroutine, not this override: without this line the kernel never got its jail settings.
    start_new_kernel = run_sync(async_start_new_kernel)
