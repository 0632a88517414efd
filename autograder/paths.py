"""Where things live: the repository, the lesson notebooks, the data."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
SHAKESPEARE = REPO_ROOT / "datasets" / "tinyshakespeare" / "input.txt"
SOURCES = ("lessons", "solutions")


class LessonNotFound(LookupError):
    pass


def lesson_id(name: str | int | os.PathLike) -> str:
    """'1', 1, '01_chars', 'lessons/01_chars/01_chars.ipynb' -> '01'."""
    text = Path(str(name)).name if not isinstance(name, int) else str(name)
    match = re.match(r"(\d+)", text)
    if not match:
        raise LessonNotFound(f"{name!r} does not name a lesson (lessons are numbered: '01', '02', ...)")
    return f"{int(match.group(1)):02d}"


def source_dir(source: str | os.PathLike) -> Path:
    """'lessons' / 'solutions' / any folder of NN_slug lesson folders."""
    if str(source) in SOURCES:
        return REPO_ROOT / str(source)
    return Path(source)


def lesson_dirs(source: str | os.PathLike = "lessons") -> dict[str, Path]:
    """{'01': <source>/01_chars, ...} for every lesson folder in a source."""
    root = source_dir(source)
    if not root.is_dir():
        return {}
    found = {}
    for child in sorted(root.iterdir()):
        if re.match(r"\d\d_", child.name) and child.is_dir():
            found[child.name[:2]] = child
    return found


def lesson_notebook(lesson: str | int | os.PathLike, source: str | os.PathLike = "lessons") -> Path:
    """The notebook of a lesson: <source>/NN_slug/NN_slug.ipynb (or a path given directly)."""
    if str(lesson).endswith(".ipynb"):
        return Path(lesson)
    lid = lesson_id(lesson)
    folder = lesson_dirs(source).get(lid)
    if folder is None:
        raise LessonNotFound(f"no lesson {lid} in {source_dir(source)}")
    return folder / f"{folder.name}.ipynb"


def read_tinyshakespeare() -> str:
    """The whole Tiny Shakespeare text (1,115,394 characters)."""
    if not SHAKESPEARE.exists():
        raise FileNotFoundError(f"{SHAKESPEARE} is missing: run `make data` (or `make setup`) first")
    return SHAKESPEARE.read_text(encoding="utf-8")
