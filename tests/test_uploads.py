"""Which lesson an upload is (gradescope/uploads.py), read with the one definition of a check cell's
line (notebook.CHECK_CALL, which the nbgrader plug-ins read too)."""

from __future__ import annotations

import nbformat
import pytest

from autograder.gradescope.uploads import lesson_of
from autograder.loader import Loader
from autograder.nbgrader_glue.cells import check_source
from autograder.notebook import check_calls


@pytest.mark.parametrize("source, found", [
    ('check("01.encode")', ["01.encode"]),
    ("  check( '07.head' )  ", ["07.head"]),
    ('### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\ncheck("09.block")', ["09.block"]),
    ('check("01.encode")\ncheck("01.decode")', ["01.encode", "01.decode"]),
    ('print(check("01.encode"))', []),  # not a check cell's line
    ('check("1.encode")', []),  # lesson ids have two digits
    ("check(task)", []),
])
def test_check_calls_reads_a_check_cells_line(source, found):
    assert check_calls(source) == found


def test_check_calls_reads_back_what_the_release_writes():
    assert check_calls(check_source("12.loss_mask")) == ["12.loss_mask"]


def notebook(path, *sources: str, markdown: str = ""):
    cells = [nbformat.v4.new_code_cell(s) for s in sources]
    cells += [nbformat.v4.new_markdown_cell(markdown)] if markdown else []
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_an_upload_is_known_by_its_check_cells_whatever_its_name(tmp_path):
    path = notebook(tmp_path / "lesson one (2).ipynb", "x = 1", 'check("01.encode")', 'check("01.decode")')
    assert lesson_of(path, Loader()) == ("01", "")


def test_check_cells_of_several_lessons_leave_it_to_the_file_name(tmp_path):
    path = notebook(tmp_path / "03_batches.ipynb", 'check("01.encode")', 'check("02.bpe")')
    assert lesson_of(path, Loader()) == ("03", "03_batches.ipynb: its check cells name several lessons")


def test_no_check_cell_and_no_lesson_in_the_name(tmp_path):
    path = notebook(tmp_path / "homework.ipynb", "x = 1", markdown='call `check("01.encode")` inline')
    assert lesson_of(path, Loader()) == (None, "homework.ipynb: its check cells name no lesson")
