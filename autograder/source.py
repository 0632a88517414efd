"""Which lessons: the student's notebooks or the reference, parsed once at each command-line edge.

    Source.parse("lessons")      your notebooks in lessons/
    Source.parse("solutions")    the instructor's reference in solutions/
    Source.parse("/some/folder") a folder of NN_slug lesson folders (a submission, a test's copy)

Every command that takes a `--source` (make grade, make train, make sample, the nbgrader plug-ins)
turns its text into a Source here, and passes the Source on; nothing below reads the text again.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .paths import REPO_ROOT, LessonNotFound, lesson_id

NAMED = {"lessons": REPO_ROOT / "lessons", "solutions": REPO_ROOT / "solutions"}


@dataclass(frozen=True)
class Source:
    """A folder of lesson folders (`NN_slug/NN_slug.ipynb`), and whether it is the reference."""

    root: Path
    reference: bool = False
    label: str = ""  # how the user named it, for messages ("lessons", "solutions", a path)

    @classmethod
    def parse(cls, text: str | os.PathLike | Source) -> Source:
        if isinstance(text, Source):
            return text
        name = str(text)
        if name in NAMED:
            return cls(NAMED[name], reference=name == "solutions", label=name)
        root = Path(name).expanduser().resolve()
        return cls(root, reference=root == NAMED["solutions"].resolve(), label=name)

    def __str__(self) -> str:
        return self.label or str(self.root)

    def lessons(self) -> dict[str, Path]:
        """{'01': <root>/01_chars, ...} for every lesson folder here."""
        if not self.root.is_dir():
            return {}
        return {child.name[:2]: child for child in sorted(self.root.iterdir())
                if re.match(r"\d\d_", child.name) and child.is_dir()}

    def notebook(self, lesson: str | int | os.PathLike) -> Path:
        """The notebook of a lesson here: <root>/NN_slug/NN_slug.ipynb (a path to an .ipynb is kept)."""
        if str(lesson).endswith(".ipynb"):
            return Path(lesson)
        lid = lesson_id(lesson)
        folder = self.lessons().get(lid)
        if folder is None:
            raise LessonNotFound(f"no lesson {lid} in {self}")
        return folder / f"{folder.name}.ipynb"


def reference() -> Source | None:
    """The instructor's solutions when this copy of the course has them (a student release may not)."""
    solutions = Source.parse("solutions")
    return solutions if solutions.lessons() else None


def dependencies_for(submission: Source) -> Source:
    """Where a graded lesson's earlier lessons come from: the reference, else the submission itself."""
    return reference() or submission
