"""A Jupyter kernel inside the jail: what nbgrader's autograde runs a student's notebook in.

`JailedKernelManager` starts the kernel through bubblewrap (bwrap.py) with no network at all: the
kernel and nbgrader talk over ZeroMQ's `ipc` transport, unix sockets in a private folder that is the
only host folder mounted writable. The kernel process itself (`python -m autograder.jail.kernel`)
binds those sockets, then enters Landlock (writes only in the jail's /tmp) and sets its resource
limits *before* the first cell runs, so no student code can write into that folder either. IPython's
history is off and its profile lives in the jail's /tmp: nothing of the run stays behind.

The kernel gets the earlier lessons a notebook builds on as compiled reference cells (reference.py),
not solutions/; the hidden tests are never in it (nbgrader_glue strips them before execution and
grades them in a jail of their own).

Time: each cell may use `cpu_seconds_per_cell` of CPU time (60 s), measured per cell inside the
kernel: before a cell runs, an IPython hook sets the kernel's RLIMIT_CPU soft limit to the CPU time
used so far plus that budget, and the SIGXCPU it brings stops the cell with CellCPUTimeExceeded
("this cell used more than 60 s of CPU time (an infinite loop?)") while the kernel lives on for the
next cells. The hard limit, which student code cannot raise, is the whole notebook's budget (cells x
per cell, plus start-up): code that lifts its soft limit or ignores SIGXCPU dies there. So a
notebook on a loaded machine is not cut short, and nbclient's per-cell timeout (jailed_execute.py)
is only the wall-clock backstop for a cell that sleeps or blocks. Per-cell measurement by polling
the jail's processes from outside would also count a cell's subprocesses, but needs the kernel's
PID from inside a PID namespace; subprocesses here carry their own RLIMIT_CPU (inherited), and the
wall backstop.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Float, Integer, Unicode

from ..paths import REPO_ROOT
from ..reference import REFERENCE_ENV
from . import bwrap, landlock, seccomp
from .limits import FILE_LIMIT, PidsCgroup

KERNEL_MEMORY_GIB = 4.0
CELL_CPU_SECONDS = 60.0  # CPU time per notebook cell
STARTUP_CPU_SECONDS = 60.0  # the kernel's own start, on top of the cells' budget
REFERENCE_FILE = "reference.bin"
# The kernel's connection folder is mounted writable into the jail at its host path; under /tmp it
# would be beneath the jail's /tmp, where Landlock lets the kernel write (bind mounts included).
PRIVATE_PARENT = "/var/tmp"


class JailedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs in the jail (jail="bwrap") or, for UNSAFE=1, as usual."""

    jail = Unicode("bwrap", help="bwrap: the kernel runs in bubblewrap; none: an ordinary kernel").tag(config=True)
    memory_gib = Float(KERNEL_MEMORY_GIB, help="address-space limit of the kernel process").tag(config=True)
    reference = Unicode("", help="compiled reference lessons for the kernel's load_lesson() calls").tag(config=True)
    visible = Unicode("", help="the submission's folder, mounted read-only as the kernel's working folder")
    cpu_seconds_per_cell = Float(CELL_CPU_SECONDS, help="CPU time one cell may use").tag(config=True)
    cells = Integer(0, help="code cells the kernel will run: the notebook's CPU budget is cells x per cell")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        parent = PRIVATE_PARENT if os.access(PRIVATE_PARENT, os.W_OK) else None
        self.private = tempfile.mkdtemp(prefix="gpt-course-kernel-", dir=parent)
        self.cgroup: PidsCgroup | None = None
        self.filter_fd: int | None = None  # the syscall filter for bwrap, open until the kernel started
        if self.jail == "bwrap":
            self.transport = "ipc"
            self.connection_file = os.path.join(self.private, "kernel.json")
            self.ip = os.path.join(self.private, "ipc")

    async def start_kernel(self, **kw):
        if self.jail != "bwrap" and self.reference:  # an ordinary kernel: the reference through its environment
            kw["env"] = {**kw.get("env", os.environ), REFERENCE_ENV: self.reference}
        await super().start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.jail != "bwrap":
            return cmd
        reference = os.path.join(self.private, REFERENCE_FILE)
        if self.reference:
            shutil.copy(self.reference, reference)
        env = {"PYTHONPATH": str(REPO_ROOT), "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", ""),
               REFERENCE_ENV: reference if self.reference else "",
               "GPT_COURSE_KERNEL_MEMORY_GIB": str(self.memory_gib),
               "GPT_COURSE_CELL_CPU_SECONDS": str(self.cpu_seconds_per_cell),
               "GPT_COURSE_NOTEBOOK_CPU_SECONDS": str(notebook_cpu_seconds(self.cells, self.cpu_seconds_per_cell))}
        inner = [sys.executable, "-m", "autograder.jail.kernel", "-f", os.path.realpath(self.connection_file),
                 "--HistoryManager.enabled=False"]
        readable = [self.visible] if self.visible else []
        seccomp.close(self.filter_fd)
        self.filter_fd = seccomp.program_fd()  # passed on by _async_launch_kernel, closed after it
        argv = bwrap.command(inner, readable=readable, writable=[self.private], env=env,
                             cwd=self.visible or "/tmp/work", seccomp_fd=self.filter_fd)
        self.cgroup = PidsCgroup.create()
        return self.cgroup.trampoline(argv) if self.cgroup else argv

    async def _async_launch_kernel(self, kernel_cmd, **kw) -> None:
        if self.filter_fd is not None:  # jupyter_client's Popen: extra keywords pass through
            kw["pass_fds"] = (*kw.get("pass_fds", ()), self.filter_fd)
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            seccomp.close(self.filter_fd)
            self.filter_fd = None

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        seccomp.close(self.filter_fd)
        self.filter_fd = None
        if self.cgroup:
            self.cgroup.remove()
            self.cgroup = None
        shutil.rmtree(self.private, ignore_errors=True)


