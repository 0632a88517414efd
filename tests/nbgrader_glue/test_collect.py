"""collect.py: what collect writes for nbgrader (timestamps, secrets) and the students it names."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.nbgrader_glue.collect import collect
from autograder.nbgrader_glue.workspace import SUBMITTED, InstructorError, gradebook
from tests.conftest import REPO

from .class_folder import LESSON


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

    collect(inbox, roster=roster)
    stamped = {}
    for student in ("alice", "bob"):
        folder = SUBMITTED / student / LESSON
        stamped[student] = parse_utc((folder / "timestamp.txt").read_text())
        assert len((folder / "submission_secret.txt").read_text()) == 128
    assert stamped["alice"] == stamped["bob"] and stamped["bob"].year >= 2026  # when collected, not his claim
    with gradebook() as gb:
        students = {s.id: (s.last_name, s.first_name, s.email) for s in gb.students}
    assert students == {"alice": ("Liddell", "Alice", "alice@example.org"), "bob": ("bob", "", None),
                        "carol": ("", "Carol", None)}


@pytest.mark.parametrize("source", ["", ".", "..", ".nbgrader", ".nbgrader/submitted"])
def test_collect_refuses_the_course_folder_and_its_own_output(course, source):
    """An empty FROM= is the course folder, whose lessons/NN_slug/ and solutions/NN_slug/ look like two
    students: collect refuses it (and anything holding it, and .nbgrader/) before copying anything."""
    (course / "solutions" / LESSON).mkdir(parents=True)
    (course / ".nbgrader" / "submitted").mkdir(exist_ok=True)
    with pytest.raises(InstructorError, match="course folder|inside .nbgrader"):
        collect(Path(source))
    assert not any((course / ".nbgrader" / "submitted").iterdir())


def test_make_collect_without_from_says_what_to_give(tmp_path):
    """The make target stops before Python runs: FROM= is required."""
    result = subprocess.run(["make", "-s", "-C", str(REPO), "collect", "FROM="], capture_output=True, text=True)
    assert result.returncode != 0 and "make collect FROM=DIR" in result.stderr
