"""Assemble the GPT from the lesson notebooks: your functions, loaded with autograder.load_lesson.

    course = load_course("lessons")        # or "solutions" (the reference), or a folder of lessons
    course.GPT, course.get_batch, course.train_step, ...

Before training from your own notebooks, `require_passing` grades the lessons the capstone needs
(and the lessons those load) and refuses, naming each task that does not pass yet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from autograder import loader
from autograder.loader import LessonLoadError, load_lesson
from autograder.source import Source
from autograder.paths import REPO_ROOT, LessonNotFound, read_tinyshakespeare
from autograder.source import lesson_notebook

from .errors import CapstoneError

# lesson -> the names the capstone takes from it; their signatures: docs/capstone-api.md
USES = {
    "01": ["build_vocab", "make_tables", "encode", "decode"],
    "03": ["train_val_split", "get_batch"],
    "05": ["estimate_loss"],
    "09": ["GPTConfig", "GPT"],
    "10": ["lr_at", "configure_optimizer", "train_step", "save_checkpoint", "load_checkpoint"],
}
# grading takes a while, so its verdicts are kept until a notebook, check or fixture changes
GRADE_CACHE = Path(os.environ.get("CAPSTONE_GRADE_CACHE", REPO_ROOT / "runs" / ".grade-cache.json"))


class NotReady(CapstoneError):
    """The lessons cannot train a GPT yet; the message says which tasks to fix."""


def interrupt_if_ctrl_c(err: Exception) -> None:
    """Raise KeyboardInterrupt if `err` is the loader's report of Ctrl-C in a set-up cell: the grader
    keeps going when a cell is interrupted (a notebook must not stop it), the capstone stops."""
    if isinstance(err.__cause__, KeyboardInterrupt):
        raise KeyboardInterrupt from None


_NOT_DONE = re.compile(r"^(\d\d)\.([\w-]+)")  # a stub's message starts with its task: "01.encode: look up..."


def unfinished(err: NotImplementedError, command: str) -> NotReady:
    """One line for lesson code a command called that is still a stub: the task, and what to do."""
    text = (str(err).strip().splitlines() or [""])[0]
    task = _NOT_DONE.match(text)
    if task:
        what, grade = f"task {task.group(0)} is not finished yet ({text[task.end():].lstrip(': ')})", \
            f"make grade LESSON={task.group(1)}"
    else:  # a NotImplementedError without a task id: a student's own, or an older stub
        what, grade = f"your lesson code is not finished ({text or 'NotImplementedError'})", "make grade"
    return NotReady(f"{what}: `{grade}` shows what is left, or use the reference: {command} SOURCE=solutions")


def load_course(source: Source, lessons=None) -> SimpleNamespace:
    """The capstone's building blocks, each taken from its lesson in `source` (all of USES, or `lessons`)."""
    names = {}
    for lesson, wanted in USES.items():
        if lessons is not None and lesson not in lessons:
            continue
        try:
            module = load_lesson(lesson, source=source)
        except (LessonLoadError, LessonNotFound) as err:
            interrupt_if_ctrl_c(err)
            raise NotReady(f"cannot load lesson {lesson} from {source}: {err}") from None
        for name in wanted:
            if not hasattr(module, name):
                raise NotReady(f"lesson {lesson} in {source} defines no {name!r} (was its cell renamed?)")
            names[name] = getattr(module, name)
    return SimpleNamespace(**names)


# --- which lessons must pass -------------------------------------------------------------------

def needed_lessons(source: Source, roots=None) -> list[str]:
    """The lessons in USES (or `roots`) plus every lesson they load (their set-up cells' load_lesson calls).

    A missing or broken notebook ends its branch: grading reports it."""
    return sorted(source.lesson_graph(roots or USES, loader.current().reader))


def _fingerprint(source: Source, lessons: list[str]) -> str:
    """Changes whenever a graded notebook, a check or a fixture changes: then we grade again."""
    digest = hashlib.sha256(str(source.root).encode())
    for lesson in lessons:
        files = [REPO_ROOT / "autograder" / "checks" / f"lesson{lesson}.py",
                 REPO_ROOT / "autograder" / "fixtures" / f"lesson{lesson}.pt"]
        try:
            files.append(lesson_notebook(lesson, source))
        except LessonNotFound:
            pass
        for path in files:
            digest.update(path.name.encode())
            digest.update(path.read_bytes() if path.exists() else b"missing")
    return digest.hexdigest()


@dataclass
class Failing:
    task: str
    status: str
    reason: str


