"""Students in the gradebook, named: from an optional roster, else by their id.

nbgrader's autograde adds a student it has not seen with no name at all, which formgrader lists as
"None, None". `make collect` (and the exchange's collect, exchange_collect.py) put each student they
collect into the gradebook first: with the names of a roster when one is given (`make collect
ROSTER=roster.csv`, read by nbgrader's own `nbgrader db student import`: columns id, first_name,
last_name, email), else, for a student nobody named, the id as last name. A name set before (by a
roster, or by hand in formgrader's Manage Students) is kept.
"""

from __future__ import annotations

from pathlib import Path

from nbgrader.api import Gradebook


def name_students(db_url: str, course_id: str, student_ids: list[str]) -> None:
    """Add these students to the gradebook (if new) and give every unnamed student a name to show.

    formgrader writes "last, first", with "None" for a missing one: an unnamed student gets their
    id as last name, and a missing first name becomes empty."""
    with Gradebook(db_url, course_id) as gb:
        for student_id in student_ids:
            gb.update_or_create_student(student_id)
        for student in gb.students:
            if student.last_name is None and student.first_name is None:
                gb.update_or_create_student(student.id, last_name=student.id, first_name="")
            elif student.last_name is None or student.first_name is None:
                gb.update_or_create_student(student.id, last_name=student.last_name or "",
                                            first_name=student.first_name or "")


def roster_problem(path: Path) -> str | None:
    """Why a roster file cannot be imported (before nbgrader tries), or None."""
    import csv

    if not Path(path).is_file():
        return f"{path}: no such file"
    with open(path, newline="", encoding="utf-8") as f:
        header = [name.strip() for name in next(csv.reader(f), [])]
    if "id" not in header:
        return f"{path}: the first line must name the columns, one of them id (id,first_name,last_name,email)"
    return None
