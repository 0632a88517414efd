"""autograde.py: which nbgrader processes `make autograde` starts, and for whom.

The processes are recorded, not run (the real runs: tests/test_instructor_e2e.py and
tests/test_exchange_e2e.py): every lesson at once goes student by student (`autograde "*"`, so a
student's jailed worker is kept for their next notebook), each process's share excludes everyone
else, and STUDENT= grades only the students it names.
"""

from __future__ import annotations

import subprocess

import pytest

from autograder.nbgrader_glue import autograde as command
from autograder.nbgrader_glue.workspace import SUBMITTED

from .class_folder import LESSON

SECOND = "02_tokens"


class Started:
    """Stands in for an nbgrader process: records its command line, ends at once."""

    calls: list[list[str]] = []

    def __init__(self, argv):
        self.calls.append(argv[argv.index("nbgrader") + 1:])
        self.returncode = 0

    def poll(self):
        return 0


@pytest.fixture
def started(course, monkeypatch):
    Started.calls = []
    real = subprocess.Popen

    def popen(argv, *args, **kwargs):  # nbgrader's processes recorded; anything else (bwrap's probe) runs
        return Started(argv) if argv[1:3] == ["-m", "nbgrader"] else real(argv, *args, **kwargs)

    monkeypatch.setattr(command.subprocess, "Popen", popen)
    monkeypatch.setattr(command, "nbgrader", lambda *args, **_: Started.calls.append(["retry", *args]))
    (course / "lessons" / SECOND).mkdir()
    for student in ("alice", "bob", "carol"):
        for lesson in (LESSON, SECOND):
            folder = course / SUBMITTED / student / lesson
            folder.mkdir(parents=True)
            (folder / f"{lesson}.ipynb").write_text("{}")
    return Started.calls


def excluded(args: list[str]) -> set[str]:
    option = next((a for a in args if a.startswith("--CourseDirectory.student_id_exclude=")), "=")
    return set(filter(None, option.split("=", 1)[1].split(",")))


def nbgrader_runs(calls) -> list[list[str]]:
    return [c for c in calls if c[0] == "autograde"]


def test_every_lesson_goes_student_by_student_in_shares_of_students(started):
    command.autograde(unsafe=True, jobs=2)
    runs = nbgrader_runs(started)
    assert [r[1] for r in runs] == ["*", "*"], "one nbgrader run per share over every lesson, not one per lesson"
    shares = [{"alice", "bob", "carol"} - excluded(r) for r in runs]
    assert sorted(map(sorted, shares)) == [["alice", "carol"], ["bob"]]


def test_one_lesson_is_graded_alone(started):
    command.autograde(lesson="02", unsafe=True, jobs=1)
    assert [r[1] for r in nbgrader_runs(started)] == [SECOND]
    assert excluded(nbgrader_runs(started)[0]) == set()


def test_student_grades_only_the_students_it_names(started):
    command.autograde(student="alice", unsafe=True, jobs=2)
    runs = nbgrader_runs(started)
    assert len(runs) == 1
    assert excluded(runs[0]) == {"bob", "carol"}, "STUDENT=alice must exclude every other student"
    retried = [c for c in started if c[0] == "retry"]  # nothing was graded here: each of alice's, alone
    assert sorted(c[2] for c in retried) == [LESSON, SECOND] and {c[4] for c in retried} == {"alice"}
