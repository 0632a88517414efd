"""End to end: a fake class graded with the real nbgrader command line and a real kernel, offline.

A temporary course folder gets nbgrader_config.py and a copy of solutions/ (with a hidden test
added to one check cell), releases it with `nbgrader generate_assignment`, collects a class from a
folder and from a zip (zip_collect), autogrades, writes feedback and exports. The students:

    ref      the reference solutions          full marks
    stub     the untouched release            0
    partial  every other task done            the points of those tasks
    loop     the last task loops forever      that task 0, the others graded
    broken   truncated JSON                   reported as not graded, 0 in the CSV; others graded
    locked   reference, a check cell edited   full marks (nbgrader restores it), flagged
    hidden   passes every visible check of 01.encode but not its hidden test (lesson 01 only)

Every score equals `make grade`'s for the same notebook (for `hidden`: minus the hidden-tested task).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.nbgrader_glue.cells import check_task_id
from tests.conftest import REPO, run

pytestmark = [pytest.mark.nbgrader, pytest.mark.slow]

HIDDEN_MARK = "hidden-check-q7x"  # appears only inside the hidden test
HIDDEN_TEST = f'''### BEGIN HIDDEN TESTS
note = "{HIDDEN_MARK}"
assert encode("zz", {{"z": 7}}) == [7, 7], note
### END HIDDEN TESTS
'''
# Right on every visible case of 01.encode (all its tables have more than one entry), wrong on the hidden one.
HIDDEN_FAIL_ENCODE = '''def encode(text: str, stoi: dict[str, int]) -> list[int]:
    return [stoi[ch] for ch in text] if len(stoi) > 1 else [0] * len(text)
'''


def available_lessons() -> list[str]:
    """Lesson folders graded here: 01 and 02 when both are released with checks, else 01."""
    from autograder.tasks import lesson_tasks

    names = []
    for lid in ("01", "02"):
        found = sorted((REPO / "solutions").glob(f"{lid}_*"))
        if found and lesson_tasks(lid):
            names.append(found[0].name)
    return names


def cells_by_id(nb) -> dict:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")}


def filled(release, source, grade_ids) -> nbformat.NotebookNode:
    """The release with these solution cells replaced by the reference code (markers dropped)."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    reference = cells_by_id(source)
    for grade_id, cell in cells_by_id(nb).items():
        if cell.metadata["nbgrader"].get("solution") and grade_id in grade_ids:
            cell.source = "\n".join(line for line in reference[grade_id].source.split("\n")
                                    if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return nb


def task_cells(lesson: str, release) -> list[tuple[object, str]]:
    """(task, grade_id of the solution cell defining its target) in task order."""
    from autograder.tasks import lesson_tasks

    solution_ids = [gid for gid, c in cells_by_id(release).items() if c.metadata["nbgrader"].get("solution")]
    pairs = []
    for task in lesson_tasks(lesson):
        top = task.target.split(".")[0]
        owner = next((gid for gid in solution_ids
                      if f"def {top}(" in cells_by_id(release)[gid].source
                      or f"class {top}" in cells_by_id(release)[gid].source), None)
        pairs.append((task, owner))
    return pairs


def build_class(name: str, release, source) -> dict[str, tuple[object, float | None]]:
    """{student: (notebook or bytes, expected nbgrader score or None when not graded)}."""
    lesson = name[:2]
    pairs = task_cells(lesson, release)
    all_ids = {gid for gid, c in cells_by_id(release).items() if c.metadata["nbgrader"].get("solution")}
    total = sum(t.points for t, _ in pairs)
    students = {"ref": (filled(release, source, all_ids), total),
                "stub": (release, 0.0)}

    done = [(t, gid) for i, (t, gid) in enumerate(pairs) if i % 2 == 0]
    partial = filled(release, source, {gid for _, gid in done})
    # Lesson 01's tasks are independent: the exact number is known. Elsewhere a task may also pass
    # through another filled cell, so the expected score is `make grade`'s (filled in by the test).
    students["partial"] = (partial, sum(t.points for t, _ in done) if lesson == "01" else "make grade")

    last_task, last_cell = pairs[-1]
    looping = filled(release, source, all_ids - {last_cell})
    stub_cell = cells_by_id(looping)[last_cell]
    stub_cell.source = "\n".join(
        line.split("raise NotImplementedError")[0] + "while True:  # never returns\n"
        + line.split("raise NotImplementedError")[0] + "    pass" if "raise NotImplementedError" in line else line
        for line in stub_cell.source.split("\n"))
    students["loop"] = (looping, total - last_task.points)

    text = nbformat.writes(release)
    students["broken"] = (text[: len(text) // 2].encode(), None)

    locked = filled(release, source, all_ids)
    first_check = next(c for c in locked.cells if c.metadata.get("nbgrader", {}).get("grade"))
    first_check.source = f"{first_check.metadata['nbgrader']['points']}  # edited: full marks please"
    students["locked"] = (locked, total)

    if lesson == "01":
        hidden = filled(release, source, all_ids)
        cells_by_id(hidden)["encode"].source = HIDDEN_FAIL_ENCODE
        students["hidden"] = (hidden, total - 2)
    return students


def write(student_file: Path, content) -> None:
    student_file.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        student_file.write_bytes(content)
    else:
        nbformat.write(content, student_file)


def make_grade_score(notebook: Path, name: str, tmp: Path) -> float:
    """What `make grade` gives this notebook (autograder.grade on a folder holding only it)."""
    from autograder.grade import grade

    folder = Path(tempfile.mkdtemp(prefix="grade-", dir=tmp))
    (folder / name).mkdir()
    shutil.copy(notebook, folder / name / f"{name}.ipynb")
    return sum(v.points for v in grade(str(folder), [name[:2]]))


def test_class_through_nbgrader(tmp_path):
    lessons = available_lessons()
    assert lessons, "no released lesson to grade"
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    (course / ".nbgrader").mkdir()
    for name in lessons:
        shutil.copytree(REPO / "solutions" / name, course / "solutions" / name)
    # An instructor's hidden test, in the source notebook only.
    source01 = course / "solutions" / lessons[0] / f"{lessons[0]}.ipynb"
    nb = nbformat.read(source01, as_version=4)
    check = next(c for c in nb.cells if check_task_id(c) == "01.encode")  # (its grade_id comes at release)
    check.source = HIDDEN_TEST + check.source
    nbformat.write(nb, source01)

    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "MPLBACKEND": "Agg"}
    py = sys.executable

    def cli(*args, timeout=300):
        started = time.monotonic()
        result = run(py, *args, cwd=course, env=env, timeout=timeout)
        assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result, time.monotonic() - started

    for name in lessons:
        cli("-m", "nbgrader", "generate_assignment", name, "--force", "--log-level=WARN")
        released = (course / "lessons" / name / f"{name}.ipynb").read_text()
        assert "BEGIN HIDDEN" not in released and HIDDEN_MARK not in released

    # The class: ref/stub/partial as a folder in nbgrader's submitted layout, the rest as a zip of
    # <student>_<lesson>.ipynb files (an LMS download) through nbgrader's zip_collect.
    expected, folder_class, archive = {}, tmp_path / "inbox", tmp_path / "downloads.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in lessons:
            release = nbformat.read(course / "lessons" / name / f"{name}.ipynb", as_version=4)
            source = nbformat.read(course / "solutions" / name / f"{name}.ipynb", as_version=4)
            for student, (content, score) in build_class(name, release, source).items():
                expected[student, name] = score
                if student in ("ref", "stub", "partial"):
                    write(folder_class / student / name / f"{name}.ipynb", content)
                else:
                    data = content if isinstance(content, bytes) else nbformat.writes(content).encode()
                    zf.writestr(f"downloads/{student}_{name}.ipynb", data)
    for (student, name), score in list(expected.items()):
        if score == "make grade":
            expected[student, name] = make_grade_score(folder_class / student / name / f"{name}.ipynb", name, tmp_path)
    cli("-m", "autograder.instructor", "collect", str(folder_class))
    cli("-m", "autograder.instructor", "collect", str(archive))
    submitted = {(p.parent.parent.name, p.parent.name) for p in (course / ".nbgrader" / "submitted").glob("*/*/*.ipynb")}
    assert submitted == set(expected)

    graded, autograde_seconds = cli("-m", "autograder.instructor", "autograde", timeout=600)
    report = graded.stdout
    feedback, _ = cli("-m", "autograder.instructor", "feedback")
    cli("-m", "autograder.instructor", "export")

    # Scores: the exported CSV holds exactly the expected ones (0 for the broken notebook).
    with open(course / ".nbgrader" / "grades.csv", newline="") as f:
        csv_scores = {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}
    # nbgrader's export lists every student for every lesson: 0 where they submitted nothing.
    everyone = {s for s, _ in expected}
    assert csv_scores == {(s, n): (expected.get((s, n)) or 0.0) for s in everyone for n in lessons}

    # The same scores as `make grade` (the looping notebook is left out only to save its 10 s timeout).
    for (student, name), score in expected.items():
        if score is None or student == "loop":
            continue
        notebook = course / ".nbgrader" / "submitted" / student / name / f"{name}.ipynb"
        hidden_task_points = 2 if student == "hidden" else 0
        assert make_grade_score(notebook, name, tmp_path) == score + hidden_task_points, (student, name)

    # The report names the broken notebook and the edited locked cell.
    lines = {(line.split()[0], line.split()[1]): line for line in report.splitlines() if line.count(" ") > 2}
    for name in lessons:
        assert "NOT GRADED: not a valid notebook" in lines["broken", name]
        assert "EDITED LOCKED CELLS" in lines["locked", name]
        assert "EDITED" not in lines["ref", name] and "NOT GRADED" not in lines["ref", name]
    loop_nb = nbformat.read(course / ".nbgrader/autograded/loop" / lessons[0] / f"{lessons[0]}.ipynb", as_version=4)
    assert any("s of CPU time (an infinite loop?)" in o.get("text", "") for c in loop_nb.cells
               for o in c.get("outputs", []))

    # Hidden test: really run at autograde, and nowhere in what students get.
    autograded = (course / ".nbgrader/autograded/hidden" / lessons[0] / f"{lessons[0]}.ipynb").read_text()
    assert HIDDEN_MARK in autograded
    gradescope = json.loads((course / ".nbgrader/gradescope/hidden/results.json").read_text())
    encode_test = next(t for t in gradescope["tests"] if t["name"] == "01.encode")
    assert encode_test["score"] == 0 and "hidden check" in encode_test["output"]
    pages = sorted((course / ".nbgrader" / "feedback").glob("*/*/*.html"))
    assert len(pages) == sum(score is not None for score in expected.values())
    for page in pages:
        assert HIDDEN_MARK not in page.read_text() and "HIDDEN TESTS" not in page.read_text(), page
    assert "no hidden test text" in feedback.stdout

    # Gradescope results.json per student, from the same grades.
    for student in {s for s, _ in expected}:
        result = json.loads((course / ".nbgrader" / "gradescope" / student / "results.json").read_text())
        assert result["score"] == sum(csv_scores[student, n] for n in lessons)

    # Wall time per student (kernel start, set-up and solution cells, sandboxed checks).
    print(f"\nautograde of {len(expected)} notebooks: {autograde_seconds:.1f} s wall")
    print("\n".join(line for line in report.splitlines() if line.split()[:1] and line.split()[0] in
                    {s for s, _ in expected}))
