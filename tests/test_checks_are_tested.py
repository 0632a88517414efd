"""Every task's check is itself tested: at least one wrong answer that must fail."""

import importlib
import pkgutil

import tests.lessons
from autograder.tasks import all_tasks


def collected(name: str) -> dict:
    found = {}
    for info in pkgutil.iter_modules(tests.lessons.__path__):
        module = importlib.import_module(f"tests.lessons.{info.name}")
        for task_id, codes in getattr(module, name, {}).items():
            found.setdefault(task_id, []).extend(codes)
    return found


def test_every_task_has_a_wrong_answer_that_must_fail():
    wrong = collected("WRONG")
    untested = [t.id for t in all_tasks() if not wrong.get(t.id)]
    assert not untested, f"tasks with no wrong-answer test: {untested}"


def test_task_ids_are_well_formed_and_have_hints():
    for task in all_tasks():
        lesson, _, name = task.id.partition(".")
        assert len(lesson) == 2 and lesson.isdigit() and name, task.id
        assert task.hint and "\n" not in task.hint, task.id
        assert task.points > 0, task.id
