"""A release is what nbgrader makes of solutions/: it leaks nothing, names each task, never loses student work.

These tests read a fresh release made in a temporary folder (the `release_dir` fixture), not lessons/:
lessons/ is the student's working copy. That lessons/ equals a fresh release is a maintainers' check,
`make check-release`, which CI runs (`release.differences`, tested below on a copy).
"""

import json
import re
import shutil
import subprocess

import nbformat
import pytest

from autograder.source import lesson_dirs
from autograder.release import LEAK_MARKERS, ReleaseError, differences, release
from autograder.tasks import all_tasks
from tests.conftest import REPO

SOLUTIONS = lesson_dirs("solutions")


@pytest.mark.nbgrader
def test_every_solution_lesson_is_released(release_dir):
    assert sorted(lesson_dirs(release_dir)) == sorted(SOLUTIONS)


@pytest.mark.nbgrader
def test_check_release_finds_an_edited_a_missing_and_an_extra_file(release_dir, tmp_path):
    copy = tmp_path / "lessons"
    shutil.copytree(release_dir, copy)
    assert differences(copy, release_dir) == []
    notebook = copy / "01_chars" / "01_chars.ipynb"
    nb = json.loads(notebook.read_text())
    nb["cells"][0]["source"] = "my notes"
    notebook.write_text(json.dumps(nb))
    (copy / "02_tokens" / "02_tokens.ipynb").unlink()
    (copy / "03_batches" / "scratch.txt").write_text("x")
    found = differences(copy, release_dir)
    assert any("01_chars.ipynb differs" in line for line in found), found
    assert any("02_tokens.ipynb missing" in line for line in found), found
    assert any("scratch.txt is not in the release" in line for line in found), found


def solution_lines(notebook):
    """Non-trivial lines inside the solution regions of a source notebook."""
    lines, inside = [], False
    for cell in nbformat.read(notebook, as_version=4).cells:
        for line in cell.source.split("\n"):
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 12 and not line.strip().startswith(("#", "return ", '"""')):
                lines.append(line.strip())
    return lines


@pytest.mark.parametrize("lid", sorted(SOLUTIONS))
def test_a_release_contains_no_solution_or_hidden_test_text(lid, release_dir):
    released = lesson_dirs(release_dir)[lid]
    text = "\n".join(p.read_text() for p in released.rglob("*.ipynb"))
    for marker in LEAK_MARKERS:
        assert marker not in text
    code = "\n".join(c.source for p in released.rglob("*.ipynb") for c in nbformat.read(p, as_version=4).cells)
    source = SOLUTIONS[lid] / f"{SOLUTIONS[lid].name}.ipynb"
    leaked = [line for line in solution_lines(source) if line in code]
    assert not leaked, f"solution text in {released}: {leaked[:3]}"


@pytest.mark.parametrize("lid", sorted(SOLUTIONS))
def test_a_lessons_task_table_lists_its_tasks_with_the_registrys_points(lid):
    """A lesson's opening table (| `NN.task` | ... | points |) repeats what autograder/checks/ says: the
    one source is the @task registry, and this keeps the prose from drifting away from it."""
    notebook = nbformat.read(SOLUTIONS[lid] / f"{SOLUTIONS[lid].name}.ipynb", as_version=4)
    table = notebook.cells[0].source
    tasks = {t.id: float(t.points) for t in all_tasks() if t.lesson == lid}
    if "| points |" not in table:  # lesson 01's table has no points column: its tasks are still all listed
        assert sorted(re.findall(r"^\| `(\d\d\.\w+)` \|", table, flags=re.MULTILINE)) == sorted(tasks)
        return
    listed = {task: float(points) for task, points in
              re.findall(r"^\| `(\d\d\.\w+)` \|.*\| ([\d.]+) \|$", table, flags=re.MULTILINE)}
    assert listed == tasks


@pytest.mark.parametrize("task", all_tasks(), ids=lambda t: t.id)
def test_stub_names_its_task_and_check_cell_matches(task, release_dir):
    released = lesson_dirs(release_dir)[task.lesson]
    notebook = nbformat.read(released / f"{released.name}.ipynb", as_version=4)
    stubs = [c for c in notebook.cells if re.search(rf"NotImplementedError\(['\"]{re.escape(task.id)}: ", c.source)]
    assert stubs, f"no stub raising NotImplementedError('{task.id}: ...')"
    checks = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")
              and re.search(rf"check\(['\"]{re.escape(task.id)}['\"]", c.source)]
    assert len(checks) == 1, f"expected one check cell for {task.id}, found {len(checks)}"
    assert checks[0].metadata.nbgrader.points == task.points
    assert checks[0].metadata.nbgrader.locked


def git(repo, *args):
    subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.mark.nbgrader
def test_release_refuses_to_overwrite_an_edited_lesson_unless_forced(tmp_path, release_dir):
    lesson = lesson_dirs(release_dir)["01"]
    copy = tmp_path / "lessons" / lesson.name
    shutil.copytree(lesson, copy)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "release")
    notebook = copy / f"{lesson.name}.ipynb"
    edited = notebook.read_text().replace("raise NotImplementedError(", "return 42  # my work\n    raise NotImplementedError(", 1)
    notebook.write_text(edited)

    with pytest.raises(ReleaseError, match="refusing"):
        release(["01"], root=tmp_path, log=lambda m: None)
    assert notebook.read_text() == edited  # untouched

    release(["01"], force=True, root=tmp_path, log=lambda m: None)
    backups = list((tmp_path / "build" / "lesson-backups").rglob("*.ipynb"))
    assert len(backups) == 1 and backups[0].read_text() == edited
    assert "my work" not in notebook.read_text()

    # `make clean` removes what the course writes at run time, never these backups (the student's work)
    (tmp_path / "build" / "results.json").write_text("{}")
    (tmp_path / "runs" / "cpu-small").mkdir(parents=True)
    shutil.copy(REPO / "Makefile", tmp_path)
    cleaned = subprocess.run(["make", "-s", "clean"], cwd=tmp_path, capture_output=True, text=True)
    assert cleaned.returncode == 0, cleaned.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "build" / "results.json").exists()
    assert [b.read_text() for b in (tmp_path / "build" / "lesson-backups").rglob("*.ipynb")] == [edited]
