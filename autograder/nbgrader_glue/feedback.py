"""`make feedback` (python -m autograder.instructor feedback [--lesson NN]): nbgrader generate_feedback,
then every page searched for the hidden tests' text, in the encodings a student could print it in;
a page that shows any is withheld (moved to .nbgrader/feedback-withheld/), the class gets theirs."""

from __future__ import annotations

import base64
import codecs
import html
import json
import re
import shutil
import sys
import zlib
from pathlib import Path

from .cells import hidden_lines, without_hidden_tests
from .workspace import AUTOGRADED, FEEDBACK, WITHHELD, gradebook, lesson_names, run_nbgrader


def visible_text(page: str) -> str:
    """An HTML page's text without tags or entities (syntax highlighting splits code into spans)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def hidden_test_lines(assignment: str) -> list[str]:
    """Every line of hidden test code in an assignment's source cells, from the gradebook."""
    from nbgrader.api import MissingEntry

    lines, public = [], set()
    with gradebook() as gb:
        try:
            for notebook in gb.find_assignment(assignment).notebooks:
                for cell in notebook.source_cells:
                    lines += hidden_lines(cell.source or "")
                    public.update(line.strip() for line in without_hidden_tests(cell.source or "").split("\n"))
        except MissingEntry:
            pass
    # Pages are searched ignoring case: a short line ("pass", "return", "else:") or one the release
    # shows anyway ("import torch") is no secret, and would withhold every page.
    return [line for line in lines if len(line) >= MIN_LINE and line not in public]


MIN_LINE = 8  # hidden lines shorter than this are not searched for
MIN_ENCODED = 8  # base32, base85 and zlib forms shorter than this could match ordinary text by chance


def _aligned(encode, data: bytes, group: int, chars: int, bits: int | None = None) -> list[str]:
    """For each byte alignment the line can have inside a longer encoded text (`group` bytes make
    `chars` characters), the characters that depend on the line's bytes alone. Bit-aligned codes
    (base64, base32: `bits` per character) give every character whose bits lie inside the line;
    base85 gives whole groups only (each character depends on all four bytes of its group)."""
    forms = []
    for shift in range(group):
        encoded = encode(b"\0" * shift + data)
        if isinstance(encoded, bytes):
            encoded = encoded.decode("ascii")
        start, end = 8 * shift, 8 * (shift + len(data))  # the line's bits
        if bits:
            forms.append(encoded[-(-start // bits):end // bits])
        else:
            first, last = -(-shift // group), (shift + len(data)) // group  # whole groups inside the line
            forms.append(encoded[first * chars:last * chars])
    return forms


def encodings(line: str) -> list[str]:
    """A hidden line as text, and as it would show if printed in an encoding to slip past a grep.

    The real guarantee is that hidden tests never run where a student's output comes from; this
    check is the second line of defence. Forms: the text, reversed, hex, JSON-escaped, rot13, base64,
    base32, base85 and Ascii85 at every alignment inside a longer encoded text, and the line
    compressed with zlib (each level's bytes as base64, hex, their Python repr and as latin-1 text).
    feedback_leaks compares them ignoring case (upper-case hex, a shouted line)."""
    data = line.encode()
    forms = [line, line[::-1], data.hex(), json.dumps(line)[1:-1], codecs.encode(line, "rot13")]
    forms += _aligned(base64.b64encode, data, 3, 4, bits=6)
    encoded = _aligned(base64.b32encode, data, 5, 8, bits=5)
    encoded += _aligned(base64.b85encode, data, 4, 5) + _aligned(base64.a85encode, data, 4, 5)
    for blob in dict.fromkeys(zlib.compress(data, level) for level in range(1, 10)):
        encoded += _aligned(base64.b64encode, blob, 3, 4, bits=6)
        encoded += [blob.hex(), repr(blob)[2:-1], blob.decode("latin-1")]
    forms += [form for form in encoded if len(form) >= MIN_ENCODED]
    return list(dict.fromkeys(form for form in forms if len(form) >= 4))


def shows(line: str, *texts: str) -> bool:
    """Whether any text shows the line in any of its encodings, in any case."""
    folded = [text.lower() for text in texts]
    return any(form.lower() in text for form in encodings(line) for text in folded)


def feedback_leaks(folder: Path = FEEDBACK) -> dict[Path, list[str]]:
    """{page: [hidden lines it shows]} for each feedback page that shows hidden test text, in any encoding."""
    leaks = {}
    for page in sorted(folder.glob("*/*/*.html")):
        raw = page.read_bytes().decode("utf-8", errors="replace")  # as written: no newline translation
        text = visible_text(raw)
        found = [line for line in hidden_test_lines(page.parent.name) if shows(line, text, raw)]
        if found:
            leaks[page] = found
    return leaks


def feedback(lesson: str | None = None) -> int:
    for name in lesson_names(lesson):
        if name in {p.name for p in AUTOGRADED.glob("*/*")}:
            run_nbgrader("generate_feedback", name, "--force")
    leaks = feedback_leaks()
    for page, lines in leaks.items():  # withhold that student's page only; the class gets theirs
        target = WITHHELD / page.relative_to(FEEDBACK)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(page, target)
        print(f"error: {page} shows hidden test text ({len(lines)} line(s)); withheld, moved to {target}",
              file=sys.stderr)
    print(f"feedback written to {FEEDBACK}/<student>/<lesson>/ (checked: no hidden test text"
          + (f"; {len(leaks)} page(s) withheld" if leaks else "") + ")")
    return 1 if leaks else 0
