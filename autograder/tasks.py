"""Tasks: one graded function (or method) of a lesson, with its id, points and check.

A check has two halves. The *exercise* calls the student's code on seeded inputs and returns plain
data ({case label: output}); it is the only part that touches student code, so the grader can run
it in a separate process. The *compare* judges that data against the reference outputs saved in
autograder/fixtures; it runs in the grader's own process, out of the student's reach.

    @task("01.encode", points=2, target="encode", hint="look up each character in stoi")
    def encode_cases(encode):
        ...
        return {"encode('hii there')": encode("hii there", stoi)}

The exercise's parameter names are the notebook names it needs.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from .calls import named_calls
from .compare import compare_outputs


@dataclass(frozen=True)
class Task:
    id: str  # "01.encode": lesson number, dot, short name
    points: float
    target: str  # the stub this task grades: "encode", "Head.forward"
    hint: str  # one line, shown in the released stub's NotImplementedError
    exercise: Callable[..., dict]
    compare: Callable[[Any, Any], None] = compare_outputs
    uses: tuple[str, ...] = ()
    timeout: float = 10.0  # CPU seconds for the isolated run (jail/limits.py: the wall-clock backstop)
    memory_gib: float = 2.0
    fixture: bool = True  # False: the compare needs no reference outputs (property checks)
    extra: dict = field(default_factory=dict)

    @property
    def lesson(self) -> str:
        return self.id.split(".")[0]


REGISTRY: dict[str, Task] = {}


def task(id: str, *, points: float, target: str, hint: str, compare=None, **options):
    """Register the decorated exercise as the check of task `id`."""

    def register(exercise):
        if id in REGISTRY:
            raise ValueError(f"task {id} is defined twice")
        uses = tuple(inspect.signature(exercise).parameters)
        REGISTRY[id] = Task(id=id, points=points, target=target, hint=hint, exercise=named_calls(exercise, target),
                            compare=compare or compare_outputs, uses=uses, **options)
        return exercise

    return register


_loaded = False


def _load_checks() -> None:
    global _loaded
    if not _loaded:
        from . import checks

        for info in sorted(pkgutil.iter_modules(checks.__path__), key=lambda m: m.name):
            importlib.import_module(f"{checks.__name__}.{info.name}")
        _loaded = True


def all_tasks() -> list[Task]:
    _load_checks()
    return list(REGISTRY.values())  # lesson order, then the order the checks are written in


def lesson_tasks(lesson: str) -> list[Task]:
    return [t for t in all_tasks() if t.lesson == lesson]


def get_task(task_id: str) -> Task:
    _load_checks()
    if task_id not in REGISTRY:
        raise KeyError(f"no task {task_id!r}; known tasks: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[task_id]
