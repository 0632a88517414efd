"""feedback.py: the hidden-test leak check over feedback pages, in every encoding it knows, and
withholding only the pages that leak.

Each test builds a course folder's .nbgrader/ by hand in tmp_path (a gradebook, feedback pages)
and runs from there, as the make targets run from the course root (the `course` fixture).
"""

from __future__ import annotations

import base64
import codecs
import zlib

import pytest

from autograder.nbgrader_glue.feedback import encodings, feedback, feedback_leaks, hidden_test_lines
from autograder.nbgrader_glue.workspace import FEEDBACK, WITHHELD, gradebook
from tests.conftest import REPO

from .class_folder import HIDDEN_LINES, HIDDEN_MARK, LESSON


def page(student: str, body: str, lesson: str = LESSON):
    path = FEEDBACK / student / lesson / f"{lesson}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return path


CLEAN = ('<div class="input"><span class="n">check</span>(<span class="s2">&quot;01.encode&quot;</span>)</div>'
         "<pre>PASS 01.encode (2/2 points)</pre>")
# The hidden assert as nbconvert shows code: split into highlighted spans, quotes as entities.
HIGHLIGHTED = ('<pre><span class="k">assert</span> <span class="n">encode</span>(<span class="s2">&quot;zz&quot;</span>, '
               '{<span class="s2">&quot;z&quot;</span>: <span class="mi">7</span>}) == [<span class="mi">7</span>, '
               '<span class="mi">7</span>], <span class="n">note</span></pre>')


def test_hidden_test_lines_come_from_the_gradebook(course):
    assert hidden_test_lines(LESSON) == HIDDEN_LINES
    assert hidden_test_lines("02_tokens") == []  # not in the gradebook


def test_feedback_leaks_finds_each_page_that_shows_a_hidden_line(course):
    page("alice", CLEAN)
    bob = page("bob", CLEAN + HIGHLIGHTED)
    encoded = base64.b64encode(f"my output: {HIDDEN_LINES[0]}!".encode()).decode()
    carol = page("carol", CLEAN + f"<pre>{encoded}</pre>")
    page("dave", CLEAN, lesson="02_tokens")  # another lesson: its own hidden lines (none)
    assert feedback_leaks() == {bob: [HIDDEN_LINES[1]], carol: [HIDDEN_LINES[0]]}


def test_feedback_withholds_only_the_leaking_students_pages(course, capsys):
    alice = page("alice", CLEAN)
    bob = page("bob", CLEAN + HIGHLIGHTED)
    carol = page("carol", CLEAN + f"<pre>{HIDDEN_LINES[0].encode().hex()}</pre>")
    contents = {p: p.read_text() for p in (alice, bob, carol)}

    assert feedback("01") == 1
    assert alice.read_text() == contents[alice]  # the class gets its feedback
    assert not bob.exists() and not carol.exists()
    for leaked in (bob, carol):
        withheld = WITHHELD / leaked.relative_to(FEEDBACK)
        assert withheld.read_text() == contents[leaked]  # kept for the instructor to look at
    out, err = capsys.readouterr()
    assert "2 page(s) withheld" in out
    assert str(bob) in err and str(carol) in err and str(alice) not in err
    assert HIDDEN_MARK not in out + err


def test_feedback_without_leaks_withholds_nothing(course, capsys):
    alice = page("alice", CLEAN)
    assert feedback("01") == 0
    assert alice.exists() and not WITHHELD.exists()
    assert "withheld" not in capsys.readouterr().out


@pytest.mark.parametrize("line", [HIDDEN_LINES[1], "ok = décode(x)", "abcd", "abcde", "abcdef", "f(1, 2)"])
def test_encodings_find_a_base64_line_at_every_alignment(line):
    forms = encodings(line)
    for before in range(7):  # the line starts at each of the three byte alignments, twice
        for after in range(4):
            text = "p" * before + line + "s" * after
            encoded = base64.b64encode(text.encode()).decode()
            assert any(form in encoded for form in forms), (before, after)
    assert line in forms and line[::-1] in forms and line.encode().hex() in forms
    assert codecs.encode(line, "rot13") in forms


