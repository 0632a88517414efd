"""Run one task's exercise on a student's notebook in a child process, with limits.

Each task gets its own child, forked from a server process that has already imported torch (so a
child starts in milliseconds). The child loads the notebook, runs the exercise, and sends back
plain outputs; the parent judges them. Whatever the student's code does in the child (loop
forever, exhaust memory, exit, crash, print megabytes, patch torch) ends with that child and a
one-line reason.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import resource
import signal
from concurrent.futures import ThreadPoolExecutor

import torch

from .run import Outcome

OUTPUT_LIMIT = 2000  # characters of printed output kept per task
RESULT_LIMIT = 64 << 20  # bytes of outputs a child may send back

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["torch", "autograder.sandbox"])


def _vm_size() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _child(task_id: str, notebook: str, deps: str, memory_gib: float, conn) -> None:
    """Runs in the child: load the notebook, run the exercise, send the outcome as bytes."""
    from .loader import LessonLoadError, load_lesson
    from .run import captured_output, run_exercise
    from .tasks import get_task

    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # no input(), and C-level prints go nowhere
        os.dup2(devnull, fd)
    limit = _vm_size() + int(memory_gib * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    torch.set_num_threads(1)

    task = get_task(task_id)
    with captured_output(OUTPUT_LIMIT) as printed:
        try:
            module = load_lesson(notebook, deps=deps)
        except LessonLoadError as err:
            outcome = Outcome("error", reason=f"notebook could not be loaded: {err}")
        except BaseException as err:  # noqa: BLE001 - anything the notebook's cells do
            outcome = Outcome("error", reason=f"notebook could not be loaded: {err.__class__.__name__}: {err}")
        else:
            outcome = run_exercise(task, module.__dict__.__getitem__)
    payload = io.BytesIO()
    torch.save({"status": outcome.status, "value": outcome.value, "reason": outcome.reason,
                "output": printed.text()}, payload)
    conn.send_bytes(payload.getvalue())
    conn.close()
    os._exit(0)


def _reason_for_exit(code: int | None, memory_gib: float) -> str:
    if code is not None and code < 0:
        sig = signal.Signals(-code)
        if sig == signal.SIGSEGV:
            return "crashed the Python process (segmentation fault)"
        if sig == signal.SIGKILL:
            return f"was killed, probably for using more than {memory_gib:g} GiB of memory"
        return f"was stopped by signal {sig.name}"
    return "exited the process before finishing (os._exit or similar): remove that call"


def run_isolated(task, notebook, deps: str = "reference") -> Outcome:
    """Run `task` on `notebook` in a fresh child process; never raises for student behaviour."""
    receive, send = _context.Pipe(duplex=False)
    child = _context.Process(target=_child, args=(task.id, str(notebook), deps, task.memory_gib, send),
                             daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(task.timeout):
            if child.is_alive():
                return Outcome("error", reason=f"timed out after {task.timeout:g} s (an infinite loop?)")
            return Outcome("error", reason=_reason_for_exit(child.exitcode, task.memory_gib))
        try:
            data = receive.recv_bytes(RESULT_LIMIT)
        except (EOFError, OSError):
            child.join(5)
            return Outcome("error", reason=_reason_for_exit(child.exitcode, task.memory_gib))
        result = torch.load(io.BytesIO(data), weights_only=True)
        outcome = Outcome(result["status"], result["value"], result["reason"], result["output"])
        if outcome.status == "error" and "can't allocate memory" in outcome.reason:
            outcome.reason = f"used more than {task.memory_gib:g} GiB of memory"
        return outcome
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()


def run_many(jobs, workers: int | None = None) -> list[Outcome]:
    """run_isolated over (task, notebook, deps) jobs, a few children at a time, in order."""
    workers = workers or min(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: run_isolated(*job), jobs))
