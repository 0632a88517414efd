"""The worker: the trusted process inside the jail that forks one child per job and watches it.

The grader starts one worker per submission (`python -m autograder.jail.worker`, inside bubblewrap
when it can). The worker imports torch once, receives the compiled reference lessons the next jobs
may build on, and for each job forks a child (child.py) that runs the student's code. It enforces
each job's time limit (CPU time of the job's process group, with a wall-clock backstop: limits.py),
kills the job's process group and any process the job left behind, and forwards the child's
message, untouched, to the grader. It never runs student code itself.

Inside bubblewrap the worker is the jail's PID 1: its children cannot kill it, orphans come back to
it, and when it ends the kernel ends every process in the jail. Elsewhere it makes itself a child
subreaper (Linux) to the same end.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import os
import select
import signal
import sys
import time

from . import seccomp
from .child import Job, Sandbox
from .frames import RESULT_LIMIT, frame, receive_json, tagged
from .limits import cpu_reason, wall_reason

_PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 4, 36
SCRATCH_CAP = 256 << 20  # bytes of files all children may leave in a scratch folder on disk
CPU_CHECK_SECONDS = 0.25  # how often the CPU time of running jobs is measured


def exit_reason(status: int, job: Job, cpu_used: float = 0.0) -> str:
    """One line for a child that ended without sending its outcome (cpu_used: its CPU seconds)."""
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status))
        if sig == signal.SIGSEGV:
            return "crashed the Python process (segmentation fault; very deep recursion?)"
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_used >= job.timeout):  # RLIMIT_CPU
            return cpu_reason(job.timeout)
        if sig == signal.SIGKILL:
            return f"was killed, probably for using more than {job.memory_gib:g} GiB of memory"
        return f"was stopped by signal {sig.name}"
    return "exited the process before finishing (os._exit or similar): remove that call"


class _Running:
    def __init__(self, job: Job, pid: int, fd: int):
        self.job, self.pid, self.fd = job, pid, fd
        self.deadline = time.monotonic() + job.wall_seconds  # the backstop; the limit is CPU time
        self.cpu = 0.0  # CPU seconds of its process group, as last measured
        self.data, self.overflow, self.status = bytearray(), False, None

    def drain(self) -> None:
        while not self.overflow:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            if len(self.data) + len(chunk) > RESULT_LIMIT + 8:
                self.overflow = True
                return
            self.data += chunk


class Supervisor:
    """Runs jobs in forked children, `parallel` at a time; emit(job id, payload) for each."""

    def __init__(self, loader, sandbox: Sandbox, parallel: int = 2, namespace: dict | None = None):
        self.loader, self.sandbox, self.parallel, self.namespace = loader, sandbox, max(1, parallel), namespace
        self.statuses: dict[int, int] = {}  # exit statuses reaped early (waitpid(-1) takes any child)
        self.cpu_at_exit: dict[int, float] = {}  # CPU seconds of reaped children (and what they reaped)
        self._checked_scratch = self._checked_cpu = 0.0

    def run(self, jobs: list[Job], emit, more=None, more_fd: int | None = None) -> None:
        """Run `jobs`, then whatever more() returns each time all jobs so far have started (None: no more).

        more() is how the next lesson's jobs arrive: only once every job of the lesson before has
        started, so no child ever holds the reference of its own lesson or a later one. more_fd: the
        descriptor more() reads; while jobs run, more() is called only once it is readable, so a grader
        that waits for these outcomes before it sends the next notebook's jobs (a warm worker) is served."""
        queue, running = list(jobs), {}
        try:
            while queue or running or more:
                if not queue and more and (not running or more_fd is None or _readable(more_fd)):
                    queue = list(more() or [])
                    if not queue:
                        more = None
                        continue
                while queue and len(running) < self.parallel:
                    try:
                        child = self._start(queue[0])
                    except OSError as err:  # no process left: another job's fork bomb holds them all
                        if running:
                            break  # it ends with its job; start this one after
                        job = queue.pop(0)
                        emit(job.id, frame({"status": "error", "value": None, "output": "", "isolation": "",
                                            "reason": f"could not be started ({err.strerror}): the jail's "
                                                      f"process limit was reached"}))
                        continue
                    queue.pop(0)
                    running[child.pid] = child
                if not running:
                    continue
                now = time.monotonic()
                wait = max(0.0, min(0.05, min(c.deadline for c in running.values()) - now))
                awake = [more_fd] if more and not queue and more_fd is not None else []  # the next jobs
                ready, _, _ = select.select([c.fd for c in running.values()] + awake, [], [], wait)
                for child in running.values():
                    if child.fd in ready:
                        child.drain()
                self._reap()
                over_disk = self._scratch_full()
                self._measure_cpu(running)
                for pid, child in list(running.items()):
                    ended = pid in self.statuses
                    over_cpu = child.cpu > child.job.timeout
                    if ended or child.overflow:
                        payload = self._finish(child)
                    elif over_cpu or time.monotonic() >= child.deadline or over_disk:
                        child.drain()
                        reason = (f"wrote more than {SCRATCH_CAP >> 20} MiB of files" if over_disk else
                                  cpu_reason(child.job.timeout) if over_cpu else
                                  wall_reason(child.job.wall_seconds, child.cpu))
                        payload = frame({"status": "error", "value": None, "reason": reason, "output": "",
                                         "isolation": ""})
                    else:
                        continue
                    self._stop(child)
                    del running[pid]
                    emit(child.job.id, payload)
                    self._kill_strays(running)
        finally:
            for child in running.values():
                self._stop(child)

    def _start(self, job: Job) -> _Running:
        from . import child as child_module

        receive, send = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(receive)
            os.close(send)
            raise
        if pid == 0:  # the child: never returns
            os.close(receive)
            child_module.run(job, send, self.loader, self.sandbox, self.namespace)
        os.close(send)
        if job.channel is not None:  # the serving child's socket is its own: closed here, its end is EOF
            os.close(job.channel)
        os.set_blocking(receive, False)
        return _Running(job, pid, receive)

    def _finish(self, child: _Running) -> bytes:
        child.drain()
        if child.overflow:
            return frame({"status": "error", "value": None, "output": "", "isolation": "",
                          "reason": f"returned more than {RESULT_LIMIT >> 20} MiB of outputs"})
        if child.data:
            return bytes(child.data)
        deadline = time.monotonic() + 5
        while child.pid not in self.statuses and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.01)
        status = self.statuses.get(child.pid, 0)
        cpu = max(child.cpu, self.cpu_at_exit.get(child.pid, 0.0))
        return frame({"status": "error", "value": None, "output": "", "isolation": "",
                      "reason": exit_reason(status, child.job, cpu)})

    def _stop(self, child: _Running) -> None:
        for target in (lambda: os.killpg(child.pid, signal.SIGKILL), lambda: os.kill(child.pid, signal.SIGKILL)):
            try:
                target()
            except OSError:
                pass
        if child.pid not in self.statuses:
            try:
                os.waitpid(child.pid, 0)
            except ChildProcessError:
                pass
        self.statuses.pop(child.pid, None)
        self.cpu_at_exit.pop(child.pid, None)
        os.close(child.fd)

    def _reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.statuses[pid] = status
            self.cpu_at_exit[pid] = usage.ru_utime + usage.ru_stime

    def _measure_cpu(self, running: dict) -> None:
        """Each running job's CPU seconds: every process in its group, with all their threads."""
        if not running or time.monotonic() - self._checked_cpu < CPU_CHECK_SECONDS:
            return
        self._checked_cpu = time.monotonic()
        used = _cpu_by_group(set(running))
        for pid, child in running.items():
            child.cpu = max(child.cpu, used.get(pid, 0.0))

    def _kill_strays(self, running: dict) -> None:
        """Kill processes a finished job left behind (they came back to us: PID 1 or subreaper)."""
        for pid in _children_of(os.getpid()):
            if pid not in running:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self._reap()
        for pid in [p for p in self.statuses if p not in running]:
            del self.statuses[pid]
            self.cpu_at_exit.pop(pid, None)

    def _scratch_full(self) -> bool:
        """Outside bubblewrap the scratch folder is on the real disk: watch how much it holds."""
        if self.sandbox.name == "bwrap" or time.monotonic() - self._checked_scratch < 0.5:
            return False
        self._checked_scratch = time.monotonic()
        total, seen = 0, 0
        for folder, _, files in os.walk(self.sandbox.scratch):
            for name in files:
                seen += 1
                try:
                    total += os.lstat(os.path.join(folder, name)).st_blocks * 512
                except OSError:
                    continue
                if total > SCRATCH_CAP or seen > 100_000:
                    return True
        return False


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def _process_stats():
    """(pid, the fields of /proc/<pid>/stat after the command name) for every process we can see."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        yield int(name), stat[stat.rfind(b")") + 2:].split()


def _cpu_by_group(groups: set[int]) -> dict[int, float]:
    """{process group: CPU seconds} from /proc: user + system time of each member (all its threads)
    and of the children it has reaped. Empty without /proc (macOS): RLIMIT_CPU alone stops a task there."""
    used: dict[int, float] = {}
    for _, fields in _process_stats():
        if len(fields) > 14 and int(fields[2]) in groups:
            ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
            used[int(fields[2])] = used.get(int(fields[2]), 0.0) + ticks / _TICK
    return used


def _children_of(parent: int) -> list[int]:
    return [pid for pid, fields in _process_stats() if len(fields) > 1 and int(fields[1]) == parent]


def harden_self() -> None:
    """The worker's own protections: not dumpable (no ptrace, no /proc/pid/mem), orphans come back to it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        if os.getpid() != 1:
            libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.jail.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--control", type=int, required=True, help="fd to read the grader's messages from")
    parser.add_argument("--results", type=int, required=True, help="fd to write outcomes to")
    args = parser.parse_args(argv)
    harden_self()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)

    import torch

    from .. import run  # noqa: F401 - imported before any child: children need not find modules
    from ..loader import Loader, use
    from ..reference import CompiledLessons
    from ..tasks import all_tasks

    torch.set_num_threads(1)
    all_tasks()
    config = receive_json(args.control)
    sandbox = Sandbox(**config["sandbox"])
    if sandbox.name != "bwrap":
        seccomp.program()  # built once here: each child loads it on itself (bwrap loaded it for the jail)
    os.makedirs(sandbox.scratch, exist_ok=True)
    os.environ["TMPDIR"] = sandbox.scratch
    reference = CompiledLessons()
    loader = use(Loader(deps=reference, default_source=reference))
    supervisor = Supervisor(loader, sandbox, config.get("parallel", 2))

    def emit(job_id: int, payload: bytes) -> None:
        view = memoryview(tagged(job_id, payload))
        while view:
            view = view[os.write(args.results, view):]

    def more() -> list[Job] | None:
        """The next lesson's jobs, after loading the reference lessons sent before them."""
        while True:
            try:
                message = receive_json(args.control)
            except EOFError:
                return None
            if message["type"] == "reference":
                reference.add(CompiledLessons.from_bytes(base64.b64decode(message["data"])))
                loader.preload(reference.ids(), reference)
            elif message["type"] == "jobs":
                return [Job(**job) for job in message["jobs"]]
            else:
                return None

    supervisor.run([], emit, more, more_fd=args.control)
    return 0


if __name__ == "__main__":
    status = main()
    sys.stderr.flush()
    # Every outcome went out through os.write: nothing is buffered. Skipping the interpreter's
    # teardown (torch's, mostly) saves about half a second per worker, a student's wait on the
    # nbgrader path, where a student's worker is closed before the next one starts.
    os._exit(status)
