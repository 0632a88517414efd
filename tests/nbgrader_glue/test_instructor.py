"""instructor.py: the feedback leak check and withholding, its encodings, Gradescope results of a class
(manual scores too), and what collect writes for nbgrader (timestamps, secrets, named students).

Each test builds a course folder's .nbgrader/ by hand in tmp_path (a gradebook, feedback pages,
submitted and autograded notebooks) and runs from there, as the make targets run from the course root.
"""

from __future__ import annotations

import base64
import codecs
import dataclasses
import shutil
import zlib

import nbformat
import pytest

from autograder.nbgrader_glue import instructor
from autograder.nbgrader_glue.commands import FLAGS_KEY, course_config
from autograder.run import PASSED, Verdict
from autograder.tasks import lesson_tasks
from tests.conftest import REPO

LESSON = "01_chars"
HIDDEN_MARK = "hidden-check-w8d"
HIDDEN_LINES = [f'note = "{HIDDEN_MARK}"', 'assert encode("zz", {"z": 7}) == [7, 7], note']
CHECK_SOURCE = "### BEGIN HIDDEN TESTS\n" + "\n".join(HIDDEN_LINES) + '\n### END HIDDEN TESTS\ncheck("01.encode")'


@pytest.fixture
def course(tmp_path, monkeypatch, empty_gradebook):
    """A course folder with lesson 01 released and recorded in the gradebook (its hidden test too)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lessons" / LESSON).mkdir(parents=True)
    (tmp_path / ".nbgrader").mkdir()
    shutil.copy(empty_gradebook, tmp_path / ".nbgrader" / "gradebook.db")
    with instructor.gradebook() as gb:
        gb.add_assignment(LESSON)
        gb.add_notebook(LESSON, LESSON)
        gb.add_source_cell("check-01-encode", LESSON, LESSON, source=CHECK_SOURCE, cell_type="code",
                           checksum="0", locked=True)
        gb.add_source_cell("setup-1", LESSON, LESSON, source="from autograder import check", cell_type="code",
                           checksum="0", locked=True)
        gb.add_grade_cell("check-01-encode", LESSON, LESSON, max_score=2, cell_type="code")
    return tmp_path


def page(student: str, body: str, lesson: str = LESSON):
    path = instructor.FEEDBACK / student / lesson / f"{lesson}.html"
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
    assert instructor.hidden_test_lines(LESSON) == HIDDEN_LINES
    assert instructor.hidden_test_lines("02_tokens") == []  # not in the gradebook


def test_feedback_leaks_finds_each_page_that_shows_a_hidden_line(course):
    page("alice", CLEAN)
    bob = page("bob", CLEAN + HIGHLIGHTED)
    encoded = base64.b64encode(f"my output: {HIDDEN_LINES[0]}!".encode()).decode()
    carol = page("carol", CLEAN + f"<pre>{encoded}</pre>")
    page("dave", CLEAN, lesson="02_tokens")  # another lesson: its own hidden lines (none)
    assert instructor.feedback_leaks() == {bob: [HIDDEN_LINES[1]], carol: [HIDDEN_LINES[0]]}


def test_feedback_withholds_only_the_leaking_students_pages(course, capsys):
    alice = page("alice", CLEAN)
    bob = page("bob", CLEAN + HIGHLIGHTED)
    carol = page("carol", CLEAN + f"<pre>{HIDDEN_LINES[0].encode().hex()}</pre>")
    contents = {p: p.read_text() for p in (alice, bob, carol)}

    assert instructor.feedback("01") == 1
    assert alice.read_text() == contents[alice]  # the class gets its feedback
    assert not bob.exists() and not carol.exists()
    for leaked in (bob, carol):
        withheld = instructor.WITHHELD / leaked.relative_to(instructor.FEEDBACK)
        assert withheld.read_text() == contents[leaked]  # kept for the instructor to look at
    out, err = capsys.readouterr()
    assert "2 page(s) withheld" in out
    assert str(bob) in err and str(carol) in err and str(alice) not in err
    assert HIDDEN_MARK not in out + err


def test_feedback_without_leaks_withholds_nothing(course, capsys):
    alice = page("alice", CLEAN)
    assert instructor.feedback("01") == 0
    assert alice.exists() and not instructor.WITHHELD.exists()
    assert "withheld" not in capsys.readouterr().out


@pytest.mark.parametrize("line", [HIDDEN_LINES[1], "ok = décode(x)", "abcd", "abcde", "abcdef", "f(1, 2)"])
def test_encodings_find_a_base64_line_at_every_alignment(line):
    forms = instructor.encodings(line)
    for before in range(7):  # the line starts at each of the three byte alignments, twice
        for after in range(4):
            text = "p" * before + line + "s" * after
            encoded = base64.b64encode(text.encode()).decode()
            assert any(form in encoded for form in forms), (before, after)
    assert line in forms and line[::-1] in forms and line.encode().hex() in forms
    assert codecs.encode(line, "rot13") in forms


def test_encodings_leave_out_forms_too_short_to_mean_anything():
    assert all(len(form) >= 4 for form in instructor.encodings("abcd"))


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
    assert instructor.feedback_leaks() == {bob: [HIDDEN_LINES[1]]}


def test_an_innocent_page_is_not_withheld(course):
    """A whole lesson page's worth of ordinary text, in upper case too, with encoded innocent data."""
    import json

    lesson = json.dumps(json.loads((REPO / "solutions" / LESSON / f"{LESSON}.ipynb").read_text()))
    noise = [base64.b64encode(zlib.compress(lesson.encode())).decode(), lesson.encode().hex(),
             base64.b32encode(lesson[:5000].encode()).decode(), base64.b85encode(lesson[:5000].encode()).decode()]
    alice = page("alice", CLEAN + f"<pre>{lesson}\n{lesson.upper()}</pre>" + "".join(f"<pre>{n}</pre>" for n in noise))
    assert alice.stat().st_size > 40_000
    assert instructor.feedback_leaks() == {}


