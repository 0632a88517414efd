"""Hidden tests, judged outside student code: the grader's side.

    outcomes = run_hidden(jobs, isolation, readable=[submission], reference=compiled)

For a submission's hidden tests the grader starts two processes and connects them, job by job, with
a socket pair it makes itself:

- a worker (client.Worker, the same jail as every check) whose children each load the student's
  notebook and serve calls on their end of a socket (job kind "serve"): student code runs only here,
  under the task's limits; it never receives a line of the hidden test;
- the hidden-test runner (hidden_runner.py), started in bubblewrap when the machine has it, with no
  part of the submission mounted: it runs each hidden test with the student's names bound to proxies
  and decides the verdict from the plain values that come back.

Only the runner's verdicts are read (client.decode keeps them to its fixed phrases); what the serving
children send the worker is drained and dropped.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..reference import CompiledLessons
from . import bwrap, hidden_runner, seccomp
from .client import STARTUP_SECONDS, Isolation, Worker, _groups, decode, read_tagged, spawn
from .child import Job
from .frames import send_json

if TYPE_CHECKING:
    from ..run import Outcome


def answer_seconds(job: Job) -> float:
    """The runner's wall-clock backstop for one answer; the jail stops the student's code long before."""
    return STARTUP_SECONDS + 5 * job.timeout


class Runner:
    """The hidden-test runner process, with its ends of the jobs' sockets."""

    def __init__(self, isolation: Isolation, jobs: list[tuple[Job, int]]):
        control_r, control_w = os.pipe()
        self.results, results_w = os.pipe()
        argv = [sys.executable, "-m", "autograder.jail.hidden_runner", "--control", str(control_r),
                "--results", str(results_w)]
        env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        self.scratch = tempfile.mkdtemp(prefix="gpt-course-hidden-")
        filter_fd = None
        if isolation.name == "bwrap":  # nothing of the submission, nothing writable but its own /tmp
            filter_fd = seccomp.program_fd()
            argv, env, cwd = bwrap.command(argv, env=env, seccomp_fd=filter_fd), None, None
        else:
            env, cwd = bwrap.jail_environment({**env, "TMPDIR": self.scratch, "HOME": self.scratch}), self.scratch
        channels = [fd for _, fd in jobs]
        self.stderr = tempfile.TemporaryFile()
        self.process = spawn(argv, (control_r, results_w, *channels), filter_fd, self.stderr, env, cwd)
        os.close(control_r)
        os.close(results_w)
        os.set_blocking(self.results, False)
        send_json(control_w, {"jobs": [dataclasses.asdict(hidden_runner.HiddenJob(job.id, job.hidden or "", fd,
                                                                                   answer_seconds(job)))
                                       for job, fd in jobs]})
        os.close(control_w)

    def collect(self, jobs: list[Job]) -> dict[int, bytes]:
        deadline = time.monotonic() + STARTUP_SECONDS + sum(answer_seconds(job) for job in jobs)
        return read_tagged(self.results, bytearray(), {job.id for job in jobs}, deadline, self.process)

    def close(self) -> None:
        os.close(self.results)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stderr.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def run_hidden(jobs: list[Job], isolation: Isolation, readable=(), reference: CompiledLessons | None = None
               ) -> dict[int, Outcome]:
    """{job id: outcome} for hidden jobs (kind "hidden", code in job.hidden): each a fixed verdict."""
    from ..run import Outcome

    jobs = sorted(jobs, key=lambda j: j.lesson)
    pairs = [socket.socketpair() for _ in jobs]
    for pair in pairs:
        for end in pair:
            end.setblocking(True)
    runner_ends = [a.detach() for a, _ in pairs]
    student_ends = [b.detach() for _, b in pairs]
    serve = [dataclasses.replace(job, kind="serve", hidden=None, channel=fd) for job, fd in zip(jobs, student_ends)]
    runner = worker = None
    try:
        runner = Runner(isolation, list(zip(jobs, runner_ends)))
        worker = Worker(isolation, readable, 1, pass_fds=student_ends)
    finally:
        for fd in runner_ends + student_ends:
            os.close(fd)  # the processes hold them now: a side that dies is EOF to the other
    drained: dict[int, bytes] = {}
    drain = threading.Thread(target=lambda: drained.update(worker.collect(serve)), daemon=True)
    try:
        worker.feed(_groups(serve), reference or CompiledLessons())
        drain.start()
        verdicts = runner.collect(jobs)
    finally:
        runner.close()
        if drain.is_alive():
            drain.join(timeout=10)
        worker.close()
    stopped = Outcome("error", reason=hidden_runner.STOPPED)
    return {job.id: decode(verdicts[job.id], job) if job.id in verdicts else stopped for job in jobs}
