"""LessonFileCollector: zip_collect of files named <student>_<NN_slug>.ipynb, in any folders."""

from __future__ import annotations

import pytest
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.nbgrader_glue.lesson_file_collector import LessonFileCollector
from tests.conftest import REPO


@pytest.fixture
def collector():
    """Configured by the course's nbgrader_config.py (its named_regexp), as zip_collect configures it."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    return LessonFileCollector(config=Config(config))


@pytest.mark.parametrize("path, student, file_id", [
    ("alice_01_chars.ipynb", "alice", "01_chars.ipynb"),
    ("downloads/alice_01_chars.ipynb", "alice", "01_chars.ipynb"),
    ("/tmp/x/archive/Week 1/bob.smith_10_training.ipynb", "bob.smith", "10_training.ipynb"),
    ("extracted/carol_jones_02_tokens.ipynb", "carol_jones", "02_tokens.ipynb"),
])
def test_student_and_file_id(collector, path, student, file_id):
    info = collector.collect(path)
    assert (info["student_id"], info["file_id"]) == (student, file_id)


@pytest.mark.parametrize("path", ["01_chars.ipynb", "alice_chars.ipynb", "alice_01_chars.py", "alice_01_chars/x"])
def test_other_files_are_not_collected(collector, path):
    assert collector.collect(path) is None


@pytest.mark.parametrize("path", ['=HYPERLINK("x";"a")_01_chars.ipynb', "downloads/+cmd_01_chars.ipynb",
                                  "eve\x1b[2J_01_chars.ipynb"])
def test_a_student_id_that_is_a_formula_or_has_escapes_is_refused_with_one_line(collector, path, capsys):
    """The id becomes a row of nbgrader's grades.csv: '=...' would run in the instructor's spreadsheet."""
    assert collector.collect(path) is None
    printed = capsys.readouterr().out
    assert printed.startswith("refused: ") and "\x1b" not in printed and "the student name" in printed
