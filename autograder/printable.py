"""Text a student wrote, made safe for a terminal or a log: control characters become visible escapes.

A grade id, a student id taken from a folder name, a file name or a line a notebook printed can
hold terminal escape sequences ("\\x1b]0;pwned\\x07" retitles the instructor's terminal, "\\x1b[2J"
clears it) or bidi overrides that make a line read differently from its bytes. Everything of that
kind passes through `printable` before it reaches the score table, the instructor's report, a log or
a print, so an instructor reads "\\x1b[2J" instead of having a screen cleared.

    printable("a\\x1b[2Jb")               -> 'a\\\\x1b[2Jb'
    printable("two\\nlines")              -> 'two\\\\nlines'   (one line of a table stays one line)
    printable("two\\nlines", lines=True)  -> 'two\\nlines'     (a log keeps its line breaks and tabs)

PrintableLogRecords is the same rule as a logging filter: nbgrader_config.py attaches it to
nbgrader's log handler, because nbgrader logs grade ids and cell sources from the student's notebook.
"""

from __future__ import annotations

import logging
import re

# C0 controls and DEL, C1 controls, the bidi embeddings/overrides (U+202A-202E) and isolates
# (U+2066-2069), and lone surrogates (U+D800-DFFF: Python strings may hold them, UTF-8 cannot, so
# writing one to a file or a terminal raises). Tab and newline are added by `lines=False`.
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_IN_A_LOG = re.compile(f"[{_CONTROL}]")
_ON_ONE_LINE = re.compile(f"[{_CONTROL}\t\n]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def printable(text, *, lines: bool = False) -> str:
    """`text` (any object: str() is taken) with every control character written as a visible escape.

    lines: keep newlines and tabs (a log, a traceback); by default they are escaped too, so the
    text stays on the one line it is printed on.
    """
    return (_IN_A_LOG if lines else _ON_ONE_LINE).sub(_escape, str(text))


class PrintableLogRecords(logging.Filter):
    """A logging filter that escapes control characters in a record's message and traceback.

    It rewrites the record itself (message formatted once, arguments dropped), so every handler the
    record reaches after this one's -- nbgrader's log file as well as the console -- writes the
    escaped text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record whose arguments do not format: log what it has
            message = f"{record.msg} {record.args}"
        record.msg, record.args = printable(message, lines=True), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = printable(record.exc_text, lines=True)
        if record.stack_info:
            record.stack_info = printable(record.stack_info, lines=True)
        return True
