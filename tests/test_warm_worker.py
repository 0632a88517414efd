"""A warm worker: one jailed worker for one student's notebooks, graded one after another.

nbgrader's autograde hands GradeChecks one notebook at a time; the student's worker (bubblewrap,
Python, torch) is kept for their next notebook. These tests hold what makes that safe and right:
the grades are those of a fresh worker per notebook, a lesson never runs in a worker that holds its
own lesson's reference (a fresh one is started), a dead worker is replaced, and GradeChecks never
keeps a worker from one student to the next.
"""

from __future__ import annotations

import shutil

import pytest

from autograder.grade import grade_report
from autograder.jail import bwrap
from autograder.jail.client import WarmWorker, choose
from autograder.nbgrader_glue import grade_checks
from autograder.paths import REPO_ROOT
from autograder.run import PASSED

pytestmark = pytest.mark.skipif(not bwrap.usable()[0], reason="bubblewrap: " + bwrap.usable()[1])

LESSONS = ("01", "02", "03")


@pytest.fixture
def student(tmp_path):
    """A student folder with the reference notebooks of lessons 01-03 (all tasks pass)."""
    for lid in LESSONS:
        folder = next((REPO_ROOT / "solutions").glob(f"{lid}_*"))
        shutil.copytree(folder, tmp_path / "student" / folder.name)
    return tmp_path / "student"


def statuses(report) -> dict[str, str]:
    return {v.task: v.status for v in report.verdicts}


def test_one_worker_grades_a_students_lessons_in_order(student):
    warm = WarmWorker(choose("bwrap"), readable=[student])
    try:
        reports = [grade_report(student, [lid], jail="bwrap", warm=warm) for lid in LESSONS]
        assert warm.started == 1, "lessons in order share the student's worker: torch starts once"
        assert warm.worker.sent == {"01", "02"}, "the worker holds only the lessons before the last it graded"
    finally:
        warm.close()
    for lid, report in zip(LESSONS, reports):
        assert report.verdicts, f"lesson {lid} has tasks"
        assert all(v.status == PASSED for v in report.verdicts), [v for v in report.verdicts if v.status != PASSED]
        assert statuses(report) == statuses(grade_report(student, [lid], jail="bwrap")), \
            f"lesson {lid}: a kept worker must grade as a fresh one does"


def test_an_earlier_lesson_after_a_later_one_gets_a_fresh_worker(student):
    warm = WarmWorker(choose("bwrap"), readable=[student])
    try:
        grade_report(student, ["03"], jail="bwrap", warm=warm)
        assert warm.worker.sent == {"01", "02"}
        report = grade_report(student, ["02"], jail="bwrap", warm=warm)
        assert warm.started == 2, "lesson 02 must not run where lesson 02's reference is loaded"
        assert warm.worker.sent == {"01"}
        assert all(v.status == PASSED for v in report.verdicts)
    finally:
        warm.close()


def test_a_worker_that_died_is_replaced(student):
    warm = WarmWorker(choose("bwrap"), readable=[student])
    try:
        grade_report(student, ["01"], jail="bwrap", warm=warm)
        warm.worker.process.kill()
        warm.worker.process.wait()
        report = grade_report(student, ["02"], jail="bwrap", warm=warm)
        assert warm.started == 2
        assert all(v.status == PASSED for v in report.verdicts)
    finally:
        warm.close()


def test_grade_checks_never_keeps_a_worker_for_another_student():
    kept = grade_checks._StudentWorker
    try:
        alice = kept.for_student("alice", "bwrap")
        assert kept.for_student("alice", "bwrap") is alice, "the same student's next notebook: same worker"
        bob = kept.for_student("bob", "bwrap")
        assert bob is not alice and bob.warm is not alice.warm and bob.folder != alice.folder
        assert not alice.folder.exists(), "alice's folder (her notebooks) is gone before bob's code runs"
        assert kept.for_student("alice", "bwrap") is not alice, "alice again after bob: a fresh worker"
    finally:
        kept.close_current()
    assert kept.current is None
