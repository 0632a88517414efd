"""The Gradescope autograder, run offline the way Gradescope runs it.

`make gradescope LESSON=01`'s zip (built from a copy of solutions/ with a hidden test) is unpacked
into a temporary root laid out like Gradescope's /autograder (source/, submission/, results/), and
its run_autograder grades: the reference, an untouched release, a partial submission, a renamed
notebook, a broken one, and one that fails only the hidden test. Each results.json is validated
against Gradescope's format with jsonschema, and its total equals `make grade`'s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import jsonschema
import nbformat
import pytest

from autograder.gradescope.build import build
from autograder.gradescope.schema import validate
from autograder.grade import grade
from autograder.nbgrader_glue.feedback import encodings
from autograder.source import Source
from autograder.nbgrader_glue.cells import check_task_id
from tests.conftest import REPO

pytestmark = pytest.mark.slow
LESSON = "01_chars"
HIDDEN_TEST = '''### BEGIN HIDDEN TESTS
assert encode("zz", {"z": 7}) == [7, 7], "hidden-gs-mark"
### END HIDDEN TESTS
'''
HIDDEN_FAIL_ENCODE = '''def encode(text: str, stoi: dict[str, int]) -> list[int]:
    return [stoi[ch] for ch in text] if len(stoi) > 1 else [0] * len(text)
'''
# replaces, in its own process, what served (and once ran) the hidden test: a pass, or the test in hex
FORGE = '''try:
    import autograder.jail.remote as _remote
    _remote.Server.answer = lambda self, request: {"value": True}
    import autograder.jail.child as _child
    from autograder.run import Outcome as _Outcome
    _child._hidden = lambda code, module: _Outcome("error", reason="name " + code.encode().hex().upper())
except Exception:
    pass
'''


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(REPO / "solutions" / LESSON, source / LESSON)
    path = source / LESSON / f"{LESSON}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if check_task_id(c) == "01.encode")
    cell.source = HIDDEN_TEST + cell.source
    nbformat.write(nb, path)
    return build(["01"], Source.parse(source), out=tmp_path_factory.mktemp("zip"))


def notebook(kind: str, release_dir) -> nbformat.NotebookNode:
    reference = nbformat.read(REPO / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    release = nbformat.read(release_dir / LESSON / f"{LESSON}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: "\n".join(x for x in c.source.split("\n") if "SOLUTION" not in x)
               for c in reference.cells if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers and (kind in ("reference", "hidden", "forger")
                                    or kind == "partial" and grade_id in ("encode", "decode")):
            cell.source = answers[grade_id]
        if kind in ("hidden", "forger") and grade_id == "encode":
            cell.source = (FORGE if kind == "forger" else "") + HIDDEN_FAIL_ENCODE
    return nb


def grade_on_gradescope(tmp_path, autograder_zip, files: dict[str, object], plant=None) -> dict:
    """run_autograder on a submission of these files (plant(submission folder) may add more)."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / name, 0o755)
    shutil.copytree(REPO / "datasets" / "tinyshakespeare", root / "source" / "datasets" / "tinyshakespeare")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    for name, content in files.items():
        if isinstance(content, bytes):
            (root / "submission" / name).write_bytes(content)
        else:
            nbformat.write(content, root / "submission" / name)
    if plant:
        plant(root / "submission")
    done = subprocess.run([str(root / "source" / "run_autograder")], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "\x1b" not in done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    validate(results)
    return results


def make_grade_total(tmp_path, nb) -> float:
    (tmp_path / "mg" / LESSON).mkdir(parents=True)
    nbformat.write(nb, tmp_path / "mg" / LESSON / f"{LESSON}.ipynb")
    return sum(v.points for v in grade(tmp_path / "mg", ["01"]))


def test_the_zip_holds_what_grading_needs_and_no_solution_source(autograder_zip):
    names = zipfile.ZipFile(autograder_zip).namelist()
    assert {"setup.sh", "run_autograder", "requirements.lock", "course.json", "reference.bin",
            "autograder/fixtures/lesson01.pt", "datasets/fetch.py"} <= set(names)
    assert not [n for n in names if n.startswith("solutions/") or n.endswith(".ipynb")]
    info = zipfile.ZipFile(autograder_zip).getinfo("run_autograder")
    assert info.external_attr >> 16 & 0o111  # executable, as Gradescope runs it
    course = json.loads(zipfile.ZipFile(autograder_zip).read("course.json"))
    assert course["lessons"] == ["01"] and "hidden-gs-mark" in course["hidden"]["01.encode"]


@pytest.mark.parametrize("kind,name,score", [
    ("reference", f"{LESSON}.ipynb", 6.0),
    ("release", f"{LESSON}.ipynb", 0.0),
    ("partial", f"{LESSON}.ipynb", 4.0),
    ("reference", "My Homework (2).ipynb", 6.0),
])
def test_run_autograder_grades_like_make_grade(tmp_path, autograder_zip, kind, name, score, release_dir):
    results = grade_on_gradescope(tmp_path, autograder_zip, {name: notebook(kind, release_dir)})
    assert results["score"] == score == make_grade_total(tmp_path, notebook(kind, release_dir))
    assert {t["name"] for t in results["tests"]} >= {"01.vocab", "01.tables", "01.decode"}
    assert "Graded in isolation:" in results["output"] and results["stdout_visibility"] == "hidden"


def test_a_broken_notebook_scores_zero_with_a_reason_per_task(tmp_path, autograder_zip, release_dir):
    text = nbformat.writes(notebook("reference", release_dir)).encode()
    results = grade_on_gradescope(tmp_path, autograder_zip, {f"{LESSON}.ipynb": text[: len(text) // 2]})
    assert results["score"] == 0 and len(results["tests"]) >= 4
    assert all("broken JSON" in t["output"] for t in results["tests"] if t["max_score"])


@pytest.mark.parametrize("attack", ["classmate's notebook", "host file", "hard link", "fifo"])
def test_a_link_or_special_file_scores_zero_and_is_never_read(tmp_path, autograder_zip, release_dir, attack):
    """The upload's 01_chars.ipynb is a link to a classmate's finished notebook or to a file of the
    machine, a hard link, or a pipe: every task 0, saying what the file is, and not a byte of it shown."""
    secret = tmp_path / "host" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("SECRET-HOST-BYTES\n")
    classmate = tmp_path / "classmate.ipynb"
    nbformat.write(notebook("reference", release_dir), classmate)
    notebook_path = {"classmate's notebook": lambda p: p.symlink_to(classmate),
                     "host file": lambda p: p.symlink_to(secret),
                     "hard link": lambda p: os.link(secret, p), "fifo": os.mkfifo}[attack]
    results = grade_on_gradescope(tmp_path, autograder_zip, {},
                                  plant=lambda submission: notebook_path(submission / f"{LESSON}.ipynb"))
    what = {"hard link": "is a hard link", "fifo": "is a named pipe"}.get(attack, "is a symbolic link")
    assert results["score"] == 0
    assert all(t["output"].startswith(f"FAIL {t['name']}: {LESSON}.ipynb: {what}") for t in results["tests"])
    assert "SECRET-HOST-BYTES" not in json.dumps(results)


@pytest.mark.parametrize("kind", ["hidden", "forger"])
def test_hidden_checks_score_after_publication_and_never_show(tmp_path, autograder_zip, release_dir, kind):
    results = grade_on_gradescope(tmp_path, autograder_zip, {f"{LESSON}.ipynb": notebook(kind, release_dir)})
    tests = {t["name"]: t for t in results["tests"]}
    scored, shown = tests["01.encode"], tests["01.encode (visible checks)"]
    assert scored["visibility"] == "after_published" and scored["score"] == 0
    assert "failed a hidden check" in scored["output"]
    assert shown["visibility"] == "visible" and shown["max_score"] == 0 and shown["output"].startswith("PASS")
    assert results["score"] == 4.0
    shown = json.dumps(results).lower()  # hex in either case, any case of the text
    assert not [form for form in encodings("hidden-gs-mark") if form.lower() in shown]


def test_the_schema_rejects_what_gradescope_would():
    with pytest.raises(jsonschema.ValidationError):
        validate({"tests": [{"name": "x", "score": 1}]})  # no max_score
    with pytest.raises(jsonschema.ValidationError):
        validate({"tests": [], "visibility": "sometimes"})
