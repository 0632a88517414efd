"""How an error raised by a student's code is worded: the one place for it.

    describe_exception(err)   "raised ValueError: bad value (cell 7, line 3)"   (what a check reports)
    exception_line(err)       "ValueError: bad value (cell 7, line 3)"          (inside other words)
    cell_error(err)           "ValueError: bad value"                           (a cell that failed to load)

A student's exception may have a str() that raises, a message of a million characters or many
lines: each wording takes the first line, short, and never raises.
"""

from __future__ import annotations

import traceback

from .notebook import CELL_MARK

LINE_LIMIT = 200  # characters of "raised ...", before the place in the notebook


class InputCalled(EOFError):
    """What input() raises while grading: nobody is there to type an answer."""

    def __init__(self, *args):
        super().__init__(*(args or ("called input(); remove it (nobody can type answers while grading)",)))


def first_line(err: BaseException) -> str:
    """The first line of str(err), '' when there is none or str() itself fails."""
    try:
        text = str(err).strip()
        return text.splitlines()[0] if text else ""
    except Exception:  # noqa: BLE001 - a student's exception whose str() fails
        return ""


def where_in_notebook(tb) -> str:
    """' (cell 7, line 3)' for the deepest traceback frame in a notebook cell, else ''."""
    spot = ""
    for frame in traceback.extract_tb(tb):
        if CELL_MARK in frame.filename:
            spot = f" (cell {frame.filename.rsplit(CELL_MARK, 1)[1]}, line {frame.lineno})"
    return spot


def exception_line(err: BaseException) -> str:
    """'ValueError: bad value (cell 7, line 3)', at most LINE_LIMIT characters with 'raised ' before it."""
    message = first_line(err)
    if isinstance(err, InputCalled):
        return message + where_in_notebook(err.__traceback__)
    text = type(err).__name__ + (f": {message}" if message else "")
    room = LINE_LIMIT - len("raised ")
    if len(text) > room:
        text = text[:room - 3] + "..."
    return text + where_in_notebook(err.__traceback__)


def describe_exception(err: BaseException) -> str:
    """'raised ValueError: bad value (cell 7, line 3)'; input() says what to remove instead."""
    return exception_line(err) if isinstance(err, InputCalled) else "raised " + exception_line(err)


def cell_error(err: BaseException) -> str:
    """Why a notebook cell failed while its lesson loaded: 'ValueError: bad value' (the loader adds the cell)."""
    if isinstance(err, SystemExit):
        return "exits the process (sys.exit/exit): remove that call"
    if isinstance(err, EOFError) and first_line(err).startswith("called input()"):
        return str(err)
    message = first_line(err)[:LINE_LIMIT]
    return f"{err.__class__.__name__}: {message}" if message else err.__class__.__name__


def not_defined(name: str) -> str:
    """A name a check needs that a loaded notebook does not define (and no broken cell explains)."""
    return f"{name} is not defined in the notebook (was its cell deleted or renamed?)"


def not_run_yet(name: str) -> str:
    """A name a check cell needs that the student's kernel does not have yet."""
    return f"{name} is not defined in this kernel yet: run the cell that defines it (above), then this check"


def out_of_memory(err: BaseException) -> bool:
    """torch reports a failed allocation as a RuntimeError; run_exercise words it as a memory limit."""
    try:
        message = str(err)
    except Exception:  # noqa: BLE001 - a student's exception whose str() fails
        return False
    return "can't allocate memory" in message or "not enough memory" in message