def test_short_and_released_lines_are_not_searched(course):
    """'pass' is in every page ('PASS 01.encode'), ignoring case; a line the release shows is no secret."""
    with instructor.gradebook() as gb:
        gb.add_source_cell("check-01-decode", LESSON, LESSON, cell_type="code", checksum="0", locked=True,
                           source="### BEGIN HIDDEN TESTS\npass\nfrom autograder import check\n### END HIDDEN TESTS\n"
                                  'check("01.decode")')
    assert instructor.hidden_test_lines(LESSON) == HIDDEN_LINES
    page("alice", CLEAN + "<pre>from autograder import check</pre>")
    assert instructor.feedback_leaks() == {}


@pytest.mark.parametrize("encode", [base64.b32encode, base64.b85encode, base64.a85encode])
@pytest.mark.parametrize("line", [HIDDEN_LINES[1], "ok = décode(x, y)", "abcdefghijk"])
def test_encodings_find_a_line_at_every_alignment_in_base32_and_base85(line, encode):
    forms = [form.lower() for form in instructor.encodings(line)]
    for before in range(11):
        for after in range(6):
            encoded = encode(("p" * before + line + "s" * after).encode()).decode().lower()
            assert any(form in encoded for form in forms), (before, after)


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission, not ours
def test_gradescope_results_list_every_task_of_an_unreadable_notebook(course):
    with instructor.gradebook() as gb:
        for student in ("alice", "bob"):
            gb.add_student(student)
            gb.add_submission(LESSON, student)
    broken = instructor.SUBMITTED / "bob" / LESSON / f"{LESSON}.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"cells": [')
    graded = instructor.AUTOGRADED / "alice" / LESSON / f"{LESSON}.ipynb"
    graded.parent.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    verdicts = [Verdict(t.id, PASSED, float(t.points), float(t.points)) for t in lesson_tasks("01")]
    nb.metadata[FLAGS_KEY] = {"isolation": "bubblewrap 0.8.0", "visible": [],
                              "verdicts": [dataclasses.asdict(v) for v in verdicts]}
    nbformat.write(nb, graded)

    results = instructor.gradescope_results()
    tasks = lesson_tasks("01")
    bob = results["bob"]
    assert [t["name"] for t in bob["tests"]] == [t.id for t in tasks]
    assert [(t["score"], t["max_score"], t["status"]) for t in bob["tests"]] == [
        (0.0, float(t.points), "failed") for t in tasks]
    assert all(t["output"].startswith(f"FAIL {t['name']}: not graded: not a valid notebook (") for t in bob["tests"])
    assert bob["score"] == 0 and "output" not in bob
    alice = results["alice"]
    assert [(t["name"], t["score"]) for t in alice["tests"]] == [(t.id, float(t.points)) for t in tasks]
    assert alice["output"] == "Graded in isolation: bubblewrap 0.8.0"


