"""`make test` tests the course, not the student's notebooks: it stays green while lessons/ holds their work.

lessons/ is the student's working copy. The course's tests read a fresh release made in a temporary
folder instead (the `release_dir` fixture in conftest.py); whether lessons/ equals a fresh release is
a maintainers' check (`make check-release`, run by .ci/run). Two tests hold that in place: a static
one, that no test names lessons/ as what it reads, and a real one, that the tests which read a
release pass in a copy of the course whose lessons/ a student has worked in.
"""

import re
import shutil
import sys

import nbformat
import pytest

from tests.conftest import REPO, run

# Where a test may still name lessons/, and why it does not read the student's work there.
ALLOWED = {
    ("test_robustness.py", 'REPO_ROOT / "lessons" / "tampered.txt"'): "a file a sandboxed attack must fail to create",
    ("corpus/cases.py", "REPO_ROOT / 'lessons' / 'tampered.txt'"): "the attack itself (it must fail)",
    ("test_release.py", 'tmp_path / "lessons"'): "a temporary course's lessons/",
    ("nbgrader_glue/conftest.py", 'tmp_path / "lessons"'): "a temporary course's lessons/",
    ("nbgrader_glue/test_restore_deleted_cells.py", 'tmp_path / "lessons"'): "a temporary course's lessons/",
    ("nbgrader_glue/test_autograde.py", 'course / "lessons"'): "the temporary course's lessons/ (the course fixture)",
    ("nbgrader_glue/test_jailed_execute.py", 'load_lesson("01")'): "inside a jailed test notebook: the reference",
    ("test_instructor_e2e.py", 'course / "lessons"'): "a temporary course's lessons/",
    ("test_jail.py", 'course / "lessons"'): "a temporary course's lessons/",
    ("test_gradescope.py", 'course["lessons"]'): "a key of the autograder's course.json",
    ("test_loader.py", "L01 = load_lesson('01')"): "inside a test notebook, resolved by its deps",
    ("test_browser.py", 'course / "lessons"'): "a temporary course's lessons/",
    ("test_browser.py", '{"lessons", "README.md"}'): "what the temporary course's file browser shows",
    ("test_feedback_inert_e2e.py", 'course / "lessons"'): "a temporary course's lessons/",
    ("test_browser_instructor.py", 'course / "lessons"'): "a temporary course's lessons/",
    ("test_exchange_e2e.py", 'course / "lessons"'): "a temporary course's lessons/",
    ("test_submission_files.py", 'root / "lessons"'): "a temporary course's lessons/",
    ("test_new_lesson.py", 'L01 = load_lesson("01")'): "inside a test notebook, resolved by its deps",
    ("test_new_lesson.py", '"tests" / "lessons"'): "tests/lessons/ in a temporary course",
    ("test_new_lesson.py", 'name.startswith("lessons/")'): "leaves lessons/ out of the temporary course's copy",
    ("test_setup.py", 'course / "lessons" / name'): "a temporary course's lessons/ (a fresh release)",
    ("test_student_tree.py", ""): "this file",
}
READS_LESSONS = [
    (r"""["']lessons["']""", "names lessons/"),
    (r"""["']lessons/""", "a path into lessons/"),
    (r"\blesson_dirs\(\)", "lesson_dirs() defaults to lessons/"),
    (r"\blesson_notebook\([^,()]+\)", "lesson_notebook(x) defaults to lessons/"),
    (r"\bgrade\(\)", "grade() defaults to lessons/"),
    (r"""\bload_lesson\(["']\d+["']\)""", "load_lesson('NN') defaults to lessons/"),
]


def test_no_test_reads_the_students_lessons():
    found = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        name = path.relative_to(REPO / "tests").as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for pattern, why in READS_LESSONS:
                if re.search(pattern, line) and not any(
                        name == file and snippet in line for file, snippet in ALLOWED):
                    found.append(f"tests/{name}:{number}: {why}: {line.strip()}")
    assert not found, "use the release_dir fixture (a fresh release) instead:\n" + "\n".join(found)


# Tests that read released notebooks (all but the slowest: those are held by the static test above).
READ_A_RELEASE = [
    "tests/test_release.py",
    "tests/test_loader.py::test_stub_lesson_loads_and_its_stubs_name_the_task",
    "tests/test_loader.py::test_nested_loads_follow_the_dependency_source",
    "tests/test_grading.py::test_released_stubs_score_zero_not_started",
    "tests/test_robustness.py::test_stubs_are_not_started_not_failed",
    "tests/test_capstone.py::test_training_refuses_lessons_that_do_not_pass",
    "tests/test_capstone_model_file.py::test_make_model_refuses_to_vouch_for_unfinished_lessons",
]  # not test_make_lab...: its `make kernel` would register the copy's python in the shared .venv


def edit_like_a_student(lessons):
    """Work in progress: an answer filled in (wrong), a cell's text changed, an output kept, a scratch file."""
    path = lessons / "01_chars" / "01_chars.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "encode":
            cell.source = "def encode(text, stoi):\n    return [stoi[c] + 1 for c in text]  # my try"
        elif grade_id == "build_vocab":
            cell.source = "def build_vocab(text):\n    return sorted(set(text))"
            cell.outputs = [nbformat.v4.new_output("stream", text="['a', 'b']\n")]
    nb.cells.append(nbformat.v4.new_markdown_cell("my notes"))
    nbformat.write(nb, path)
    path = lessons / "02_tokens" / "02_tokens.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells = nb.cells[:-3]  # deleted cells by mistake
    nbformat.write(nb, path)
    (lessons / "03_batches" / "scratch.py").write_text("print('trying things')\n")


@pytest.mark.slow
@pytest.mark.nbgrader
def test_the_tests_that_read_a_release_pass_while_lessons_hold_student_work(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO, course, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "runs", "build", ".nbgrader", "__pycache__", ".pytest_cache", "*.egg-info"))
    (course / ".venv").symlink_to(REPO / ".venv")  # the tests call .venv/bin/python of their course
    edit_like_a_student(course / "lessons")
    assert run(sys.executable, "-m", "autograder.release", "--check", cwd=course).returncode == 1  # it is edited
    result = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *READ_A_RELEASE,
                 cwd=course, env={"PYTHONPATH": str(course)}, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]  # "83 passed in 27.19s" (test names may say "failed")
    assert re.fullmatch(r"=*\s*\d+ passed(, \d+ warnings?)? in [\d.]+s( \([\d:]+\))?\s*=*", summary), summary
