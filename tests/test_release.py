"""lessons/ is exactly what nbgrader makes of solutions/, leaks nothing, and never loses student work."""

import json
import re
import shutil
import subprocess

import nbformat
import pytest

from autograder.paths import REPO_ROOT, lesson_dirs
from autograder.release import LEAK_MARKERS, ReleaseError, release
from autograder.tasks import all_tasks

SOLUTIONS = lesson_dirs("solutions")


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    release(out=out, log=lambda m: None)
    return out


@pytest.mark.nbgrader
def test_committed_lessons_equal_a_fresh_release(fresh_release):
    assert sorted(lesson_dirs("lessons")) == sorted(SOLUTIONS), "every solution lesson is released"
    for folder in SOLUTIONS.values():
        for fresh in sorted((fresh_release / folder.name).rglob("*")):
            if fresh.is_file():
                committed = REPO_ROOT / "lessons" / folder.name / fresh.relative_to(fresh_release / folder.name)
                assert committed.exists(), f"{committed} missing: run `make release`"
                if fresh.suffix == ".ipynb":
                    assert json.loads(committed.read_text()) == json.loads(fresh.read_text()), \
                        f"{committed} differs from a fresh release: run `make release`"
                else:
                    assert committed.read_bytes() == fresh.read_bytes(), committed


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
def test_lessons_contain_no_solution_or_hidden_test_text(lid):
    released = lesson_dirs("lessons")[lid]
    text = "\n".join(p.read_text() for p in released.rglob("*.ipynb"))
    for marker in LEAK_MARKERS:
        assert marker not in text
    code = "\n".join(c.source for p in released.rglob("*.ipynb") for c in nbformat.read(p, as_version=4).cells)
    source = SOLUTIONS[lid] / f"{SOLUTIONS[lid].name}.ipynb"
    leaked = [line for line in solution_lines(source) if line in code]
    assert not leaked, f"solution text in {released}: {leaked[:3]}"


@pytest.mark.parametrize("task", all_tasks(), ids=lambda t: t.id)
def test_stub_names_its_task_and_check_cell_matches(task):
    released = lesson_dirs("lessons")[task.lesson]
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
def test_release_refuses_to_overwrite_an_edited_lesson_unless_forced(tmp_path):
    lesson = lesson_dirs("lessons")["01"]
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
