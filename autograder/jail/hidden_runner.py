"""The hidden tests' process: trusted, student-code-free, and the only place their source exists.

    python -m autograder.jail.hidden_runner --control FD --results FD

The grader starts it (in bubblewrap when it can, with nothing of the submission mounted) and sends it
the hidden tests, each with the number of an inherited socket whose other end belongs to a jailed
child that has loaded the student's notebook and serves calls (remote.Server). Each hidden test runs
here with the student's names bound to proxies (remote.RemoteObject): a call crosses the socket as
data and plain values come back. The verdict -- passed, not started, failed, or a name the test uses
that the notebook does not define -- is decided here, from those values, and sent to the grader as
one of those fixed phrases. Nothing the student's process says is ever quoted.
"""

from __future__ import annotations

import argparse
import builtins
import os
import sys
import time
from dataclasses import dataclass

from .frames import frame, receive_json, tagged
from .remote import ChannelClosed, ChannelTimeout, Connection

PASSED, NOT_STARTED, FAILED = "passed", "not started", "failed a hidden check"
STOPPED = "failed a hidden check (the code stopped or ran out of time while a hidden check called it)"
VERDICTS = (PASSED, NOT_STARTED, FAILED, STOPPED)  # with "name X is not defined": all a verdict can say


@dataclass
class HiddenJob:
    id: int
    code: str
    channel: int  # this process's end of the socket to the student's serving child
    seconds: float  # wall-clock backstop for each answer (the jail limits the student's CPU time)


def global_names(code) -> set[str]:
    """Every name the code (and the functions and comprehensions inside it) may read as a global."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= global_names(const)
    return names


def verdict_of(job: HiddenJob) -> dict:
    """Run one hidden test against the student's serving child; a frame dict with a fixed verdict."""
    connection = Connection(job.channel, job.seconds)
    code = None
    try:
        code = compile(job.code, "<hidden test>", "exec", dont_inherit=True)
        connection.wait_ready()
        namespace: dict = {"__builtins__": builtins, "__name__": "__hidden__"}
        for name in sorted(global_names(code) - set(dir(builtins))):
            try:
                namespace[name] = connection.lookup(name)
            except KeyError:
                continue  # not defined there: a NameError below if the test reads it
        import torch

        with torch.random.fork_rng(devices=[]):
            exec(code, namespace)
    except (ChannelClosed, ChannelTimeout, OSError):
        return _verdict("error", STOPPED)
    except NotImplementedError:
        return _verdict("not_started", NOT_STARTED)
    except NameError as err:
        name = getattr(err, "name", None)
        if isinstance(name, str) and code is not None and name in global_names(code):
            return _verdict("error", f"name {name} is not defined")
        return _verdict("error", FAILED)
    except BaseException:  # noqa: BLE001 - an assertion, or anything a value made the test raise
        return _verdict("error", FAILED)
    finally:
        connection.end()
        os.close(job.channel)
    return _verdict("ok", PASSED)


def _verdict(status: str, reason: str) -> dict:
    return {"status": status, "value": None, "reason": "" if status == "ok" else reason, "output": "",
            "isolation": ""}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.jail.hidden_runner",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--control", type=int, required=True, help="fd to read the hidden tests from")
    parser.add_argument("--results", type=int, required=True, help="fd to write verdicts to")
    args = parser.parse_args(argv)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # an instructor's test may print: it goes nowhere
        os.dup2(devnull, fd)
    import torch

    torch.set_num_threads(1)
    jobs = [HiddenJob(**job) for job in receive_json(args.control)["jobs"]]
    os.close(args.control)
    for job in jobs:
        started = time.monotonic()
        result = verdict_of(job)
        result["seconds"] = round(time.monotonic() - started, 3)
        view = memoryview(tagged(job.id, frame(result)))
        while view:
            view = view[os.write(args.results, view):]
    return 0


if __name__ == "__main__":
    sys.exit(main())
