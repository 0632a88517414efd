"""The committed reference fixtures equal what solutions/ produces now (`make fixtures` is current)."""

import pytest

from autograder.compare import compare_outputs
from autograder.fixtures import _load, generate
from autograder.tasks import all_tasks

LESSONS = sorted({t.lesson for t in all_tasks()})


@pytest.mark.parametrize("lesson", LESSONS)
def test_fixtures_are_current(lesson):
    stored = _load(lesson)
    fresh = generate(lesson)
    assert sorted(stored) == sorted(fresh), "tasks changed: run `make fixtures`"
    for task_id, expected in stored.items():
        compare_outputs(fresh[task_id], expected, rtol=1e-6, atol=1e-7)
