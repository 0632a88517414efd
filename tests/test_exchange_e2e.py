"""End to end: a class through nbgrader's own exchange, and the same class through the make targets.

Exchange route, with nbgrader's commands only and no option given by hand (the exchange comes from
$GPT_COURSE_EXCHANGE through nbgrader_config.py and, for students, jupyter/student/):
    make exchange; nbgrader generate_assignment; nbgrader release_assignment
    each student (own home and nbgrader cache): nbgrader fetch_assignment, work, nbgrader submit --student=ID
    nbgrader collect; nbgrader db student import roster.csv; nbgrader autograde (the jailed config);
    nbgrader generate_feedback; nbgrader release_feedback; each student: nbgrader fetch_feedback
    --student=ID; make export
Make route, on a copy of the same course (same release, same gradebook) with the same submissions:
    make collect FROM=inbox ROSTER=roster.csv; make autograde; make feedback;
    nbgrader release_feedback (needs the timestamp and secret make collect writes); make export
Both routes give the same grades. Then a score set by hand (formgrader's Grade.manual_score) shows
in grades.csv, report.txt and the student's results.json after `make export`.

Students (lesson 01): alice the reference, bob the untouched release, carol every other task.
On several students on one machine: nbgrader takes the student id from the user name; `--student=ID`
is nbgrader's own option for it (submit, fetch_feedback), and each student gets a HOME of their own,
so each has their own nbgrader cache (the secret fetch_feedback finds their page by).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from tests.conftest import REPO, run
from tests.test_instructor_e2e import filled, task_cells

pytestmark = [pytest.mark.nbgrader, pytest.mark.slow]

LESSON = "01_chars"
STUDENTS = ("alice", "bob", "carol")


def notebooks(release, source) -> dict[str, tuple[object, float]]:
    """{student: (notebook, expected score)}: lesson 01's tasks are independent, so scores are exact."""
    pairs = task_cells("01", release)
    every = {cell for _, cell in pairs}
    half = [(task, cell) for i, (task, cell) in enumerate(pairs) if i % 2 == 0]
    return {"alice": (filled(release, source, every), float(sum(t.points for t, _ in pairs))),
            "bob": (release, 0.0),
            "carol": (filled(release, source, {cell for _, cell in half}), float(sum(t.points for t, _ in half)))}


def grades(csv_path: Path) -> dict[str, dict]:
    with open(csv_path, newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f) if row["assignment"] == LESSON}


