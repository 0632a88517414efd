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
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Float, Unicode

from ..paths import REPO_ROOT
from . import bwrap, landlock
from .limits import FILE_LIMIT, PidsCgroup

KERNEL_MEMORY_GIB = 4.0
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

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        parent = PRIVATE_PARENT if os.access(PRIVATE_PARENT, os.W_OK) else None
        self.private = tempfile.mkdtemp(prefix="gpt-course-kernel-", dir=parent)
        self.cgroup: PidsCgroup | None = None
        if self.jail == "bwrap":
            self.transport = "ipc"
            self.connection_file = os.path.join(self.private, "kernel.json")
            self.ip = os.path.join(self.private, "ipc")

    async def start_kernel(self, **kw):
        if self.jail != "bwrap" and self.reference:  # an ordinary kernel: the reference through its environment
            kw["env"] = {**kw.get("env", os.environ), "GPT_COURSE_REFERENCE": self.reference}
        await super().start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.jail != "bwrap":
            return cmd
        reference = os.path.join(self.private, REFERENCE_FILE)
        if self.reference:
            shutil.copy(self.reference, reference)
        env = {"PYTHONPATH": str(REPO_ROOT), "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", ""),
               "GPT_COURSE_REFERENCE": reference if self.reference else "",
               "GPT_COURSE_KERNEL_MEMORY_GIB": str(self.memory_gib)}
        inner = [sys.executable, "-m", "autograder.jail.kernel", "-f", os.path.realpath(self.connection_file),
                 "--HistoryManager.enabled=False"]
        readable = [self.visible] if self.visible else []
        argv = bwrap.command(inner, readable=readable, writable=[self.private], env=env,
                             cwd=self.visible or "/tmp/work")
        self.cgroup = PidsCgroup.create()
        return self.cgroup.trampoline(argv) if self.cgroup else argv

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self.cgroup:
            self.cgroup.remove()
            self.cgroup = None
        shutil.rmtree(self.private, ignore_errors=True)


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
    Path(os.environ.get("IPYTHONDIR", "/tmp/home/.ipython")).mkdir(parents=True, exist_ok=True)
    app.start()


if __name__ == "__main__":
    main()
