"""cells.py: which cell checks which task, and a cell's hidden tests (nbgrader's own delimiters)."""

from __future__ import annotations

import copy

from nbformat.v4 import new_markdown_cell

from autograder.nbgrader_glue.cells import check_task_id, hidden_code, hidden_lines, with_answers, without_hidden_tests

from .tiny import HIDDEN_MARK, check_cell, lesson, locked_cell, notebook, solution_cell

TWO_REGIONS = """### BEGIN HIDDEN TESTS
a = 1

assert a == 1
### END HIDDEN TESTS
check("01.encode")
    ### BEGIN HIDDEN TESTS
    assert encode("") == []
    ### END HIDDEN TESTS
print("visible")"""


def test_check_task_id_of_a_check_cell():
    assert check_task_id(check_cell("c", 'check("01.encode")')) == "01.encode"
    assert check_task_id(check_cell("c", "check( '02.encode_unk' )  ")) == "02.encode_unk"
    assert check_task_id(check_cell("c", TWO_REGIONS)) == "01.encode"  # hidden tests around it


def test_check_task_id_is_none_for_anything_else():
    assert check_task_id(solution_cell("c", 'check("01.encode")')) is None  # not a grade cell
    assert check_task_id(locked_cell("c", 'check("01.encode")')) is None
    markdown = check_cell("c", "")
    markdown.cell_type, markdown.source = "markdown", 'check("01.encode")'
    assert check_task_id(markdown) is None
    assert check_task_id(check_cell("c", 'result = check("01.encode")')) is None  # the call alone on its line
    assert check_task_id(check_cell("c", 'check("encode")')) is None  # task ids are NN.name
    assert check_task_id(check_cell("c", "assert 1 + 1 == 2")) is None


def test_without_hidden_tests_is_the_released_source():
    assert without_hidden_tests(TWO_REGIONS) == 'check("01.encode")\nprint("visible")'
    assert without_hidden_tests('check("01.decode")') == 'check("01.decode")'
    assert HIDDEN_MARK not in without_hidden_tests(lesson().cells[3].source)


def test_hidden_code_keeps_every_region_in_order_without_markers():
    assert hidden_code(TWO_REGIONS) == 'a = 1\n\nassert a == 1\n    assert encode("") == []'
    assert hidden_code('check("01.decode")') == ""


def test_hidden_lines_are_stripped_and_non_blank():
    assert hidden_lines(TWO_REGIONS) == ["a = 1", "assert a == 1", 'assert encode("") == []']
    assert hidden_lines('check("01.decode")') == []


def test_with_answers_fills_solution_cells_from_the_reference():
    reference = lesson()
    release = notebook(*[copy.deepcopy(c) for c in reference.cells])
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = cell.source.split("    ### BEGIN")[0] + "    raise NotImplementedError()"
    release.cells.append(new_markdown_cell("a cell only the release has"))
    before = copy.deepcopy(release)

    done = with_answers(release, reference)
    assert release == before  # a copy: the release itself is unchanged
    assert done.cells[2].source == "def encode(text):\n    return [ord(c) for c in text]"
    assert done.cells[5].source == "def decode(ids):\n    return ''.join(map(chr, ids))"
    others = [i for i in range(len(done.cells)) if i not in (2, 5)]
    assert [done.cells[i] for i in others] == [release.cells[i] for i in others]

    only_encode = with_answers(release, reference, grade_ids={"encode"})
    assert only_encode.cells[2].source == done.cells[2].source
    assert only_encode.cells[5].source == release.cells[5].source  # still the stub
