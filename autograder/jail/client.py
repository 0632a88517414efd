"""The grader's side of the jail: start a worker, hand it jobs and reference lessons, read outcomes.

    isolation = choose("auto")                     # bwrap, else landlock, else limits
    outcomes = run_jobs(jobs, isolation, readable=[submission], reference=Source.parse("solutions"))

One worker per submission. Jobs run lesson by lesson; before a lesson's jobs the worker receives the
compiled reference of the lessons *before* it, never more. (Hidden tests run outside student code:
hidden.py, on top of this module.) If a worker dies (a job killed it, or it stopped
answering), the jobs it had not reported are run again one by one, each in a fresh worker, so only
the job that did it fails. Only this process decides scores: the outcomes are plain data.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..reference import CompiledLessons
from . import bwrap, hidden_runner, landlock, seccomp, view
from .child import Job, Sandbox
from .frames import OUTPUT_LIMIT, RESULT_LIMIT, NotPlainValue, send_json, unframe
from .limits import JAIL_PIDS, PidsCgroup

if TYPE_CHECKING:  # imported where used: run.py imports torch, which the worker's start should overlap
    from ..run import Outcome

STARTUP_SECONDS = 60.0  # a worker's start (imports, reference lessons) before its first job's clock runs
MODES = ("bwrap", "landlock", "limits")


class JailUnavailable(RuntimeError):
    """The jail asked for cannot be built here; the message says what to install or pass."""


@dataclasses.dataclass(frozen=True)
class Isolation:
    name: str  # "bwrap", "landlock" or "limits"
    detail: str  # one line for reports

    def __str__(self) -> str:
        return self.detail


def choose(wanted: str = "auto") -> Isolation:
    """The strongest jail this machine offers ("auto"), or exactly `wanted` (JailUnavailable if not)."""
    if wanted not in ("auto", *MODES):
        raise JailUnavailable(f"unknown jail {wanted!r}: choose auto, {', '.join(MODES)}")
    ok, why = bwrap.usable() if wanted in ("auto", "bwrap") else (False, "")
    abi = landlock.abi_version()
    cgroup = "pids cgroup" if os.geteuid() == 0 else "rlimits"
    syscalls = seccomp.available()[1]  # "seccomp (...)", or "no syscall filter (why)"
    if ok:
        return Isolation("bwrap", f"bubblewrap ({why}: mount, PID, network, IPC, user namespaces; "
                                  f"{cgroup}, {JAIL_PIDS} processes)" + (f"; Landlock ABI {abi}" if abi else "")
                                  + f"; {syscalls}")
    if wanted == "bwrap":
        raise JailUnavailable(why)
    if abi and wanted in ("auto", "landlock"):
        return Isolation("landlock", f"Landlock ABI {abi} and resource limits; {syscalls} "
                                     f"(no bubblewrap: {why or 'not asked'})")
    if wanted == "landlock":
        raise JailUnavailable("Landlock is not available here (it needs Linux 5.13+ with Landlock enabled)")
    return Isolation("limits", f"resource limits only: student code can read files the grader can "
                               f"(no bubblewrap, no Landlock); {syscalls}")


def decode(payload: bytes, job: Job):
    """An outcome from a child's bytes; anything malformed is the student's failure, not ours."""
    from ..run import Outcome

    try:
        result = unframe(payload)
    except NotPlainValue as err:  # our own fixed words, naming what kind of value it was
        return Outcome("error", reason=str(err))
    except Exception:  # noqa: BLE001 - a child can write anything into its pipe
        return Outcome("error", reason="sent back unreadable results (did the code write to a pipe or exit early?)")
    status, reason, output = result["status"], result.get("reason", "")[:500], result.get("output", "")
    if status == "error" and reason.startswith("ran out of memory"):
        reason = f"used more than {job.memory_gib:g} GiB of memory"
    if len(output) > 2 * OUTPUT_LIMIT + 200:
        output = output[: 2 * OUTPUT_LIMIT] + "\n... (output cut)"
    if job.kind == "hidden":  # the trusted runner's verdict: one of its fixed phrases
        output = ""
        if status == "error" and not (reason in hidden_runner.VERDICTS or reason.startswith("name ")):
            reason = hidden_runner.FAILED
    return Outcome(status, result.get("value") if status == "ok" else None, reason, output)


def spawn(argv: list[str], fds, filter_fd: int | None, stderr, env, cwd) -> subprocess.Popen:
    """Start a jail's first process with these fds (and bwrap's syscall filter, closed here once read)."""
    try:
        return subprocess.Popen(argv, pass_fds=tuple(fd for fd in (*fds, filter_fd) if fd is not None),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=cwd)
    finally:
        seccomp.close(filter_fd)


class Worker:
    """One worker process (in bubblewrap or not) and the pipes to it."""

    def __init__(self, isolation: Isolation, readable, parallel: int, pass_fds=()):
        self.isolation = isolation
        control_r, self.control = os.pipe()
        self.results, results_w = os.pipe()
        argv = [sys.executable, "-m", "autograder.jail.worker", "--control", str(control_r),
                "--results", str(results_w)]
        readable = [Path(p) for p in readable]
        self.cgroup = None
        filter_fd = None
        if isolation.name == "bwrap":
            self.scratch_host = None
            scratch = "/tmp/scratch"
            filter_fd = seccomp.program_fd()
            argv = bwrap.command(argv, readable=readable, as_pid_1=True, seccomp_fd=filter_fd,
                                 env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
            sandbox = Sandbox(["/"], ["/tmp"], [], scratch, "bwrap")
            env, cwd = None, None
        else:
            self.scratch_host = tempfile.mkdtemp(prefix="gpt-course-scratch-")
            scratch = os.path.join(self.scratch_host, "tmp")
            os.makedirs(os.path.join(self.scratch_host, "home"))
            env = bwrap.jail_environment({"TMPDIR": scratch, "HOME": os.path.join(self.scratch_host, "home"),
                                          "MPLCONFIGDIR": os.path.join(self.scratch_host, "home", ".mpl")})
            env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
            cwd = self.scratch_host
            grants = [str(p) for p in view.readable(readable)] if isolation.name == "landlock" else []
            sandbox = Sandbox(grants, [self.scratch_host], [str(p) for p in view.listable()], scratch,
                              isolation.name)
        if isolation.name != "limits":
            self.cgroup = PidsCgroup.create()
            if self.cgroup:
                argv = self.cgroup.trampoline(argv)
        self.stderr = tempfile.TemporaryFile()
        self.process = spawn(argv, (control_r, results_w, *pass_fds), filter_fd, self.stderr, env, cwd)
        os.close(control_r)
        os.close(results_w)
        os.set_blocking(self.results, False)
        self.buffer = bytearray()
        self.writer: threading.Thread | None = None
        self.sent: set[str] = set()  # the reference lessons this worker holds: its children may load them
        self._control_lock = threading.Lock()
        send_json(self.control, {"sandbox": sandbox.__dict__, "parallel": parallel})

    def feed(self, groups: list[list[Job]], reference: CompiledLessons, last: bool = True) -> None:
        """Send every lesson's jobs, each after the reference lessons before it; then end the input
        (unless not `last`: a warm worker gets the next notebook's jobs through another feed).

        A thread does this while the caller reads outcomes: neither pipe can fill up and stall the
        other. The worker reads the next lesson only once every job before it has started."""
        if any(job.hidden for group in groups for job in group):  # a worker runs student code
            raise ValueError("hidden test code must never go to a worker (see hidden.py)")
        if self.writer is not None:
            self.writer.join()  # the feed before this one has been written in full

        def write() -> None:
            try:
                for group in groups:
                    earlier = [lid for lid in reference.ids() if lid < group[0].lesson and lid not in self.sent]
                    if earlier:
                        data = base64.b64encode(reference.only(earlier).to_bytes()).decode()
                        send_json(self.control, {"type": "reference", "data": data})
                        self.sent.update(earlier)
                    send_json(self.control, {"type": "jobs", "jobs": [job.to_dict() for job in group]})
            except OSError:  # the worker is gone: its jobs are reported missing
                pass
            finally:
                if last:
                    self.end_input()

        self.writer = threading.Thread(target=write, daemon=True)
        self.writer.start()

    def collect(self, jobs: list[Job]) -> dict[int, bytes]:
        """Payloads of the jobs the worker reported (all of them, unless it died or stalled)."""
        deadline = time.monotonic() + STARTUP_SECONDS + sum(job.wall_seconds + 5 for job in jobs)
        return read_tagged(self.results, self.buffer, {job.id for job in jobs}, deadline, self.process)

    def problem(self) -> str:
        self.stderr.seek(0)
        lines = self.stderr.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1][:300] if lines else ""

    def end_input(self) -> None:
        """No more jobs: the worker finishes those it has and exits."""
        with self._control_lock:
            if self.control >= 0:
                _close(self.control)
                self.control = -1

    def close(self) -> None:
        _close(self.results)
        if self.writer is None or not self.writer.is_alive():
            self.end_input()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.writer is not None:
            self.writer.join(timeout=5)  # a write to a killed worker fails at once
        self.end_input()
        if self.cgroup:
            self.cgroup.remove()
        if self.scratch_host:
            shutil.rmtree(self.scratch_host, ignore_errors=True)
        self.stderr.close()


_early: dict[tuple, Worker] = {}  # workers started ahead of their jobs (prestart)


def default_parallel(parallel: int | None = None) -> int:
    return parallel or max(1, min(4, os.cpu_count() or 1))


def prestart(isolation: Isolation, readable=(), parallel: int | None = None) -> None:
    """Start the worker for the next run_jobs now: its start-up (bubblewrap, Python, torch) then
    overlaps the caller's own imports. run_jobs takes it if it asks for the same jail."""
    key = (isolation.name, tuple(str(p) for p in readable), default_parallel(parallel))
    _early[key] = Worker(isolation, readable, key[2])


class WarmWorker:
    """A worker kept from one run_jobs to the next while the same student's notebooks are graded one
    after another (nbgrader's autograde, notebook by notebook): bubblewrap, Python and torch start
    once per student, as in `make grade`, not once per notebook.

    The caller owns it and closes it before the next student (grade_checks.py): a worker never runs
    two students' code. The readable folders are fixed when it starts; the caller puts each notebook
    in them before its jobs. A notebook whose lesson is not after every lesson whose reference the
    worker holds gets a fresh worker, so no child ever holds the reference of its own lesson."""

    def __init__(self, isolation: Isolation, readable=(), parallel: int | None = None):
        self.isolation, self.readable, self.parallel = isolation, list(readable), default_parallel(parallel)
        self.worker: Worker | None = None
        self.next_id = 0  # job ids are unique over the worker's life: a late outcome never passes for another
        self.started = 0  # workers started (tests)

    def run(self, jobs: list[Job], reference: CompiledLessons) -> dict[int, Outcome]:
        from ..run import Outcome

        if not jobs:
            return {}
        first = min(job.lesson for job in jobs)
        if self.worker is not None and (self.worker.process.poll() is not None
                                        or any(lid >= first for lid in self.worker.sent)):
            self.close()
        if self.worker is None:
            self.worker = Worker(self.isolation, self.readable, self.parallel)
            self.started += 1
        renamed = [dataclasses.replace(job, id=self.next_id + i) for i, job in enumerate(jobs)]
        self.next_id += len(jobs)
        original = {new.id: job.id for new, job in zip(renamed, jobs)}
        self.worker.feed(_groups(sorted(renamed, key=lambda j: j.lesson)), reference, last=False)
        payloads = self.worker.collect(renamed)
        outcomes = {original[job.id]: decode(payloads[job.id], job) for job in renamed if job.id in payloads}
        unreported = [job for job in jobs if job.id not in outcomes]
        if unreported:  # the worker died or stalled: the rest as run_jobs would, each in a fresh worker
            self.close()
            outcomes.update(_run_batch(sorted(unreported, key=lambda j: j.lesson), self.isolation, self.readable,
                                       reference, self.parallel))
        return {job.id: outcomes.get(job.id) or Outcome("error", reason="was not run") for job in jobs}

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def run_jobs(jobs: list[Job], isolation: Isolation, *, readable=(), reference: CompiledLessons | None = None,
             parallel: int | None = None, warm: WarmWorker | None = None) -> dict[int, Outcome]:
    """Run the jobs in jails; {job id: outcome}. `reference`: compiled lessons later lessons build on.
    `warm`: a worker kept between calls for one student (its jail and readable folders, not these)."""
    parallel = default_parallel(parallel)
    reference = reference or CompiledLessons()
    outcomes: dict[int, Outcome] = {}
    if any(job.kind == "hidden" for job in jobs):
        raise ValueError("hidden tests run through hidden.run_hidden, never in a worker")
    batch = sorted(jobs, key=lambda j: j.lesson)
    if batch and warm is not None:
        outcomes.update(warm.run(batch, reference))
    elif batch:
        outcomes.update(_run_batch(batch, isolation, readable, reference, parallel))
    return outcomes


def _groups(jobs: list[Job]) -> list[list[Job]]:
    groups: list[list[Job]] = []
    for job in jobs:
        if groups and groups[-1][0].lesson == job.lesson:
            groups[-1].append(job)
        else:
            groups.append([job])
    return groups


def _run_batch(jobs, isolation, readable, reference, parallel, retry: bool = True) -> dict[int, Outcome]:
    from ..run import Outcome

    key = (isolation.name, tuple(str(p) for p in readable), parallel)
    worker = _early.pop(key, None) or Worker(isolation, readable, parallel)
    try:
        worker.feed(_groups(jobs), reference)
        payloads = worker.collect(jobs)
        unreported = [job for job in jobs if job.id not in payloads]
        problem = worker.problem() if unreported else ""
    finally:
        worker.close()
    outcomes = {job.id: decode(payloads[job.id], job) for job in jobs if job.id in payloads}
    if unreported and retry and len(jobs) > 1:  # the worker died: the rest, one job per fresh worker
        for job in unreported:
            outcomes.update(_run_batch([job], isolation, readable, reference, 1, retry=False))
    elif unreported:
        why = "stopped the grading worker (did it kill its parent or exhaust the process limit?)"
        if problem.startswith("bwrap:"):
            why = f"could not be graded: the jail failed to start ({problem})"
        for job in unreported:
            outcomes[job.id] = Outcome("error", reason=why)
    return outcomes


def read_tagged(fd: int, buffer: bytearray, wanted: set[int], deadline: float, process) -> dict[int, bytes]:
    """{job id: payload} read from a process's results pipe until all `wanted` came, it ended, or time ran out."""
    done: dict[int, bytes] = {}
    while time.monotonic() < deadline and wanted - set(done):
        ready, _, _ = select.select([fd], [], [], min(1.0, max(0.0, deadline - time.monotonic())))
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            continue
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= 16:
            job_id, size = struct.unpack("<QQ", buffer[:16])
            if size > RESULT_LIMIT + 64:
                return done  # not our process's behaviour: treat it as dead
            if len(buffer) < 16 + size:
                break
            done[job_id] = bytes(buffer[16:16 + size])
            del buffer[:16 + size]
    return done


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def run_forked(jobs: list[Job], *, loader, namespace: dict | None = None, readable=()) -> dict[int, Outcome]:
    """Run jobs in a worker forked from this process (it inherits `namespace`, the loader, the tasks).

    A notebook's check cell grades the definitions in its own kernel this way: same worker, same
    children, same limits and Landlock as a jailed worker, without bubblewrap (the kernel's
    definitions exist only in its memory). Also used by tests that grade tasks of their own.
    """
    import signal

    from .worker import Supervisor, harden_self

    abi = landlock.abi_version()
    scratch_host = tempfile.mkdtemp(prefix="gpt-course-scratch-")
    scratch = os.path.join(scratch_host, "tmp")
    os.makedirs(scratch)
    grants = [str(p) for p in view.readable(readable)] if abi else []
    sandbox = Sandbox(grants, [scratch_host], [str(p) for p in view.listable()], scratch,
                      "landlock" if abi else "limits")
    seccomp.program()  # built once per kernel, before the fork: each child loads it on itself
    receive, send = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        try:
            os.close(receive)
            harden_self()
            os.setpgid(0, 0)

            def emit(job_id: int, payload: bytes) -> None:
                from .frames import tagged

                view_ = memoryview(tagged(job_id, payload))
                while view_:
                    view_ = view_[os.write(send, view_):]

            Supervisor(loader, sandbox, 1, namespace).run(jobs, emit)
        finally:
            os._exit(0)
    os.close(send)
    # the worker stops each job at its CPU limit; this only backs it up (wall_seconds: limits.py)
    data, deadline = bytearray(), time.monotonic() + sum(job.wall_seconds + 5 for job in jobs) + 10
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([receive], [], [], 0.5)
            if ready:
                chunk = os.read(receive, 1 << 20)
                if not chunk:
                    break
                data += chunk
    finally:
        os.close(receive)
        for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                target()
            except OSError:
                pass
        os.waitpid(pid, 0)
        shutil.rmtree(scratch_host, ignore_errors=True)
    from ..run import Outcome

    outcomes, by_id = {}, {job.id: job for job in jobs}
    while len(data) >= 16:
        job_id, size = struct.unpack("<QQ", data[:16])
        if len(data) < 16 + size or job_id not in by_id:
            break
        outcomes[job_id] = decode(bytes(data[16:16 + size]), by_id[job_id])
        del data[:16 + size]
    for job in jobs:
        outcomes.setdefault(job.id, Outcome("error", reason="stopped the grading worker before it reported"))
    return outcomes