def failing_tasks(source: Source, lessons: list[str], grade: Callable | None = None) -> list[Failing]:
    """Tasks of `lessons` that do not pass in `source`; remembered until a notebook changes."""
    key = _fingerprint(source, lessons)
    cache = {}
    if GRADE_CACHE.exists():
        try:
            cache = json.loads(GRADE_CACHE.read_text())
        except ValueError:
            cache = {}
    if key in cache:
        return [Failing(**f) for f in cache[key]]
    if grade is None:
        from autograder.grade import grade
    failing, present = [], []
    for lesson in lessons:
        try:
            lesson_notebook(lesson, source)
            present.append(lesson)
        except LessonNotFound as err:
            failing.append(Failing(f"{lesson}.*", "missing", str(err)))
    verdicts = grade(source, lessons=present) if present else []
    for lesson in present:
        mine = [v for v in verdicts if v.task.startswith(lesson + ".")]
        if not mine:
            failing.append(Failing(f"{lesson}.*", "missing", "the course has no graded tasks for it yet"))
        elif all(v.status == "not started" for v in mine):  # one line for a lesson not begun
            failing.append(Failing(f"{lesson}.*", "not started", f"all {len(mine)} tasks"))
        else:
            failing += [Failing(v.task, v.status, v.reason) for v in mine if v.status != "passed"]
    cache[key] = [f.__dict__ for f in failing]
    GRADE_CACHE.parent.mkdir(parents=True, exist_ok=True)  # the latest few: make train asks for 2 (optim.py)
    GRADE_CACHE.write_text(json.dumps(dict(list(cache.items())[-8:]), indent=1))
    return failing


def require_passing(source: Source, roots=None, command: str = "make train") -> None:
    """Raise NotReady naming every failing task of the lessons training (or `command`, from `roots`) needs."""
    lessons = needed_lessons(source, roots)
    print(f"checking lessons {', '.join(lessons)} in {source} (make grade; cached until a notebook changes)...",
          flush=True)
    failing = failing_tasks(source, lessons)
    if not failing:
        return
    width = max(len(f.task) for f in failing)
    lines = [f"  {f.task.ljust(width)}  {f.status}" + (f": {f.reason}" if f.reason and f.status != "not started"
                                                        or f.task.endswith("*") else "")
             for f in failing]
    raise NotReady(
        f"{command} needs lessons {', '.join(lessons)} to pass; these tasks do not pass yet:\n"
        + "\n".join(lines)
        + f"\nFix them (`make grade LESSON=NN` shows why), or use the reference: {command} SOURCE=solutions")


# --- tokenizers -----------------------------------------------------------------------------------

@dataclass
class Tokenizer:
    kind: str  # "char" or "gpt2"
    vocab_size: int
    encode: Callable[[str], list[int]]
    decode: Callable[[list[int]], str]
    identity: dict  # saved in checkpoints: a different vocabulary must never load silently


def char_tokenizer(course, text: str) -> Tokenizer:
    """Lesson 01: one token per distinct character of the training text."""
    chars = course.build_vocab(text)
    stoi, itos = course.make_tables(chars)
    return Tokenizer("char", len(chars), lambda s: course.encode(s, stoi), lambda ids: course.decode(ids, itos),
                     {"kind": "char", "chars": "".join(chars)})


def char_tokenizer_from(course, identity: dict) -> Tokenizer:
    """The tokenizer a checkpoint was trained with, rebuilt from its saved vocabulary."""
    chars = list(identity["chars"])
    stoi, itos = course.make_tables(chars)
    return Tokenizer("char", len(chars), lambda s: course.encode(s, stoi), lambda ids: course.decode(ids, itos),
                     dict(identity))


def gpt2_tokenizer() -> Tokenizer:
    """Lesson 02: GPT-2's byte-pair encoding through tiktoken (files installed offline by make data)."""
    import tiktoken

    enc = tiktoken.get_encoding("gpt2")
    return Tokenizer("gpt2", enc.n_vocab, lambda s: enc.encode(s, allowed_special={"<|endoftext|>"}),
                     enc.decode, {"kind": "gpt2", "n_vocab": enc.n_vocab})


def make_tokenizer(course, kind: str, text: str | None = None, identity: dict | None = None) -> Tokenizer:
    if kind == "char":
        return char_tokenizer_from(course, identity) if identity else char_tokenizer(course, text)
    if kind == "gpt2":
        return gpt2_tokenizer()
    raise CapstoneError(f"unknown tokenizer {kind!r}: use char or gpt2")


def shakespeare() -> str:
    try:
        return read_tinyshakespeare()
    except FileNotFoundError as err:
        raise CapstoneError(str(err)) from None


# --- the model's configuration ---------------------------------------------------------------

def model_config_dict(gpt_config) -> dict:
    return dataclasses.asdict(gpt_config) if dataclasses.is_dataclass(gpt_config) else dict(vars(gpt_config))


def gpt_config_for(course, config, vocab_size: int):
    """Lesson 07's GPTConfig for this run: every field TrainConfig shares with it, vocab_size from the tokenizer.

    Derived from the dataclass's fields, so a field added to GPTConfig needs no edit here: a preset sets
    it once TrainConfig has a field of that name (which also makes it a --flag); until then it keeps
    GPTConfig's default."""
    try:
        names = [f.name for f in dataclasses.fields(course.GPTConfig)]
    except TypeError:
        raise NotReady("GPTConfig (lesson 07's set-up cell) is not a dataclass any more: "
                                "restore that cell") from None
    settings = {name: getattr(config, name) for name in names if name != "vocab_size" and hasattr(config, name)}
    try:
        return course.GPTConfig(vocab_size=vocab_size, **settings)
    except TypeError as err:
        raise NotReady(f"lesson 07's GPTConfig does not take the fields the capstone needs: {err}") from None
