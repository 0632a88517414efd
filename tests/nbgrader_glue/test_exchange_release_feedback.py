"""ReleaseEachFeedback (c.ExchangeFactory.release_feedback): the real `nbgrader release_feedback`
releases every student whose feedback folder has the submission's timestamp and secret, and names,
without stopping, each one that has not (collected before `make collect` wrote them)."""

from __future__ import annotations

import shutil
import sys

import pytest
from nbgrader.utils import notebook_hash

from autograder.nbgrader_glue import exchange, stamps
from tests.conftest import REPO, run

LESSON = "01_chars"


@pytest.mark.nbgrader
def test_release_feedback_releases_the_class_and_names_who_it_left_out(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    root = tmp_path / "exchange"
    exchange.create(root)
    secrets = {}
    for student in ("alice", "bob", "carol"):  # bob: collected before collect stamped submissions
        folder = course / ".nbgrader" / "feedback" / student / LESSON
        folder.mkdir(parents=True)
        (folder / f"{LESSON}.html").write_text(f"<html><body>{student}'s feedback</body></html>")
        if student != "bob":
            stamps.stamp(folder)
            secrets[student] = (folder / stamps.SECRET).read_text()
    done = run(sys.executable, "-m", "nbgrader", "release_feedback", LESSON, cwd=course,
               env={"PYTHONPATH": str(REPO), exchange.ROOT_VARIABLE: str(root)}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    released = root / exchange.COURSE_ID / "feedback"
    for student, secret in secrets.items():  # where the student's fetch_feedback looks for it
        page = released / f"{notebook_hash(secret=secret, notebook_id=LESSON)}.html"
        assert page.read_text() == f"<html><body>{student}'s feedback</body></html>"
    assert len(list(released.iterdir())) == 2
    assert (f"bob/{LESSON}: feedback not released, its folder has no timestamp.txt or submission_secret.txt"
            in done.stderr)
    assert "Traceback" not in done.stderr
