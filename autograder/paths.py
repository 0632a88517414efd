"""Where things live: the repository, the fixtures, the data (lesson folders: source.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
SHAKESPEARE = REPO_ROOT / "datasets" / "tinyshakespeare" / "input.txt"


class LessonNotFound(LookupError):
    pass


def lesson_id(name: str | int | os.PathLike) -> str:
    """'1', 1, '01_chars', 'lessons/01_chars/01_chars.ipynb' -> '01'."""
    text = Path(str(name)).name if not isinstance(name, int) else str(name)
    match = re.match(r"(\d+)", text)
    if not match:
        raise LessonNotFound(f"{name!r} does not name a lesson (lessons are numbered: '01', '02', ...)")
    return f"{int(match.group(1)):02d}"


def read_tinyshakespeare() -> str:
    """The whole Tiny Shakespeare text (1,115,394 characters)."""
    if not SHAKESPEARE.exists():
        raise FileNotFoundError(f"{SHAKESPEARE} is missing: run `make data` (or `make setup`) first")
    return SHAKESPEARE.read_text(encoding="utf-8")
