"""Run one task's exercise on a student's notebook in a child process, with limits.

Each task gets its own child. On Linux the child is forked straight from the grader, which has
already imported torch and loaded the reference versions of earlier lessons (a child starts in
milliseconds and inherits them); elsewhere it comes from a forkserver. The child:

- closes stdin (input() fails at once), sends Python and C-level output to a capped buffer,
- limits its address space (memory) and the size of files it writes,
- enters a Landlock sandbox (landlock.py): the reference solutions and fixtures cannot be read,
  the repository cannot be written, the grader cannot be signalled or traced,
- loads the notebook, runs the exercise, and writes plain outputs back through a pipe.

The parent reads that pipe without ever blocking on it, enforces the time limit, kills the child's
whole process group, and turns every way a child can end into a one-line reason. It never unpickles
anything but plain data (torch.load with weights_only=True). The judging against the reference
happens afterwards in the parent (run.judge), out of the student's reach.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import resource
import select
import signal
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field

import torch

from . import landlock
from .run import Outcome

OUTPUT_LIMIT = 2000  # characters of printed output kept per task
RESULT_LIMIT = 64 << 20  # bytes of outputs a child may send back
FILE_LIMIT = 256 << 20  # bytes any one file written by a child may reach (RLIMIT_FSIZE)
TRUSTED_DEPS = "solutions"  # the only dependency source the grader loads in its own process

_METHOD = "fork" if sys.platform.startswith("linux") else "forkserver"
_ruleset: int | None = None  # built once in the parent, inherited by forked children
_notices: set[str] = set()


def _notice_once(key: str, text: str) -> None:
    if key not in _notices:
        _notices.add(key)
        print(f"note: {text}", file=sys.stderr)


# ---------------------------------------------------------------- child side


class _NoInput(io.TextIOBase):
    """sys.stdin while grading: input() fails at once with a reason the student can act on."""

    def readable(self):
        return True

    def read(self, *args):
        from .run import InputCalled

        raise InputCalled()

    readline = read


def _c_level_output() -> int:
    """Point fds 1 and 2 (C-level prints, subprocesses) at an unlinked file; return a fd to read it."""
    handle, name = tempfile.mkstemp(prefix="autograder-output-")
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


def _vm_size() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _limit_resources(memory_gib: float) -> None:
    limit = _vm_size() + int(memory_gib * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write fails instead of killing the child
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


def _load_trusted_deps(task, deps: str) -> None:
    """Make exactly the reference lessons before this one available, before the sandbox hides them."""
    from . import loader

    loader.forget_preloaded(task.lesson)  # later reference lessons (and this one) must not be in reach
    if deps == TRUSTED_DEPS:
        loader.preload(_earlier_lessons(task.lesson, deps), deps)


def _earlier_lessons(lesson: str, source: str) -> list[str]:
    from .paths import lesson_dirs

    return [lid for lid in lesson_dirs(source) if lid < lesson]


def _exercise_outcome(task, notebook: str, deps: str, ruleset: int | None) -> tuple[Outcome, str]:
    from .loader import LessonLoadError, forget_other_notebooks, load_lesson, read_notebook
    from .run import captured_output, describe_exception, run_exercise

    try:
        read_notebook(notebook)  # before the sandbox: the notebook itself may be a reference one
    except LessonLoadError as err:
        return Outcome("error", reason=f"notebook could not be loaded: {err}"), "not needed"
    forget_other_notebooks(notebook)  # parsed reference notebooks the grader read must not stay in reach
    isolation = "landlock" if ruleset is not None and landlock.restrict_self(ruleset) else "none"
    with captured_output(OUTPUT_LIMIT) as printed:
        try:
            module = load_lesson(notebook, deps=deps)
        except LessonLoadError as err:
            outcome = Outcome("error", reason=f"notebook could not be loaded: {err}")
        except BaseException as err:  # noqa: BLE001 - anything the notebook's cells do
            outcome = Outcome("error", reason=f"notebook could not be loaded: {describe_exception(err)}")
        else:
            outcome = run_exercise(task, module.__dict__.__getitem__)
    outcome.output = printed.text()
    return outcome, isolation


def _frame(result: dict) -> bytes:
    payload = io.BytesIO()
    torch.save(result, payload)
    data = payload.getvalue()
    if len(data) > RESULT_LIMIT:
        return _frame({"status": "error", "value": None, "output": result["output"],
                       "isolation": result["isolation"],
                       "reason": f"returned more than {RESULT_LIMIT >> 20} MiB of outputs"})
    return struct.pack("<Q", len(data)) + data


def _child(task, notebook: str, deps: str, send_fd, ruleset: int | None) -> None:
    """Runs in the child: everything above, then the outcome as one framed message, then exit."""
    try:
        os.setpgid(0, 0)  # its own process group, so the grader can stop what it starts too
        if landlock.has_scratch():  # the only folder the sandbox lets student code write in
            tempfile.tempdir = os.environ["TMPDIR"] = landlock.scratch_dir()
        send = send_fd if isinstance(send_fd, int) else send_fd.fileno()
        output_fd = _c_level_output()
        sys.stdin = _NoInput()
        _limit_resources(task.memory_gib)
        torch.set_num_threads(1)
        if "autograder.fixtures" in sys.modules:  # reference outputs the grader may hold in memory
            sys.modules["autograder.fixtures"]._load.cache_clear()
        _load_trusted_deps(task, deps)
        if ruleset is None:
            ruleset = landlock.make_ruleset()
        outcome, isolation = _exercise_outcome(task, notebook, deps, ruleset)
        c_output = _head_of_file(output_fd, OUTPUT_LIMIT)
        output = outcome.output + ("\n" if outcome.output and c_output else "") + c_output
        message = _frame({"status": outcome.status, "value": outcome.value, "reason": outcome.reason,
                          "output": output, "isolation": isolation})
        view = memoryview(message)
        while view:
            view = view[os.write(send, view):]
    except BaseException:  # noqa: BLE001 - the parent reports a child that sent nothing
        pass
    finally:
        os._exit(0)


# ---------------------------------------------------------------- parent side


def _reason_for_exit(code: int | None, memory_gib: float) -> str:
    if code is not None and code < 0:
        sig = signal.Signals(-code)
        if sig == signal.SIGSEGV:
            return "crashed the Python process (segmentation fault; very deep recursion?)"
        if sig == signal.SIGKILL:
            return f"was killed, probably for using more than {memory_gib:g} GiB of memory"
        return f"was stopped by signal {sig.name}"
    return "exited the process before finishing (os._exit or similar): remove that call"


def _as_outcome(data: bytes, task) -> Outcome:
    """The child's message as an Outcome; anything malformed is the student's failure, not ours."""
    try:
        (size,) = struct.unpack("<Q", data[:8])
        if size != len(data) - 8:
            raise ValueError("truncated")
        result = torch.load(io.BytesIO(data[8:]), weights_only=True)
        status, reason, output = result["status"], result["reason"], result["output"]
        if status not in ("ok", "not_started", "error") or not isinstance(reason, str) or not isinstance(output, str):
            raise ValueError("malformed")
    except Exception:  # noqa: BLE001 - a child can write anything into its pipe
        return Outcome("error", reason="sent back unreadable results (did the code write to a pipe or exit early?)")
    if result.get("isolation") == "none":
        _notice_once("isolation", "Landlock is not available here (it needs Linux 5.13+), so student code is "
                                  "not kept from reading the reference while graded; time, memory and process "
                                  "limits still apply.")
    reason = reason[:500]
    if status == "error" and reason.startswith("ran out of memory"):
        reason = f"used more than {task.memory_gib:g} GiB of memory"
    if len(output) > 2 * OUTPUT_LIMIT + 200:
        output = output[: 2 * OUTPUT_LIMIT] + "\n... (output cut)"
    return Outcome(status, result["value"] if status == "ok" else None, reason, output)


@dataclass
class _Child:
    index: int
    task: object
    process: object
    fd: int
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    overflow: bool = False

    def drain(self) -> None:
        """Read what is in the pipe now, never waiting."""
        while True:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                return
            except OSError:
                return
            if not chunk:
                return
            if len(self.data) + len(chunk) > RESULT_LIMIT + 8:
                self.overflow = True
                return
            self.data += chunk

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        os.close(self.fd)


def _trusted_ruleset() -> int | None:
    global _ruleset
    if _ruleset is None:
        _ruleset = landlock.make_ruleset()
        if _ruleset is not None:
            os.set_inheritable(_ruleset, False)  # forked children inherit it anyway; exec'd ones need not
    return _ruleset


def _start(context, index: int, task, notebook, deps: str) -> _Child:
    from .loader import _resolve_deps

    deps = _resolve_deps(str(deps))
    if _METHOD == "fork":
        _load_trusted_deps(task, deps)  # once in the grader; its children inherit the loaded lessons
        ruleset = _trusted_ruleset()
    else:
        ruleset = None
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(task, str(notebook), deps, send, ruleset), daemon=True)
    process.start()
    send.close()
    fd = os.dup(receive.fileno())
    receive.close()
    os.set_blocking(fd, False)
    return _Child(index, task, process, fd, time.monotonic() + task.timeout)


def _finish(child: _Child) -> Outcome:
    child.drain()
    task = child.task
    if child.overflow:
        return Outcome("error", reason=f"returned more than {RESULT_LIMIT >> 20} MiB of outputs")
    if child.data:
        return _as_outcome(bytes(child.data), task)
    child.process.join(5)  # its pipe closes a moment before its exit status is there to read
    return Outcome("error", reason=_reason_for_exit(child.process.exitcode, task.memory_gib))


def run_many(jobs, workers: int | None = None) -> list[Outcome]:
    """run_isolated over (task, notebook, deps) jobs, a few children at a time; outcomes in job order.

    Jobs start in lesson order, because the reference lessons the grader loads for its children
    only ever grow: a child for lesson N must see the reference of lessons before N only.
    """
    jobs = list(jobs)
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    context = multiprocessing.get_context(_METHOD)
    queue = sorted(range(len(jobs)), key=lambda i: jobs[i][0].lesson)
    outcomes: list[Outcome | None] = [None] * len(jobs)
    running: dict[int, _Child] = {}
    try:
        while queue or running:
            while queue and len(running) < workers:
                index = queue.pop(0)
                child = _start(context, index, *jobs[index])
                running[child.process.sentinel] = child
            now = time.monotonic()
            timeout = max(0.0, min(c.deadline for c in running.values()) - now)
            watched = list(running) + [c.fd for c in running.values()]
            ready, _, _ = select.select(watched, [], [], timeout)
            for fd in ready:
                for child in running.values():
                    if child.fd == fd:
                        child.drain()
            now = time.monotonic()
            for sentinel, child in list(running.items()):
                if sentinel in ready or child.overflow:
                    outcome = _finish(child)
                elif now >= child.deadline:
                    child.drain()
                    outcome = Outcome("error", reason=f"timed out after {child.task.timeout:g} s (an infinite loop?)")
                else:
                    continue
                child.stop()
                del running[sentinel]
                outcomes[child.index] = outcome
    finally:
        for child in running.values():
            child.stop()
    return outcomes


def run_isolated(task, notebook, deps: str = "reference") -> Outcome:
    """Run `task` on `notebook` in a fresh child process; never raises for student behaviour."""
    return run_many([(task, notebook, deps)], workers=1)[0]