def test_encodings_leave_out_forms_too_short_to_mean_anything():
    assert all(len(form) >= 4 for form in encodings("abcd"))


def wrapped(data: bytes, encode) -> str:
    """The data inside a longer text, encoded as a whole (the line at an odd alignment)."""
    encoded = encode(b"my output: " + data + b" -- end of output")
    return encoded.decode("ascii") if isinstance(encoded, bytes) else encoded


LINE = HIDDEN_LINES[1].encode()
ENCODED_LEAKS = {
    "upper-case hex": LINE.hex().upper(),
    "mixed-case text": HIDDEN_LINES[1].swapcase(),
    "upper-case text, reversed": HIDDEN_LINES[1][::-1].upper(),
    "base32": wrapped(LINE, base64.b32encode),
    "base32, lower case": wrapped(LINE, base64.b32encode).lower(),
    "base85": wrapped(LINE, base64.b85encode),
    "ascii85": wrapped(LINE, base64.a85encode),
    "zlib, base64": base64.b64encode(zlib.compress(LINE)).decode(),
    "zlib, base64 inside more": wrapped(zlib.compress(LINE), base64.b64encode),
    "zlib, hex": zlib.compress(LINE, 9).hex().upper(),
    "zlib, repr": repr(zlib.compress(LINE)),
    "zlib, latin-1": zlib.compress(LINE, 1).decode("latin-1"),
}


@pytest.mark.parametrize("kind", ENCODED_LEAKS)
def test_feedback_leaks_finds_a_line_in_any_case_and_more_encodings(course, kind):
    import html

    page("alice", CLEAN)
    bob = page("bob", CLEAN + f"<pre>{html.escape(ENCODED_LEAKS[kind])}</pre>")
    assert feedback_leaks() == {bob: [HIDDEN_LINES[1]]}


def test_an_innocent_page_is_not_withheld(course):
    """A whole lesson page's worth of ordinary text, in upper case too, with encoded innocent data."""
    import json

    lesson = json.dumps(json.loads((REPO / "solutions" / LESSON / f"{LESSON}.ipynb").read_text()))
    noise = [base64.b64encode(zlib.compress(lesson.encode())).decode(), lesson.encode().hex(),
             base64.b32encode(lesson[:5000].encode()).decode(), base64.b85encode(lesson[:5000].encode()).decode()]
    alice = page("alice", CLEAN + f"<pre>{lesson}\n{lesson.upper()}</pre>" + "".join(f"<pre>{n}</pre>" for n in noise))
    assert alice.stat().st_size > 40_000
    assert feedback_leaks() == {}


def test_short_and_released_lines_are_not_searched(course):
    """'pass' is in every page ('PASS 01.encode'), ignoring case; a line the release shows is no secret."""
    with gradebook() as gb:
        gb.add_source_cell("check-01-decode", LESSON, LESSON, cell_type="code", checksum="0", locked=True,
                           source="### BEGIN HIDDEN TESTS\npass\nfrom autograder import check\n### END HIDDEN TESTS\n"
                                  'check("01.decode")')
    assert hidden_test_lines(LESSON) == HIDDEN_LINES
    page("alice", CLEAN + "<pre>from autograder import check</pre>")
    assert feedback_leaks() == {}


@pytest.mark.parametrize("encode", [base64.b32encode, base64.b85encode, base64.a85encode])
@pytest.mark.parametrize("line", [HIDDEN_LINES[1], "ok = décode(x, y)", "abcdefghijk"])
def test_encodings_find_a_line_at_every_alignment_in_base32_and_base85(line, encode):
    forms = [form.lower() for form in encodings(line)]
    for before in range(11):
        for after in range(6):
            encoded = encode(("p" * before + line + "s" * after).encode()).decode().lower()
            assert any(form in encoded for form in forms), (before, after)
