"""A task's child: the one process that runs student code, forked by the worker for one job.

Before any student code runs it puts itself in its own process group, keeps no descriptor but the
pipe to its worker, closes stdin (input() fails at once), sends Python and C-level output to a
capped buffer, limits its memory, file sizes, processes and CPU time, forgets what the worker loaded
that this task must not see (Loader.keep_only_for), enters Landlock and, outside bubblewrap (whose
jail has it already), loads the syscall filter (seccomp.py). Then it loads the notebook, runs the
job and writes one framed message of plain data to its pipe. The worker adds nothing to that
message and judges nothing: the trusted grader does, outside the jail.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from dataclasses import asdict, dataclass

from . import landlock, seccomp
from .frames import OUTPUT_LIMIT, frame
from .limits import limit_child, wall_backstop

@dataclass
class Job:
    """One thing to run on student code. kind: "task" (a check's exercise on a notebook), "namespace"
    (a check on the definitions of the process the worker was forked from: a notebook's own kernel),
    "serve" (load a notebook, then answer a hidden test's calls on socket `channel`: remote.Server),
    "train" (the capstone leaderboard: the lessons in folder `notebook` train a GPT as `settings` say and
    hand back its weights: leaderboard/trainer.py), or "hidden" (the grader's own record of an instructor's hidden test: its code, in `hidden`, goes
    to the hidden-test runner only, never to a worker; the worker gets the matching "serve" job)."""
    id: int
    task: str
    kind: str = "task"
    notebook: str | None = None
    timeout: float = 10.0  # CPU seconds (limits.py)
    memory_gib: float = 2.0
    hidden: str | None = None
    channel: int | None = None
    wall_timeout: float = 0.0  # wall-clock seconds; 0: limits.wall_backstop(timeout)
    settings: dict | None = None  # a "train" job's run (plain JSON data from the grader)

    @property
    def wall_seconds(self) -> float:
        return self.wall_timeout or wall_backstop(self.timeout)

    @property
    def lesson(self) -> str:
        return self.task.split(".")[0]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Sandbox:
    """What a child applies to itself: Landlock grants (empty readable = no Landlock) and its scratch."""
    readable: list[str]
    writable: list[str]
    listable: list[str]
    scratch: str
    name: str  # "bwrap", "landlock" or "limits": the jail the worker runs in


class _NoInput(io.TextIOBase):
    """sys.stdin while grading: input() fails at once with a reason the student can act on."""

    def readable(self):
        return True

    def read(self, *args):
        from ..wording import InputCalled

        raise InputCalled()

    readline = read


def _c_level_output(scratch: str) -> int:
    """Point fds 1 and 2 (C-level prints, subprocesses) at an unlinked file; return a fd to read it."""
    handle, name = tempfile.mkstemp(prefix="output-", dir=scratch)
    os.unlink(name)
    for fd in (1, 2):
        os.dup2(handle, fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return handle


def _head_of_file(fd: int, limit: int) -> str:
    size = os.fstat(fd).st_size
    if not size:
        return ""
    text = os.pread(fd, limit, 0).decode("utf-8", "replace")
    if size > limit:
        text += f"\n... ({size - limit} more bytes of C-level output not shown)"
    return text


def _enter_landlock(sandbox: Sandbox) -> str:
    if not sandbox.readable:
        return ""
    ruleset = landlock.make_ruleset(sandbox.readable, sandbox.writable, sandbox.listable)
    if ruleset is not None and landlock.restrict_self(ruleset):
        return f"landlock ABI {landlock.abi_version()}"
    return ""


def run(job: Job, send: int, loader, sandbox: Sandbox, namespace: dict | None = None) -> None:
    """Everything above, then the outcome as one framed message, then exit. Never returns."""
    import torch

    try:
        os.setpgid(0, 0)  # its own process group, so the worker can stop what it starts too
        keep = sorted({send, job.channel} - {None})
        for low, high in zip([3] + [fd + 1 for fd in keep], keep + [1 << 16]):
            os.closerange(low, high)
        tempfile.tempdir = os.environ["TMPDIR"] = sandbox.scratch
        output_fd = _c_level_output(sandbox.scratch)
        sys.stdin = _NoInput()
        limits = limit_child(job.memory_gib, job.timeout)
        torch.set_num_threads(1)
        loader.keep_only_for(job.lesson, job.notebook)
        landlocked = _enter_landlock(sandbox)
        # inside bubblewrap the jail's filter is already on (bwrap --seccomp); elsewhere load it now
        filtered = seccomp.active() if sandbox.name == "bwrap" else seccomp.apply_to_self()
        jail = " + ".join(x for x in (sandbox.name if sandbox.name != "limits" else "", landlocked,
                                      "seccomp" if filtered else "", limits) if x)
        outcome = _outcome(job, loader, namespace)
        c_output = _head_of_file(output_fd, OUTPUT_LIMIT)
        output = outcome.output + ("\n" if outcome.output and c_output else "") + c_output
        if job.kind == "serve":
            output = ""  # printed while a hidden test called it: its inputs are not the student's to see
        message = frame({"status": outcome.status, "value": outcome.value, "reason": outcome.reason,
                         "output": output, "isolation": jail})
        view = memoryview(message)
        while view:
            view = view[os.write(send, view):]
    except BaseException:  # noqa: BLE001 - the worker reports a child that sent nothing
        pass
    finally:
        os._exit(0)


def _outcome(job: Job, loader, namespace: dict | None):
    from ..loader import LessonLoadError, why_missing
    from ..run import Outcome, captured_output, run_exercise
    from ..wording import describe_exception, not_run_yet
    from ..tasks import get_task
    from .remote import Server

    with captured_output(OUTPUT_LIMIT) as printed:
        if job.kind == "train":
            from ..leaderboard.trainer import train_outcome

            outcome = train_outcome(job.notebook, job.settings)
            outcome.output = ""  # nothing the student's code printed leaves a leaderboard run
            return outcome
        task = get_task(job.task)
        if job.kind == "namespace":
            loader.with_reference_dependencies(namespace, job.lesson)
            outcome = run_exercise(task, namespace.__getitem__, missing=not_run_yet)
        else:
            try:
                module = loader.load(job.notebook, deps=loader.deps)
            except LessonLoadError as err:
                outcome = Outcome("error", reason=f"notebook could not be loaded: {err}")
            except BaseException as err:  # noqa: BLE001 - anything the notebook's cells do
                outcome = Outcome("error", reason=f"notebook could not be loaded: {describe_exception(err)}")
            else:
                if job.kind == "serve":
                    Server(module.__dict__).serve(job.channel)
                    outcome = Outcome("ok")
                else:
                    outcome = run_exercise(task, module.__dict__.__getitem__,
                                           missing=lambda name: why_missing(module, name))
    outcome.output = printed.text()
    return outcome
