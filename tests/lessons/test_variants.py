"""Every check is itself tested: the wrong answers in test_lessonNN.py (WRONG) must fail, the other
correct implementations (RIGHT) must pass, and no task goes without a wrong answer.

Both are keyed by the task's name within the lesson: in test_lesson01.py, "encode" is task 01.encode
(the lesson comes from the file's name, so a lesson's variants never repeat its number).

A wrong answer may be written `(code, "words")`: its message must then contain those words, so the
message keeps naming the mistake ("the coefficients of X^3 and X^5 look swapped"), not only a number
that differs. Every wrong answer says what its message names.

Run one task's variants with `pytest -k 01.encode`.
"""

import importlib
import pkgutil

import pytest
import torch

import tests.lessons
from autograder import fixtures
from autograder.notebook import defined_names
from autograder.tasks import all_tasks
from tests.conftest import verdict_of
from tests.lastbits import LastBits


def collected(name: str) -> dict[str, list[str]]:
    """{task id: [code, ...]} gathered from the module-level dict `name` of every lesson test module
    test_lessonNN.py, whose keys are task names in lesson NN."""
    found = {}
    for info in sorted(pkgutil.iter_modules(tests.lessons.__path__), key=lambda m: m.name):
        if info.name.startswith("test_lesson"):
            lesson = info.name.removeprefix("test_lesson")
            module = importlib.import_module(f"tests.lessons.{info.name}")
            for task_name, codes in getattr(module, name, {}).items():
                found.setdefault(f"{lesson}.{task_name}", []).extend(codes)
    return found


def code_and_words(entry) -> tuple[str, str]:
    """A variant is its code, or (code, words its failure message must contain)."""
    return (entry, "") if isinstance(entry, str) else entry


def cases(name: str):
    return [pytest.param(task_id, *code_and_words(entry), id=f"{task_id}-{i}")
            for task_id, entries in collected(name).items() for i, entry in enumerate(entries)]


@pytest.mark.parametrize("task_id,code,words", cases("WRONG"))
def test_wrong_answer_fails(task_id, code, words):
    verdict = verdict_of(task_id, code)
    assert verdict.status == "failed", f"{task_id} accepted a wrong answer:\n{code}"
    # the reason names the case or the call (its input) that failed: never a bare "raised RuntimeError: ..."
    assert verdict.reason and not verdict.reason.startswith("raised "), verdict.reason
    assert words in verdict.reason, f"the message should say {words!r}; it says: {verdict.reason}"


def test_every_wrong_answer_says_what_its_message_names():
    bare = [f"{task_id}-{i}" for task_id, entries in collected("WRONG").items()
            for i, entry in enumerate(entries) if not code_and_words(entry)[1]]
    assert not bare, f"wrong answers without the words their message must contain: {bare}"


@pytest.mark.parametrize("task_id,code,words", cases("RIGHT"))
def test_other_correct_answer_passes(task_id, code, words):
    verdict = verdict_of(task_id, code)
    assert verdict.status == "passed", f"{task_id} rejected a correct answer: {verdict.reason}"


def holds_a_float(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.is_floating_point() or value.is_complex()
    if isinstance(value, dict):
        return any(holds_a_float(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_a_float(v) for v in value)
    return isinstance(value, float)


def float_lessons() -> set[str]:
    """The lessons whose reference outputs (autograder/fixtures/) hold a float: found from the
    fixtures, so a new lesson is in when its outputs are floats."""
    found = set()
    for lesson in sorted({t.lesson for t in all_tasks()}):
        try:
            outputs = fixtures._load(lesson)
        except fixtures.FixtureError:
            continue
        if holds_a_float(outputs):
            found.add(lesson)
    return found


FLOAT_LESSONS = float_lessons()
REGISTERED = {t.id: t for t in all_tasks()}


def test_the_float_lessons_are_found_from_the_fixtures():
    assert "01" not in FLOAT_LESSONS and "07" in FLOAT_LESSONS  # characters and ids; attention weights


@pytest.mark.parametrize("task_id,code,words", [c for c in cases("RIGHT") if c.values[0][:2] in FLOAT_LESSONS])
def test_other_correct_answer_passes_on_a_simulated_other_cpu(task_id, code, words):
    """The fixtures were made on one CPU; a student's correct code runs on another, whose floats differ in
    their last bits (tests/lastbits.py simulates one; tests/test_fixtures.py says how far that goes)."""
    with LastBits(seed=7):
        verdict = verdict_of(task_id, code)
    assert verdict.status == "passed", f"{task_id} rejected a correct answer on another CPU: {verdict.reason}"


def test_every_task_has_a_wrong_answer_that_must_fail():
    wrong = collected("WRONG")
    untested = [t.id for t in all_tasks() if not wrong.get(t.id)]
    assert not untested, f"tasks with no wrong-answer test: {untested}"


def test_every_variant_names_a_task_of_its_lesson():
    """A key that is no task name of the lesson ("encdoe", or a whole id "01.encode") tests nothing."""
    known = {t.id for t in all_tasks()}
    unknown = [task_id for name in ("WRONG", "RIGHT") for task_id in collected(name) if task_id not in known]
    assert not unknown, f"variants for tasks that do not exist (keys are task names in the file's lesson): {unknown}"


def test_every_variant_defines_what_its_task_grades():
    """The key is checked against the variant's own code: it defines its task's target (`encode`, or the
    class of `Head.forward`), so a variant filed under a neighbour's name is caught. (The key cannot be
    derived from the code: a class variant of lesson 05, 07 or 09 defines several tasks' targets.)"""
    misfiled = [f"{task_id}: {code_and_words(entry)[0].splitlines()[0]}"
                for name in ("WRONG", "RIGHT") for task_id, entries in collected(name).items()
                if task_id in REGISTERED for entry in entries
                if REGISTERED[task_id].target.split(".")[0] not in defined_names(code_and_words(entry)[0])]
    assert not misfiled, "variants that do not define their task's target:\n" + "\n".join(misfiled)


def test_task_ids_are_well_formed_and_have_hints():
    for task in all_tasks():
        lesson, _, name = task.id.partition(".")
        assert len(lesson) == 2 and lesson.isdigit() and name, task.id
        assert task.hint and "\n" not in task.hint, task.id
        assert task.points > 0, task.id
