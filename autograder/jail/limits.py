"""Resource limits for student code: memory, file size, processes, CPU time, and a cap on the whole jail's tasks.

Per process (set by a task's child on itself): address space (memory), the size of any file it
writes, CPU time, and, where the kernel enforces it for this user, the number of processes.

Time limits count CPU time, not wall-clock time, so a correct notebook graded on a busy machine
does not run out of time: the task's limit (Job.timeout) is CPU seconds of its process, its threads
and the processes it starts (the worker adds up its process group; RLIMIT_CPU stops any one process
that gets past that). Wall-clock time only backs this up, for code that sleeps or blocks and so uses
no CPU: `wall_backstop` of the limit, generously. The kernel does
not enforce RLIMIT_NPROC for root, so a grader running as root puts the whole jail in its own pids
cgroup instead (`PidsCgroup`): a fork bomb then fails at the cap, and the cgroup lists every
process the jail started, for the final kill.
"""

from __future__ import annotations

import math
import os
import resource
import signal
import uuid
from pathlib import Path

FILE_LIMIT = 256 << 20  # bytes any one file written by student code may reach
NPROC_MARGIN = 64  # processes a task may add to what its user already runs (non-root)
JAIL_PIDS = 256  # processes and threads in a whole jail (root, pids cgroup)
WALL_FACTOR, WALL_MARGIN = 5, 30.0  # the wall-clock backstop: 5x the CPU limit, plus 30 s


def wall_backstop(cpu_seconds: float) -> float:
    """Wall-clock seconds after which code that stays under its CPU limit is stopped all the same."""
    return WALL_FACTOR * cpu_seconds + WALL_MARGIN


def cpu_reason(cpu_seconds: float) -> str:
    return f"used more than {cpu_seconds:g} s of CPU time (an infinite loop?)"


def wall_reason(wall_seconds: float, used: float) -> str:
    return (f"did not finish within {wall_seconds:g} s of wall-clock time although it used only {used:.1f} s "
            f"of CPU (blocked or sleeping?)")


def limit_cpu(seconds: float) -> None:
    """RLIMIT_CPU: SIGXCPU once this process used `seconds` of CPU time, SIGKILL 2 s later."""
    soft = max(1, math.ceil(seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 2))


def _vm_size() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def limit_child(memory_gib: float, cpu_seconds: float | None = None) -> str:
    """Limits for a task's child, applied to itself; returns a short description for reports."""
    if cpu_seconds:
        limit_cpu(cpu_seconds)
    try:
        base = _vm_size()
    except OSError:  # no /proc (macOS): count from nothing
        base = 0
    limit = base + int(memory_gib * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write fails instead of killing the child
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.getuid() != 0 and hasattr(resource, "RLIMIT_NPROC"):
        mine = _processes_of(os.getuid())
        cap = (mine + NPROC_MARGIN) if mine else NPROC_MARGIN * 8
        resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
        return f"memory {memory_gib:g} GiB, processes {NPROC_MARGIN} more (rlimit)"
    return f"memory {memory_gib:g} GiB"


def _processes_of(uid: int) -> int:
    count = 0
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        count += 1
                except OSError:
                    continue
    except OSError:
        return 0
    return count


class PidsCgroup:
    """A pids cgroup (v1 or v2) that caps and lists the processes of one jail; root only."""

    ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, limit: int = JAIL_PIDS) -> PidsCgroup | None:
        """A fresh cgroup capped at `limit` processes, or None where we may not make one."""
        if os.geteuid() != 0:
            return None
        for root in cls.ROOTS:
            if not (root / "cgroup.procs").exists():
                continue
            parent = root / "gpt-course-jails"
            try:
                if root.name != "pids":  # cgroup v2: the controller must be enabled on the way down
                    if "pids" not in (root / "cgroup.controllers").read_text().split():
                        continue
                    (root / "cgroup.subtree_control").write_text("+pids")
                    parent.mkdir(exist_ok=True)
                    (parent / "cgroup.subtree_control").write_text("+pids")
                else:
                    parent.mkdir(exist_ok=True)
                path = parent / uuid.uuid4().hex[:12]
                path.mkdir()
                (path / "pids.max").write_text(str(limit))
                return cls(path)
            except OSError:
                continue
        return None

    def trampoline(self, argv: list[str]) -> list[str]:
        """argv run by a shell that first moves itself into this cgroup (its children follow)."""
        return ["/bin/sh", "-c", f'echo $$ > "{self.path}/cgroup.procs" && exec "$@"', "jail", *argv]

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        for _ in range(20):  # a fork bomb may add processes while we kill
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def remove(self) -> None:
        self.kill_all()
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                import time

                time.sleep(0.02)  # killed processes leave the cgroup a moment later
