"""run_autograder's work: grade the notebooks in /autograder/submission, write results.json.

Gradescope gives each submission a fresh container; this grades it exactly as `make grade` and
nbgrader do -- the same checks, fixtures and hidden tests, each task in a jailed child (bubblewrap
when the container allows it, else Landlock, else resource limits; results.json says which) -- and
writes /autograder/results/results.json, validated against Gradescope's format.

Notebooks are matched to lessons by their check cells (`check("01.encode")`), so a student may name
the file anything ("01_chars (2).ipynb", "lesson1.ipynb"); a notebook that cannot be read costs the
tasks of the lesson its name points to, each with the reason. The upload's regular files are copied
into a private folder before anything reads them (autograder/submission_files.py): a link (to a
file of the grading machine, say), a pipe or a device is left out, and costs its lesson's tasks
with one line saying what it was.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..grade import grade_report
from ..loader import Loader
from ..paths import LessonNotFound, lesson_id
from ..printable import printable
from ..reference import CompiledLessons
from ..report import results_json, write_results
from ..run import FAILED, Verdict
from ..submission_files import copy_plain_tree
from ..tasks import lesson_tasks
from .schema import validate
from .uploads import lesson_of


def grade_submission(root: Path) -> dict:
    """Everything run_autograder does, with /autograder replaced by `root`."""
    started = time.monotonic()
    source = root / "source"
    course = json.loads((source / "course.json").read_text())
    if "capstone" in course:  # the capstone leaderboard: retrain the student's GPT, rank it
        from ..leaderboard.gradescope import grade_submission as grade_capstone

        return grade_capstone(root, course)
    lessons, hidden = course["lessons"], course.get("hidden", {})
    reference = CompiledLessons.read(source / "reference.bin")
    loader = Loader()
    found: dict[str, Path] = {}
    problems: dict[str, str] = {}
    verdicts, visible, isolation = [], {}, ""
    with tempfile.TemporaryDirectory(prefix="submission-") as tmp:
        upload, graded_copy = Path(tmp) / "upload", Path(tmp) / "graded"
        for item in copy_plain_tree(root / "submission", upload):
            if item.path.endswith(".ipynb"):
                with contextlib.suppress(LessonNotFound):
                    problems.setdefault(lesson_id(item.path), item.line().removeprefix("refused: "))
        for path in sorted(upload.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            lesson, problem = lesson_of(path, loader)
            if lesson in lessons and lesson not in found:
                if problem:
                    problems.setdefault(lesson, problem)
                else:
                    found[lesson] = path
                    problems.pop(lesson, None)
        graded_copy.mkdir()
        for lesson, path in found.items():
            folder = graded_copy / course["folders"][lesson]
            folder.mkdir()
            shutil.copy(path, folder / f"{folder.name}.ipynb")
        graded = grade_report(graded_copy, sorted(found), deps=reference, hidden=hidden) if found else None
    if graded:
        by_task = {v.task: v for v in graded.verdicts}
        visible, isolation = graded.visible, str(graded.isolation)
    for lesson in lessons:
        for task in lesson_tasks(lesson):
            if lesson in found:
                verdicts.append(by_task[task.id])
            else:
                why = problems.get(lesson) or f"no notebook for lesson {lesson} was submitted ({course['folders'][lesson]}.ipynb)"
                verdicts.append(Verdict(task.id, FAILED, 0.0, float(task.points), why))
    result = results_json(verdicts, isolation=isolation, visible=visible)
    result["execution_time"] = round(time.monotonic() - started, 1)
    result["stdout_visibility"] = "hidden"
    validate(result)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/autograder"), help="Gradescope's /autograder folder")
    args = parser.parse_args(argv)
    result = grade_submission(args.root)
    write_results(result, args.root / "results" / "results.json")
    print(printable(f"score {result['score']:g}/{sum(t['max_score'] for t in result['tests']):g}; "
                    f"{result.get('output', '')}; {result['execution_time']} s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
