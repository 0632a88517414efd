"""The one error the capstone's library code raises: something the person at the keyboard can fix.

Library code (assemble, checkpoint, runtime, train, sample, model_file) raises CapstoneError, or a
subclass naming the kind of trouble, with a message that says what is wrong and what to do. Only a
command's main() turns it into a message on stderr and exit status 1, so the same functions can be
called from tests, notebooks and the benchmark without ending the process.
"""

from __future__ import annotations

import sys


class CapstoneError(Exception):
    """A problem the user can fix (failing lessons, a bad checkpoint, an unknown device...)."""


def print_error(err: CapstoneError) -> int:
    """What each main() does with a CapstoneError: the message on stderr, exit status 1."""
    print(err, file=sys.stderr, flush=True)
    return 1
