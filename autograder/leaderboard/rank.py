"""Rank a class: `python -m autograder leaderboard --from DIR` (make leaderboard FROM=DIR).

The reference entries (the course's presets, trained from the reference lessons in the same jail
with the same rules) come first, then each student folder of DIR in turn, one jailed worker each.

DIR is read as grade-class reads it (grade_class.students_in, submission_files.copy_plain_tree): a
student folder that is a link (alice -> bob would train bob's work as alice's) or whose name holds
terminal escapes is refused with one printable line; each student's regular files are copied into a
private folder and trained from there, and a link, hard link, pipe or device in it is left out with
one line. A run file or lesson file left out refuses the entry with that line as the reason.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..grade_class import lesson_of, students_in
from ..jail.client import choose
from ..printable import printable
from ..source import Source, reference
from ..submission_files import Refused, copy_plain_tree, is_real_folder
from . import rules as R
from .board import write_board
from .entry import FAILED, REFUSED, Result, run_entry
from .judge import Reference

# what a student reads when the grader itself raised while ranking their entry (the instructor's
# line says what was raised): one entry fails, the class's leaderboard goes on
GRADER_ERROR = "the grader could not rank this entry (an error on the grader's side): ask your instructor"


def reference_entries(ref: Reference, lessons: Source, isolation, rules: R.Rules) -> list[Result]:
    """The course's presets as entries, trained from `lessons` (the reference) like any student's."""
    return [run_entry(lessons.root, name, ref, isolation, rules, request={"preset": name}, is_reference=True)
            for name in R.PRESETS]


def entries_in(folder: Path) -> tuple[list[Path], list[Refused]]:
    """grade_class.students_in, plus the real folders with a run file and no lesson folder: those
    students are told their run needs lessons, where grade-class has nothing of theirs to grade."""
    students, refused = students_in(folder)
    taken = {path.name for path in students} | {item.path for item in refused}
    for path in sorted(Path(folder).iterdir()):
        if (path.name not in taken and not path.name.startswith(".") and is_real_folder(path)
                and os.path.lexists(path / R.RUN_FILE)):
            students.append(path)
    return sorted(students), refused


def student_entry(student: Path, ref: Reference, isolation, rules: R.Rules, say) -> Result:
    """One student's entry from a private copy of their regular files; never raises for what they sent."""
    name = student.name
    with tempfile.TemporaryDirectory(prefix="leaderboard-") as tmp:
        copy = Path(tmp) / name
        left_out = copy_plain_tree(student, copy)
        for item in left_out:
            say(item.line(name))
        blocking = [item for item in left_out
                    if item.path == R.RUN_FILE or lesson_of(item) in (*R.LESSONS, R.MUON_LESSON)]
        if blocking:  # what trains would not be what they handed in
            return Result(name, REFUSED, blocking[0].line(name).removeprefix("refused: "))
        try:
            return run_entry(copy, name, ref, isolation, rules)
        except Exception as err:  # noqa: BLE001 - a grader bug or an unforeseen input fails this entry only
            say(printable(f"  {name}: the grader raised {type(err).__name__} ranking this entry: {err}")[:300])
            return Result(name, FAILED, GRADER_ERROR)


def rank_class(folder: Path, out: Path, rules: R.Rules = R.RULES, jail: str = "auto",
               references: bool = True, say=print) -> tuple[list[Result], str]:
    lessons = reference()
    if lessons is None:
        raise SystemExit("the leaderboard judges with the reference lessons: this copy of the course has no solutions/")
    ref, isolation = Reference.load(lessons), choose(jail)
    say(f"leaderboard: {rules.token_budget:,} tokens per entry, at most {rules.max_params:,} parameters; "
        f"jail: {isolation}")
    rows = reference_entries(ref, lessons, isolation, rules) if references else []
    students, refused = entries_in(folder)
    for item in refused:
        say(item.line())
    results = []
    for student in students:
        results.append(student_entry(student, ref, isolation, rules, say))
        say(printable(f"  {student.name}: {results[-1].status}"))
    return results, write_board(results, rows, rules, out)
