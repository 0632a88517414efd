"""Shared helpers for the course's own tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory) -> Path:
    """A fresh `make release` of solutions/, made in a temporary folder: the course's own tests read the
    release from here, never from lessons/, which is the student's working copy (tests/test_student_tree.py).
    `make check-release` keeps lessons/ equal to it for maintainers."""
    from autograder.release import release

    out = tmp_path_factory.mktemp("release")
    release(out=out, log=lambda message: None)
    return out


def verdict_of(task_id: str, code: str = "", source: str = "solutions"):
    """The verdict of one task on the reference notebook after running `code` over its definitions.

    `code` redefines a function to a wrong (or alternative) implementation.
    """
    from autograder.fixtures import expected_for
    from autograder.loader import load_lesson
    from autograder.run import judge, run_exercise
    from autograder.tasks import get_task

    task = get_task(task_id)
    module = load_lesson(task.lesson, source=source, deps="solutions")
    namespace = dict(module.__dict__)
    exec(compile(code, f"<{task_id} variant>", "exec"), namespace)
    return judge(task, run_exercise(task, namespace.__getitem__), expected_for(task))


def run(*args, cwd=REPO, env=None, timeout=600, check=False):
    """Run a command, returning the CompletedProcess (text mode)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(list(args), cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout, check=check)


def paste_reference(student_notebook: Path, out: Path) -> Path:
    """A copy of a released notebook whose answer cells hold the reference code (what a student who
    solved everything would hand in)."""
    import nbformat

    from autograder.source import lesson_notebook

    reference = nbformat.read(lesson_notebook(student_notebook.parent.name, "solutions"), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in reference.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(student_notebook, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through selenium (tests/browser_kit.py), one per test module."""
    from tests.browser_kit import new_chromium

    driver = new_chromium()
    yield driver
    driver.quit()


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected what will not run
def pytest_collection_modifyitems(config, items):
    """A test module may define `start_in_background(config, items)`: work that takes minutes but
    little CPU (tests/test_gradescope_fresh_root.py: a Debian root, setup.sh's downloads) starts once
    collection is done, and the module's tests move to the end of the run, so the others run meanwhile."""
    modules = {item.module for item in items if hasattr(item.module, "start_in_background")}
    for module in sorted(modules, key=lambda m: m.__name__):
        module.start_in_background(config, items)
    items.sort(key=lambda item: item.module in modules)  # stable: the rest keep their order
