"""The one error the capstone's library code raises: something the person at the keyboard can fix.

Library code (assemble, checkpoint, runtime, train, sample, model_file) raises CapstoneError, or a
subclass naming the kind of trouble, with a message that says what is wrong and what to do. Only a
command's main() turns it into a message on stderr and exit status 1, so the same functions can be
called from tests, notebooks and the benchmark without ending the process.

Ctrl-C is the other way a command ends early. train.run and finetune.run turn it into Interrupted,
whose message says what was saved (still a KeyboardInterrupt, so callers that catch that keep
working); main() prints that one line and exits with 130, the shell's code for Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import sys

INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C


class CapstoneError(Exception):
    """A problem the user can fix (failing lessons, a bad checkpoint, an unknown device...)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a message saying what was saved ("interrupted during ...: the checkpoint at X holds ...")."""


def print_error(err: CapstoneError) -> int:
    """What each main() does with a CapstoneError: the message on stderr, exit status 1."""
    print(err, file=sys.stderr, flush=True)
    return 1


def print_interrupted(err: KeyboardInterrupt, nothing: str = "nothing was saved") -> int:
    """What each main() does with Ctrl-C: one line on stderr (never a traceback), exit status 130.

    nothing: what to say when the interrupt carries no message (it came before any work was saved)."""
    print(str(err) if isinstance(err, Interrupted) and str(err) else f"interrupted: {nothing}",
          file=sys.stderr, flush=True)
    return INTERRUPTED


def _stop_while_starting(signum, frame) -> None:
    print("interrupted while starting: nothing was done", file=sys.stderr, flush=True)
    os._exit(INTERRUPTED)  # not an exception: torch's import swallows those and would start half-loaded


def stop_at_once_while_starting() -> None:
    """Ctrl-C while a command imports torch & co (seconds) ends it at once, in one line: nothing has
    started that needs saving. capstone/__init__.py installs this for `python -m capstone.<command>`."""
    signal.signal(signal.SIGINT, _stop_while_starting)


def ctrl_c_raises() -> None:
    """The first line of every main(): from here on Ctrl-C raises KeyboardInterrupt again, which the
    command turns into its own one-line message (and make train into a checkpoint)."""
    if signal.getsignal(signal.SIGINT) is _stop_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)