def test_the_course_reads_its_own_config(course):
    assert course_config()["db_url"] == "sqlite:///.nbgrader/gradebook.db"  # relative: the course folder's
    assert course_config()["course_id"] == "gpt-from-scratch"


@pytest.mark.nbgrader
def test_collect_stamps_each_submission_and_names_students_from_the_roster(course, tmp_path):
    """timestamp.txt and a secret per submission (nbgrader's release_feedback needs both); students
    in the gradebook with the roster's names (nbgrader's own `db student import`), else their id."""
    from nbgrader.utils import parse_utc

    shutil.copy(REPO / "nbgrader_config.py", course)  # for the nbgrader command collect runs
    inbox = tmp_path / "inbox"
    for student in ("alice", "bob"):
        (inbox / student / LESSON).mkdir(parents=True)
        (inbox / student / LESSON / f"{LESSON}.ipynb").write_text("{}")
    (inbox / "bob" / LESSON / "timestamp.txt").write_text("1999-01-01 00:00:00.000000 UTC")  # his claim
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name,email\nalice,Alice,Liddell,alice@example.org\ncarol,Carol,,\n")

    instructor.collect(inbox, roster=roster)
    stamped = {}
    for student in ("alice", "bob"):
        folder = instructor.SUBMITTED / student / LESSON
        stamped[student] = parse_utc((folder / "timestamp.txt").read_text())
        assert len((folder / "submission_secret.txt").read_text()) == 128
    assert stamped["alice"] == stamped["bob"] and stamped["bob"].year >= 2026  # when collected, not his claim
    with instructor.gradebook() as gb:
        students = {s.id: (s.last_name, s.first_name, s.email) for s in gb.students}
    assert students == {"alice": ("Liddell", "Alice", "alice@example.org"), "bob": ("bob", "", None),
                        "carol": ("", "Carol", None)}


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission, not ours
def test_a_score_set_by_hand_reaches_gradescope_results(course):
    """formgrader's manual grade (Grade.manual_score, what its REST API sets) replaces autograde's score."""
    graded = instructor.AUTOGRADED / "alice" / LESSON / f"{LESSON}.ipynb"
    graded.parent.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('check("01.encode")', metadata={"nbgrader": {
        "grade": True, "grade_id": "check-01-encode", "points": 2, "solution": False, "locked": True}})]
    verdicts = [Verdict(t.id, PASSED, float(t.points), float(t.points)) for t in lesson_tasks("01")]
    nb.metadata[FLAGS_KEY] = {"isolation": "bubblewrap 0.8.0", "visible": [],
                              "verdicts": [dataclasses.asdict(v) for v in verdicts]}
    nbformat.write(nb, graded)
    with instructor.gradebook() as gb:
        gb.add_student("alice")
        gb.add_submission(LESSON, "alice")
        grade = gb.find_grade("check-01-encode", LESSON, LESSON, "alice")
        grade.auto_score = 2.0
        gb.db.commit()
    full = sum(t.points for t in lesson_tasks("01"))
    assert instructor.gradescope_results()["alice"]["score"] == full

    with instructor.gradebook() as gb:
        gb.find_grade("check-01-encode", LESSON, LESSON, "alice").manual_score = 0.5
        gb.db.commit()
    result = instructor.gradescope_results()["alice"]
    encode = next(t for t in result["tests"] if t["name"] == "01.encode")
    assert (encode["score"], encode["status"]) == (0.5, "failed")
    assert encode["output"].endswith("\nScore set by the instructor: 0.5/2 (autograded: 2).")
    assert result["score"] == full - 1.5
    others = [t for t in result["tests"] if t["name"] != "01.encode"]
    assert all(t["score"] == t["max_score"] for t in others)
