"""Rank a class: `python -m autograder leaderboard --from DIR` (make leaderboard FROM=DIR).

The reference entries (the course's presets, trained from the reference lessons in the same jail
with the same rules) come first, then each student folder of DIR in turn, one jailed worker each.
"""

from __future__ import annotations

from pathlib import Path

from ..jail.client import choose
from ..source import Source, reference
from . import rules as R
from .board import write_board
from .entry import Result, run_entry
from .judge import Reference


def reference_entries(ref: Reference, lessons: Source, isolation, rules: R.Rules) -> list[Result]:
    """The course's presets as entries, trained from `lessons` (the reference) like any student's."""
    return [run_entry(lessons.root, name, ref, isolation, rules, request={"preset": name}, is_reference=True)
            for name in R.PRESETS]


def rank_class(folder: Path, out: Path, rules: R.Rules = R.RULES, jail: str = "auto",
               references: bool = True, say=print) -> tuple[list[Result], str]:
    lessons = reference()
    if lessons is None:
        raise SystemExit("the leaderboard judges with the reference lessons: this copy of the course has no solutions/")
    ref, isolation = Reference.load(lessons), choose(jail)
    say(f"leaderboard: {rules.token_budget:,} tokens per entry, at most {rules.max_params:,} parameters; "
        f"jail: {isolation}")
    rows = reference_entries(ref, lessons, isolation, rules) if references else []
    results = []
    for student in sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith(".")):
        results.append(run_entry(student, student.name, ref, isolation, rules))
        say(f"  {student.name}: {results[-1].status}")
    return results, write_board(results, rows, rules, out)
