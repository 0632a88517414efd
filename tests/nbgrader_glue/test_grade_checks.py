"""GradeChecks: each check cell scored by the course's grader in the jail, hidden tests included.

Lesson 01 as autograde hands it over: OverwriteCells has put the hidden test back into the encode
check cell. GradeChecks is the one run of the student's code (JailedExecute's optional kernel only
adds printed outputs): it needs no step before it, and leaves the cells' sources as they were.
"""

from __future__ import annotations

import copy
import json

import nbformat
import pytest

from autograder.jail import bwrap
from autograder.nbgrader_glue.cells import check_task_id, hidden_lines
from autograder.nbgrader_glue.check_cells import CheckCells
from autograder.nbgrader_glue.commands import FLAGS_KEY
from autograder.nbgrader_glue.grade_checks import GradeChecks
from autograder.tasks import lesson_tasks
from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not bwrap.usable()[0], reason="bubblewrap: " + bwrap.usable()[1])]

LESSON = "01_chars"
HIDDEN_MARK = "hidden-check-r2m"  # appears only inside the hidden test
HIDDEN_TEST = f'''### BEGIN HIDDEN TESTS
note = "{HIDDEN_MARK}"
assert encode("zz", {{"z": 7}}) == [7, 7], note
### END HIDDEN TESTS
'''
# Right on every visible case of 01.encode (all its tables have more than one entry), wrong on the hidden one.
HIDDEN_FAIL_ENCODE = '''def encode(text: str, stoi: dict[str, int]) -> list[int]:
    return [stoi[ch] for ch in text] if len(stoi) > 1 else [0] * len(text)
'''


def by_id(nb) -> dict:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")}


def reference():
    """The reference notebook with its check cells as a release writes them (grade_id, points)."""
    nb = nbformat.read(REPO / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    return CheckCells().preprocess(nb, {"nbgrader": {"assignment": LESSON, "notebook": LESSON}})[0]


def release(release_dir):
    return nbformat.read(release_dir / LESSON / f"{LESSON}.ipynb", as_version=4)


def autograde(nb, monkeypatch, tmp_path):
    """The autograde steps around GradeChecks on a submitted notebook; {task id: (verdict line, score)}."""
    monkeypatch.chdir(REPO)  # nbgrader runs in the course folder: the source notebooks are read from there
    check = by_id(nb)["check-01-encode"]
    check.source = HIDDEN_TEST + check.source  # as OverwriteCells restores it from the gradebook
    check.outputs = [nbformat.v4.new_output("stream", name="stdout", text="PASS 01.encode (2/2 points)\n")]
    with_hidden = copy.deepcopy(nb)
    resources = {"nbgrader": {"assignment": LESSON, "notebook": LESSON, "student": "alice",
                              "db_url": f"sqlite:///{tmp_path / 'gradebook.db'}"}}
    nb, resources = GradeChecks(jail="bwrap").preprocess(nb, resources)
    assert [c.source for c in nb.cells] == [c.source for c in with_hidden.cells]  # the record keeps its hidden tests
    assert [c.metadata for c in nb.cells] == [c.metadata for c in with_hidden.cells]
    outputs = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert HIDDEN_MARK not in outputs and not any(line in outputs for line in hidden_lines(HIDDEN_TEST))
    scores = {}
    for cell in nb.cells:
        if check_task_id(cell):
            assert [o.output_type for o in cell.outputs] == ["stream", "execute_result"]
            scores[check_task_id(cell)] = (cell.outputs[0].text, float(cell.outputs[1].data["text/plain"]))
    assert list(scores) == [t.id for t in lesson_tasks("01")]
    return nb, scores


def test_the_reference_gets_full_points(monkeypatch, tmp_path):
    nb, scores = autograde(reference(), monkeypatch, tmp_path)
    assert scores == {t.id: (f"PASS {t.id} ({t.points:g}/{t.points:g} points)\n", float(t.points))
                      for t in lesson_tasks("01")}
    record = nb.metadata[FLAGS_KEY]
    assert record["isolation"].startswith("bubblewrap")
    assert [(v["task"], v["status"], v["points"]) for v in record["verdicts"]] == [
        (t.id, "passed", float(t.points)) for t in lesson_tasks("01")]
    assert [v["task"] for v in record["visible"]] == ["01.encode"]  # the visible checks alone, for Gradescope
    assert record["autograde_seconds"] >= 0


def test_a_wrong_answer_caught_only_by_the_hidden_test(monkeypatch, tmp_path):
    nb = reference()
    by_id(nb)["encode"].source = HIDDEN_FAIL_ENCODE
    nb, scores = autograde(nb, monkeypatch, tmp_path)
    assert scores["01.encode"] == ("FAIL 01.encode: failed a hidden check (0/2 points)\n", 0.0)
    assert [s for _, s in scores.values()] == [1.0, 1.0, 0.0, 2.0]
    visible = nb.metadata[FLAGS_KEY]["visible"]
    assert [(v["task"], v["status"]) for v in visible] == [("01.encode", "passed")]


def test_the_untouched_release_is_not_started_not_failed_by_the_hidden_test(monkeypatch, tmp_path, release_dir):
    nb, scores = autograde(release(release_dir), monkeypatch, tmp_path)
    for task in lesson_tasks("01"):
        text, points = scores[task.id]
        assert text.startswith(f"TODO {task.id}: not started") and points == 0.0, text
    assert "hidden" not in scores["01.encode"][0]


def test_a_deleted_solution_cell(monkeypatch, tmp_path):
    nb = reference()
    nb.cells.remove(by_id(nb)["encode"])
    nb, scores = autograde(nb, monkeypatch, tmp_path)
    text, points = scores["01.encode"]
    assert text.startswith("FAIL 01.encode: encode is not defined") and points == 0.0, text
    assert "hidden" not in text
    assert [s for _, s in scores.values()] == [1.0, 1.0, 0.0, 2.0]
