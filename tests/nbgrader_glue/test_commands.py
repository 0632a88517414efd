"""commands.py: the course's nbgrader_config.py read as nbgrader reads it."""

from __future__ import annotations

from autograder.nbgrader_glue.commands import course_config


def test_the_course_reads_its_own_config(course):
    assert course_config()["db_url"] == "sqlite:///.nbgrader/gradebook.db"  # relative: the course folder's
    assert course_config()["course_id"] == "gpt-from-scratch"
