"""autograder.load_lesson: definitions only, clear errors naming file and cell, dependency sources."""

import shutil

import nbformat
import pytest

from autograder import LessonLoadError, load_lesson
from autograder.loader import why_missing
from autograder.source import lesson_notebook

REFERENCE = lesson_notebook("01", "solutions")


def copy_lesson(tmp_path, name="01_chars"):
    folder = tmp_path / "course" / name
    folder.mkdir(parents=True)
    target = folder / f"{name}.ipynb"
    shutil.copy(REFERENCE, target)
    return target


def test_loads_definitions_without_running_demos():
    lesson = load_lesson("01", source="solutions")
    assert lesson.encode("hi", {"h": 0, "i": 1}) == [0, 1]
    assert not hasattr(lesson, "text") and not hasattr(lesson, "chars")  # demo variables


@pytest.mark.parametrize("name", ["01", 1, "01_chars", str(REFERENCE)])
def test_lesson_can_be_named_several_ways(name):
    assert callable(load_lesson(name, source="solutions").decode)


def test_stub_lesson_loads_and_its_stubs_name_the_task(release_dir):
    lesson = load_lesson("01", source=release_dir)
    with pytest.raises(NotImplementedError, match=r"^01\.encode: "):
        lesson.encode("hi", {})


def test_invalid_json_names_the_file(tmp_path):
    target = copy_lesson(tmp_path)
    target.write_text(target.read_text()[:500])
    with pytest.raises(LessonLoadError, match="01_chars.ipynb"):
        load_lesson(target)


def replace_cell(target, grade_id, source) -> int:
    nb = nbformat.read(target, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    nb.cells[index].source = source
    nbformat.write(nb, target)
    return index


def test_a_syntax_error_costs_only_what_its_cell_defines(tmp_path):
    target = copy_lesson(tmp_path)
    index = replace_cell(target, "encode", "def encode(text, stoi):\n    return [stoi[c] for c in text")
    lesson = load_lesson(target)
    assert not hasattr(lesson, "encode")
    assert lesson.decode([0, 1], {0: "h", 1: "i"}) == "hi"  # the cells after it still ran
    assert why_missing(lesson, "encode").startswith(f"encode is not defined, because 01_chars.ipynb, cell {index}: "
                                                    "SyntaxError on line 2")
    assert "the likely cause: 01_chars.ipynb" in why_missing(lesson, "nothing_like_it")  # the best lead there is
    assert "deleted or renamed" in why_missing(load_lesson(REFERENCE), "nothing_like_it")


def test_a_solution_cell_that_raises_keeps_what_it_defined_before(tmp_path):
    target = copy_lesson(tmp_path)
    replace_cell(target, "encode", "def encode(text, stoi):\n    return [stoi[c] for c in text]\n\nprint(undefined_name)")
    lesson = load_lesson(target)
    assert lesson.encode("ih", {"h": 0, "i": 1}) == [1, 0]  # as in a kernel: the def ran before the error
    assert "NameError" in lesson.__cell_errors__[0].problem


def test_a_broken_set_up_cell_fails_the_lesson(tmp_path):
    target = copy_lesson(tmp_path)
    nb = nbformat.read(target, as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("locked")
                 and not c.metadata["nbgrader"].get("grade"))
    setup.source += "\nraise RuntimeError('set-up broke')"
    nbformat.write(nb, target)
    with pytest.raises(LessonLoadError, match="set-up broke"):
        load_lesson(target)


def test_a_broken_lesson_does_not_affect_another(tmp_path):
    broken = copy_lesson(tmp_path, "01_chars")
    broken.write_text("{")
    fine = copy_lesson(tmp_path, "02_copy")
    with pytest.raises(LessonLoadError):
        load_lesson("01", source=broken.parent.parent)
    assert load_lesson(fine).build_vocab("ba") == ["a", "b"]


def test_nested_loads_follow_the_dependency_source(tmp_path, release_dir):
    # A later lesson whose set-up cell loads lesson 01: grading resolves it to the reference.
    folder = tmp_path / "course" / "02_later"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "from autograder import load_lesson\nL01 = load_lesson('01')",
        metadata={"nbgrader": {"locked": True, "grade": False, "solution": False, "grade_id": "setup",
                               "schema_version": 3}}))
    nbformat.write(nb, folder / "02_later.ipynb")
    with_reference = load_lesson(folder / "02_later.ipynb", deps="solutions")
    assert with_reference.L01.build_vocab("ba") == ["a", "b"]
    with_stubs = load_lesson(folder / "02_later.ipynb", deps=release_dir)
    with pytest.raises(NotImplementedError):
        with_stubs.L01.build_vocab("ba")



def test_the_package_exports_the_functions_a_notebook_imports():
    """`from autograder import check, load_lesson` in a set-up cell gives callables: they are imported
    lazily (importing the package stays cheap), and no submodule of the same name shadows them."""
    import subprocess
    import sys

    cheap = "import sys, autograder; assert 'torch' not in sys.modules"
    exported = ("import autograder.check_cell, autograder.loader, autograder.paths\n"
                "from autograder import check, load_lesson, read_tinyshakespeare, LessonLoadError\n"
                "assert callable(check) and callable(load_lesson) and callable(read_tinyshakespeare)\n"
                "assert issubclass(LessonLoadError, Exception)")
    for code in (cheap, exported):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