def test_exchange_route_and_make_route_give_the_same_grades(tmp_path):
    base_env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO)}

    def sh(*args, cwd, env=None, timeout=600):
        result = run(*args, cwd=cwd, env={**base_env, **(env or {})}, timeout=timeout)
        assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result

    def make(target, *variables, cwd, env):
        return sh("make", "-f", str(REPO / "Makefile"), f"VENV={Path(sys.executable).parent.parent}", target,
                  *variables, cwd=cwd, env=env)

    def nbgrader(*args, cwd, env):
        return sh(sys.executable, "-m", "nbgrader", *args, cwd=cwd, env=env)

    # --- the course, released once; the make route gets a copy of it (same release, same gradebook)
    routes = {"exchange": tmp_path / "course-exchange", "make": tmp_path / "course-make"}
    env = {name: {"GPT_COURSE_EXCHANGE": str(tmp_path / f"exchange-{name}")} for name in routes}
    course = routes["exchange"]
    (course / ".nbgrader").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / LESSON, course / "solutions" / LESSON)
    nbgrader("generate_assignment", LESSON, "--force", "--log-level=WARN", cwd=course, env=env["exchange"])
    shutil.copytree(course, routes["make"])
    for name, folder in routes.items():
        made = make("exchange", cwd=folder, env=env[name])
        assert f"created 2733 {tmp_path / f'exchange-{name}'}/gpt-from-scratch/inbound" in made.stdout

    # --- exchange route: release, each student fetches, works, submits
    nbgrader("release_assignment", LESSON, cwd=course, env=env["exchange"])
    release = nbformat.read(course / "lessons" / LESSON / f"{LESSON}.ipynb", as_version=4)
    source = nbformat.read(course / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    work = notebooks(release, source)
    homes = {s: tmp_path / "home" / s for s in STUDENTS}
    student_env = {s: {**env["exchange"], "HOME": str(home), "JUPYTER_DATA_DIR": str(home / ".local/share/jupyter"),
                       "JUPYTER_CONFIG_PATH": str(REPO / "jupyter" / "student")} for s, home in homes.items()}
    inbox = tmp_path / "inbox"
    for student, home in homes.items():
        home.mkdir(parents=True)
        nbgrader("fetch_assignment", LESSON, cwd=home, env=student_env[student])
        nbformat.write(work[student][0], home / LESSON / f"{LESSON}.ipynb")
        nbgrader("submit", LESSON, f"--student={student}", cwd=home, env=student_env[student])
        shutil.copytree(home / LESSON, inbox / student / LESSON)  # the same work, for the make route

    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name,email\nalice,Alice,Liddell,alice@example.org\ncarol,Carol,Lewis,\n")
    nbgrader("collect", LESSON, cwd=course, env=env["exchange"])
    nbgrader("db", "student", "import", str(roster), cwd=course, env=env["exchange"])
    nbgrader("autograde", LESSON, cwd=course, env=env["exchange"])
    nbgrader("generate_feedback", LESSON, cwd=course, env=env["exchange"])
    nbgrader("release_feedback", LESSON, cwd=course, env=env["exchange"])
    for student, home in homes.items():
        nbgrader("fetch_feedback", LESSON, f"--student={student}", cwd=home, env=student_env[student])
        pages = list((home / LESSON / "feedback").glob(f"*/{LESSON}.html"))
        assert len(pages) == 1, student
        assert pages[0].read_bytes() == (course / ".nbgrader/feedback" / student / LESSON / f"{LESSON}.html").read_bytes()
    make("export", cwd=course, env=env["exchange"])
    by_exchange = grades(course / ".nbgrader" / "grades.csv")

    # --- make route: the same submissions, from a folder, with a roster
    course = routes["make"]
    make("collect", f"FROM={inbox}", f"ROSTER={roster}", cwd=course, env=env["make"])
    make("autograde", cwd=course, env=env["make"])
    make("feedback", cwd=course, env=env["make"])
    released = nbgrader("release_feedback", LESSON, cwd=course, env=env["make"])
    assert "not released" not in released.stderr
    assert len(list((tmp_path / "exchange-make" / "gpt-from-scratch" / "feedback").glob("*.html"))) == 3
    make("export", cwd=course, env=env["make"])
    by_make = grades(course / ".nbgrader" / "grades.csv")

    # --- the same grades, the expected ones; timestamps and names filled on both routes
    expected = {s: score for s, (_, score) in work.items()}
    assert {s: float(r["score"]) for s, r in by_exchange.items()} == expected
    assert {s: float(r["score"]) for s, r in by_make.items()} == expected
    assert all(r["timestamp"] for r in [*by_exchange.values(), *by_make.values()])
    for by_route in (by_exchange, by_make):  # bob is not on the roster: collect named him by id
        assert {s: (r["last_name"], r["first_name"]) for s, r in by_route.items()} == {
            "alice": ("Liddell", "Alice"), "bob": ("bob", ""), "carol": ("Lewis", "Carol")}

    # --- a score changed by hand in formgrader reaches every export
    from nbgrader.api import Gradebook

    carol_missed = next(t for i, (t, _) in enumerate(task_cells("01", release)) if i % 2 == 1)
    grade_id = f"check-{carol_missed.id.replace('.', '-')}"
    with Gradebook(f"sqlite:///{course / '.nbgrader' / 'gradebook.db'}") as gb:
        gb.find_grade(grade_id, LESSON, LESSON, "carol").manual_score = 1.0
        gb.db.commit()
    make("export", cwd=course, env=env["make"])
    assert float(grades(course / ".nbgrader" / "grades.csv")["carol"]["score"]) == expected["carol"] + 1
    report = (course / ".nbgrader" / "report.txt").read_text()
    carol_line = next(line for line in report.splitlines() if line.startswith("carol "))
    assert f"{expected['carol'] + 1:g}/{expected['alice']:g}" in carol_line
    results = json.loads((course / ".nbgrader" / "gradescope" / "carol" / "results.json").read_text())
    assert results["score"] == expected["carol"] + 1
    changed = next(t for t in results["tests"] if t["name"] == carol_missed.id)
    assert changed["score"] == 1.0 and changed["output"].endswith("Score set by the instructor: 1/1 (autograded: 0).")
