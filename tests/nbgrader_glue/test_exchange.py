"""exchange.py: the course's exchange, configured once for instructors (nbgrader_config.py) and
students (jupyter/student/), created by `make exchange` with nbgrader's modes; read by nbgrader's
own Assignment List (the students' JupyterLab panel) and formgrader's API."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

from autograder.nbgrader_glue import exchange
from tests.conftest import REPO

LESSON = "01_chars"


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_create_gives_each_folder_the_mode_nbgrader_gives_it(tmp_path):
    root = tmp_path / "exchange"
    lines = exchange.create(root)
    course = root / exchange.COURSE_ID
    assert mode(root) == 0o777
    assert (mode(course), mode(course / "outbound")) == (0o755, 0o755)
    assert mode(course / "inbound") == 0o2733  # students write in, nobody lists it
    assert mode(course / "feedback") == 0o711
    assert lines[0] == f"created 0777 {root}"
    (course / "inbound").chmod(0o777)
    again = exchange.create(root)  # again: nothing lost, modes put back
    assert all(line.startswith("exists ") for line in again) and mode(course / "inbound") == 0o2733


def test_the_root_is_the_variable_else_the_course_folders_own(monkeypatch, tmp_path):
    monkeypatch.delenv(exchange.ROOT_VARIABLE, raising=False)
    assert exchange.exchange_root(tmp_path) == tmp_path / ".nbgrader" / "exchange"
    monkeypatch.setenv(exchange.ROOT_VARIABLE, "/srv/nbgrader/exchange")
    assert exchange.exchange_root(tmp_path) == Path("/srv/nbgrader/exchange")
    monkeypatch.setenv(exchange.ROOT_VARIABLE, "~/exchange")
    assert exchange.exchange_root(tmp_path) == Path.home() / "exchange"


@pytest.mark.parametrize("config", ["nbgrader_config.py", "jupyter/student/nbgrader_config.py"])
def test_both_configs_name_the_course_and_the_exchange(config, monkeypatch, tmp_path):
    monkeypatch.setenv(exchange.ROOT_VARIABLE, str(tmp_path / "exchange"))
    path = REPO / config
    c = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    assert c.CourseDirectory.course_id == "gpt-from-scratch"
    assert c.Exchange.root == str(tmp_path / "exchange")
    monkeypatch.delenv(exchange.ROOT_VARIABLE)
    c = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    assert c.Exchange.root == str(REPO / ".nbgrader" / "exchange")  # the course folder's, from either file


@pytest.fixture
def released(tmp_path, monkeypatch):
    """An exchange made by `make exchange`, with lesson 01 in its outbound folder; cwd: a student's home."""
    root = tmp_path / "exchange"
    monkeypatch.setenv(exchange.ROOT_VARIABLE, str(root))
    exchange.create(root)
    lesson = root / exchange.COURSE_ID / "outbound" / LESSON
    lesson.mkdir()
    (lesson / f"{LESSON}.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(home / ".local" / "share" / "jupyter"))
    return root


def assignment_list(home):
    from nbgrader.server_extensions.assignment_list.handlers import AssignmentList

    panel = AssignmentList()
    panel.root_dir = str(home)
    return panel


def test_the_students_assignment_list_finds_the_course(released, monkeypatch, tmp_path):
    """The panel of the students' JupyterLab (`make lab` puts jupyter/student on JUPYTER_CONFIG_PATH)."""
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(REPO / "jupyter" / "student"))
    panel = assignment_list(tmp_path / "home")
    assert panel.list_courses() == {"success": True, "value": [exchange.COURSE_ID]}
    listed = panel.list_assignments()
    assert [(a["course_id"], a["assignment_id"], a["status"]) for a in listed["value"]] == [
        (exchange.COURSE_ID, LESSON, "released")]


def test_without_the_students_config_the_panel_has_no_course(released, monkeypatch, tmp_path):
    """What "Error fetching courses!" was: nbgrader's default exchange, and no course id."""
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(tmp_path / "no-config"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "no-config"))
    assert assignment_list(tmp_path / "home").list_courses()["success"] is False


def test_formgrader_sees_the_exchange_once_it_is_made(tmp_path, monkeypatch):
    """formgrader's "The exchange directory ... does not exist" warning is its API's exchange_missing."""
    from nbgrader.apps.api import NbGraderAPI

    monkeypatch.setenv(exchange.ROOT_VARIABLE, str(tmp_path / "exchange"))
    monkeypatch.chdir(tmp_path)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    assert NbGraderAPI(config=config).exchange_missing is True
    exchange.create(tmp_path / "exchange")
    api = NbGraderAPI(config=config)
    assert (api.exchange_missing, api.exchange_root, api.course_id) == (
        False, str(tmp_path / "exchange"), exchange.COURSE_ID)
