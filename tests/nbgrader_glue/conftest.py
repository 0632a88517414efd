"""Fixtures for the plug-ins' unit tests: a gradebook in tmp_path, nbgrader's resources, a release step."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import nbgrader.api
import pytest
from nbgrader.api import Gradebook
from nbgrader.preprocessors import ClearHiddenTests, ComputeChecksums, SaveCells

from autograder.nbgrader_glue.workspace import gradebook

from .class_folder import CHECK_SOURCE, LESSON
from .tiny import ASSIGNMENT, NOTEBOOK, STUDENT


@pytest.fixture(scope="session")
def empty_gradebook(tmp_path_factory) -> Path:
    """An empty gradebook file, made once and copied for each test.

    nbgrader stamps a new gradebook with its schema's alembic head, which it gets by running the
    `alembic heads` command (seconds); the same head is read here with alembic's Python API."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nbgrader.api, "get_alembic_version", lambda: head)
        Gradebook(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def db(tmp_path, empty_gradebook):
    """A gradebook of this test's own, as nbgrader's tests/preprocessors/conftest.py gives each test."""
    path = tmp_path / "gradebook.db"
    shutil.copy(empty_gradebook, path)
    return f"sqlite:///{path}"


@pytest.fixture
def resources(db):
    """What nbgrader's autograde passes each preprocessor for one student's notebook."""
    with Gradebook(db) as gb:
        gb.add_assignment(ASSIGNMENT)
        gb.add_student(STUDENT)
    return {"nbgrader": {"assignment": ASSIGNMENT, "notebook": NOTEBOOK, "student": STUDENT, "db_url": db}}


_RELEASED: dict[str, tuple] = {}  # source notebook -> (released notebook, gradebook file): SaveCells is slow


@pytest.fixture
def release(resources, tmp_path):
    """release(source_nb) -> the released notebook, its cells recorded in this test's gradebook.

    The steps of generate_assignment that matter here, in its order: checksums, SaveCells (the
    gradebook keeps each cell as the source has it, hidden tests included), ClearHiddenTests,
    checksums again. A source released before in this session is copied from that release."""
    gradebook_file = tmp_path / "gradebook.db"

    def run(source_nb):
        key = json.dumps([{k: v for k, v in c.items() if k != "id"} for c in source_nb.cells], sort_keys=True)
        if key not in _RELEASED:
            nb = copy.deepcopy(source_nb)
            info = copy.deepcopy(resources)
            for step in (ComputeChecksums(), SaveCells(), ClearHiddenTests(), ComputeChecksums()):
                nb, info = step.preprocess(nb, info)
            snapshot = tmp_path / "released-gradebook.db"
            shutil.copy(gradebook_file, snapshot)
            _RELEASED[key] = (nb, snapshot.read_bytes())
        nb, data = _RELEASED[key]
        gradebook_file.write_bytes(data)
        return copy.deepcopy(nb)
    return run


@pytest.fixture
def course(tmp_path, monkeypatch, empty_gradebook):
    """For the instructor commands' tests: a course folder (the current one) with lesson 01 released and recorded in the gradebook (its hidden test too)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lessons" / LESSON).mkdir(parents=True)
    (tmp_path / ".nbgrader").mkdir()
    shutil.copy(empty_gradebook, tmp_path / ".nbgrader" / "gradebook.db")
    with gradebook() as gb:
        gb.add_assignment(LESSON)
        gb.add_notebook(LESSON, LESSON)
        gb.add_source_cell("check-01-encode", LESSON, LESSON, source=CHECK_SOURCE, cell_type="code",
                           checksum="0", locked=True)
        gb.add_source_cell("setup-1", LESSON, LESSON, source="from autograder import check", cell_type="code",
                           checksum="0", locked=True)
        gb.add_grade_cell("check-01-encode", LESSON, LESSON, max_score=2, cell_type="code")
    return tmp_path