def notebook_cpu_seconds(cells: int, per_cell: float) -> float:
    """The kernel's hard CPU limit: every cell's budget, and its own start."""
    return max(cells, 1) * per_cell + STARTUP_CPU_SECONDS


class CellCPUTimeExceeded(Exception):
    """Raised in a cell that used up its CPU time; the kernel goes on with the next cell."""


class _CellBudget:
    """Per-cell CPU time in the kernel: RLIMIT_CPU's soft limit moves with each cell (module docstring)."""

    def __init__(self, per_cell: float, notebook: float):
        import resource

        self.per_cell, self.hard, self.running = per_cell, max(1, math.ceil(notebook)), False
        resource.setrlimit(resource.RLIMIT_CPU, (self.hard, self.hard))
        signal.signal(signal.SIGXCPU, self._over)

    @staticmethod
    def _used() -> float:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def _soft(self, seconds: float) -> None:
        import resource

        try:
            resource.setrlimit(resource.RLIMIT_CPU, (min(self.hard, max(1, math.ceil(seconds))), self.hard))
        except (ValueError, OSError):  # the cell changed the limits itself: the hard limit still holds
            pass

    def before_cell(self, *args) -> None:
        self.running = True
        self._soft(self._used() + self.per_cell)

    def after_cell(self, *args) -> None:
        self.running = False
        self._soft(self.hard)  # between cells the kernel's own work never trips the cell's limit

    def _over(self, signum, frame) -> None:
        if self.running:  # again each CPU second the cell goes on (if it caught the first)
            raise CellCPUTimeExceeded(f"this cell used more than {self.per_cell:g} s of CPU time (an infinite loop?)")


def _lock_down() -> None:
    """After the kernel bound its sockets, before any cell: writes only in /tmp, limits, no signals out."""
    import resource

    ruleset = landlock.make_ruleset(["/"], ["/tmp"])
    if ruleset is not None:
        landlock.restrict_self(ruleset)
    memory = float(os.environ.get("GPT_COURSE_KERNEL_MEMORY_GIB", KERNEL_MEMORY_GIB))
    with open("/proc/self/statm") as f:
        base = int(f.read().split()[0]) * resource.getpagesize()
    limit = base + int(memory * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    """ipykernel's launcher, with _lock_down() between binding the sockets and running cells."""
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # the submission's folder must not shadow the course's modules
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])
    _lock_down()
    budget = _CellBudget(float(os.environ.get("GPT_COURSE_CELL_CPU_SECONDS", CELL_CPU_SECONDS)),
                         float(os.environ.get("GPT_COURSE_NOTEBOOK_CPU_SECONDS",
                                              notebook_cpu_seconds(1, CELL_CPU_SECONDS))))
    app.shell.events.register("pre_run_cell", budget.before_cell)
    app.shell.events.register("post_run_cell", budget.after_cell)
    Path(os.environ.get("IPYTHONDIR", "/tmp/home/.ipython")).mkdir(parents=True, exist_ok=True)
    app.start()


if __name__ == "__main__":
    main()
