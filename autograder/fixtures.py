"""Reference outputs: what each task's exercise returns when run on the solutions.

`make fixtures` writes autograder/fixtures/lessonNN.pt from solutions/. Checks compare against
these files, so grading works in a student release that has no solutions/ folder; a test proves
the files are current.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from .loader import load_lesson
from .paths import FIXTURES_DIR
from .run import run_exercise
from .tasks import Task, lesson_tasks


class FixtureError(RuntimeError):
    pass


def fixture_path(lesson: str):
    return FIXTURES_DIR / f"lesson{lesson}.pt"


@functools.lru_cache(maxsize=None)
def _load(lesson: str) -> dict:
    path = fixture_path(lesson)
    if not path.exists():
        raise FixtureError(f"reference outputs for lesson {lesson} are missing ({path}): run `make fixtures`")
    return torch.load(path, weights_only=True)


def forget() -> None:
    """Drop the reference outputs this process holds (before a sandboxed child runs student code)."""
    _load.cache_clear()


def expected_for(task: Task) -> Any:
    if not task.fixture:
        return None
    outputs = _load(task.lesson)
    if task.id not in outputs:
        raise FixtureError(f"no reference outputs for {task.id}: run `make fixtures`")
    return outputs[task.id]


def generate(lesson: str, source: str = "solutions") -> dict:
    """Run every task of a lesson on the reference notebook; {task id: outputs}."""
    module = load_lesson(lesson, source=source, deps=source)
    outputs = {}
    for task in lesson_tasks(lesson):
        if not task.fixture:
            continue
        outcome = run_exercise(task, module.__dict__.__getitem__)
        if outcome.status != "ok":
            raise FixtureError(f"the reference fails its own check {task.id}: {outcome.reason}")
        outputs[task.id] = outcome.value
    return outputs


def write(lesson: str, source: str = "solutions") -> None:
    FIXTURES_DIR.mkdir(parents=True, exist_ok=True)
    torch.save(generate(lesson, source), fixture_path(lesson))
    forget()
