"""Run one task's exercise on student code, then judge the outputs: the steps every check shares.

`run_exercise` runs in a jailed child process (jail/child.py), whether `make grade`, nbgrader or a
notebook's check cell asked; `judge` runs in the trusted caller. So every path gives the same verdict.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any, Callable

import torch

from .compare import CheckFailed, to_plain
from .tasks import Task
from .wording import describe_exception, exception_line, not_defined, out_of_memory

PASSED, FAILED, NOT_STARTED = "passed", "failed", "not started"


@dataclass
class Outcome:
    """What running a task's exercise produced."""
    status: str  # "ok", "not_started" or "error"
    value: Any = None  # the plain outputs, when ok
    reason: str = ""  # one line, when not ok
    output: str = ""  # what the student's code printed (truncated)


@dataclass
class Verdict:
    task: str
    status: str  # PASSED, FAILED or NOT_STARTED
    points: float
    max_points: float
    reason: str = ""
    output: str = ""


def run_exercise(task: Task, lookup: Callable[[str], Any], missing: Callable[[str], str] = not_defined) -> Outcome:
    """Call the task's exercise with the student's names; never raises.

    missing(name) says why a name the exercise needs is not there (loader.why_missing names the
    broken cell that was to define it)."""
    try:
        names = {name: lookup(name) for name in task.uses}
    except KeyError as err:
        return Outcome("error", reason=missing(err.args[0] if err.args else "?"))
    try:
        with torch.random.fork_rng(devices=[]):  # a check never changes the caller's random state
            value = task.exercise(**names)
    except NotImplementedError as err:
        return Outcome("not_started", reason=str(err) or "raises NotImplementedError")
    except CheckFailed as err:  # an exercise may reject an output on the spot (e.g. mutated input)
        return Outcome("error", reason=str(err))
    except RecursionError:
        return Outcome("error", reason="recursed too deeply (RecursionError): is there a call with no base case?")
    except MemoryError:
        return Outcome("error", reason="ran out of memory (MemoryError)")
    except SystemExit:
        return Outcome("error", reason="exited the process (sys.exit/exit): remove that call")
    except KeyboardInterrupt:
        return Outcome("error", reason="raised KeyboardInterrupt: remove that raise (or the input() it guards)")
    except BaseException as err:  # noqa: BLE001 - student code may raise anything
        if out_of_memory(err):
            return Outcome("error", reason="ran out of memory (" + exception_line(err)[:73] + ")")
        return Outcome("error", reason=describe_exception(err))
    try:
        return Outcome("ok", value=to_plain(value))
    except BaseException as err:  # noqa: BLE001 - e.g. a tensor that cannot be copied
        return Outcome("error", reason=f"returned something that cannot be checked ({exception_line(err)})")


def judge(task: Task, outcome: Outcome, expected: Any) -> Verdict:
    """The verdict for one task, from what its exercise produced and the reference outputs."""
    def verdict(status, points=0.0, reason=""):
        return Verdict(task.id, status, points, task.points, reason, outcome.output)

    if outcome.status == "not_started":
        return verdict(NOT_STARTED, reason="the stub still raises NotImplementedError")
    if outcome.status != "ok":
        return verdict(FAILED, reason=outcome.reason)
    try:
        task.compare(outcome.value, expected)
    except CheckFailed as err:
        return verdict(FAILED, reason=str(err) or "output differs from the reference")
    except Exception:  # noqa: BLE001 - a value no check foresaw fails its task, never the class's grading
        return verdict(FAILED, reason="returned something the check cannot compare with the reference")
    return verdict(PASSED, float(task.points))


@contextlib.contextmanager
def captured_output(limit: int = 2000):
    """Collect what the student's code prints (stdout and stderr), keeping only the start."""
    buffer = _Head(limit)
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer


class _Head(io.TextIOBase):
    """A text sink that keeps the first `limit` characters and counts the rest."""

    def __init__(self, limit: int):
        self.limit, self.kept, self.dropped = limit, [], 0
        self.size = 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            self.kept.append(text[:room])
        self.size += min(len(text), max(room, 0))
        self.dropped += max(len(text) - max(room, 0), 0)
        return len(text)

    def text(self) -> str:
        out = "".join(self.kept)
        if self.dropped:
            out += f"\n... ({self.dropped} more characters of output not shown)"
        return out
