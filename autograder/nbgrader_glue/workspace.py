"""What every instructor command shares: the class's folders under .nbgrader/, its gradebook, nbgrader
run as a step that must succeed, and which lessons are released and submitted.

Paths are relative to the course root (the folder holding nbgrader_config.py), where the make targets run.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..paths import lesson_id
from .commands import course_config, nbgrader

WORK = Path(".nbgrader")  # nbgrader's working folders, relative to the course root (see nbgrader_config.py)
SUBMITTED, AUTOGRADED, FEEDBACK = WORK / "submitted", WORK / "autograded", WORK / "feedback"
WITHHELD = WORK / "feedback-withheld"  # pages that failed the hidden-text check, for the instructor to see
LOGS = WORK / "logs"  # nbgrader's output, one file per parallel autograde process
LESSON_DIR = re.compile(r"^\d\d_\w+$")


class InstructorError(RuntimeError):
    pass


def gradebook():
    from nbgrader.api import Gradebook

    config = course_config()
    return Gradebook(config["db_url"], config["course_id"])


def run_nbgrader(*args: str, check: bool = True):
    WORK.mkdir(exist_ok=True)  # nbgrader does not create the gradebook's folder
    result = nbgrader(*args)
    if check and result.returncode != 0:
        raise InstructorError(f"nbgrader {args[0]} failed (exit code {result.returncode})")
    return result


def released_lessons() -> list[str]:
    """Lesson folder names (NN_slug) released into lessons/ (nbgrader's release folder)."""
    root = Path(course_config()["release"])
    return sorted(p.name for p in root.iterdir() if p.is_dir() and LESSON_DIR.match(p.name)) if root.is_dir() else []


def lesson_names(lesson: str | None) -> list[str]:
    names = released_lessons()
    if lesson:
        names = [n for n in names if n[:2] == lesson_id(lesson)]
        if not names:
            raise InstructorError(f"lesson {lesson} is not released in lessons/: run `make release LESSON={lesson}`")
    return names


def submitted_lessons() -> list[str]:
    return sorted({p.name for p in SUBMITTED.glob("*/*") if p.is_dir()}) if SUBMITTED.is_dir() else []
