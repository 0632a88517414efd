"""`make grade` end to end: the reference scores 100%, a fresh release 0 (not started), pasted answers full marks."""

import json
import shutil

import pytest

from autograder.source import lesson_dirs
from autograder.report import max_score
from autograder.tasks import all_tasks
from tests.conftest import REPO, paste_reference, run

PYTHON = str(REPO / ".venv" / "bin" / "python")
TOTAL = sum(t.points for t in all_tasks())


def grade(tmp_path, source):
    results = tmp_path / "results.json"
    result = run(PYTHON, "-m", "autograder", "grade", "--source", str(source), "--results", str(results))
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads(results.read_text())


@pytest.mark.slow
def test_reference_solutions_score_full_marks(tmp_path):
    table, results = grade(tmp_path, "solutions")
    assert results["score"] == max_score(results) == TOTAL, table
    assert all(t["status"] == "passed" for t in results["tests"])
    assert f"Total: {TOTAL:g}/{TOTAL:g} points (100%)" in table


@pytest.mark.slow
def test_released_stubs_score_zero_not_started(tmp_path, release_dir):
    table, results = grade(tmp_path, release_dir)
    assert results["score"] == 0 and max_score(results) == TOTAL
    assert len(results["tests"]) == len(all_tasks())
    for task in all_tasks():
        assert f"{task.id}" in table
    assert table.count("not started") == len(all_tasks()), table


@pytest.mark.slow
def test_pasting_the_reference_into_the_release_scores_full_marks(tmp_path, release_dir):
    course = tmp_path / "course"
    for folder in lesson_dirs(release_dir).values():
        shutil.copytree(folder, course / folder.name)
        paste_reference(folder / f"{folder.name}.ipynb", course / folder.name / f"{folder.name}.ipynb")
    table, results = grade(tmp_path, course)
    assert results["score"] == TOTAL, table


def test_one_lesson_can_be_graded_alone(tmp_path):
    results = tmp_path / "results.json"
    result = run(PYTHON, "-m", "autograder", "grade", "--source", "solutions", "--lesson", "01",
                 "--results", str(results))
    assert result.returncode == 0
    ids = [t["name"] for t in json.loads(results.read_text())["tests"]]
    assert ids and all(i.startswith("01.") for i in ids)
