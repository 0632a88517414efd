"""`python -m autograder grade-class --from DIR`: a whole class through `make grade`'s grader.

DIR holds one folder per student with their lesson folders, as nbgrader's submitted/ does:
<student>/<NN_slug>/<NN_slug>.ipynb. Each student is graded like `make grade` (every task in the
jail), `jobs` students at a time, with a progress bar; the results are a CSV of scores (one row
per student, one column per lesson) and each student's Gradescope results.json. Tasks with hidden
tests in solutions/ run them too, as nbgrader's autograde and the Gradescope zip do: a notebook gets
the same score on every route.

Each student's regular files are copied into a private folder first and graded from there
(autograder/submission_files.py): a link, a hard link, a pipe or a device is left out with one
line naming it, and a lesson whose notebook was left out scores 0 with that line as the reason.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path, PurePath

from tqdm.auto import tqdm

from .grade import grade_report
from .nbgrader_glue.cells import hidden_tests
from .report import results_json, write_results
from .run import FAILED, Verdict
from .source import Source
from .submission_files import Refused, copy_plain_tree, is_real_folder, problem, student_id_problem


def students_in(folder: Path) -> tuple[list[Path], list[Refused]]:
    """The student folders in `folder` (with lessons), and the entries refused: links, names with escapes."""
    students, refused = [], []
    for path in sorted(Path(folder).iterdir()):
        if path.name.startswith("."):
            continue
        why = student_id_problem(path.name) or (problem(path) if path.is_symlink() else None)
        if why:
            refused.append(Refused(path.name, why))
        elif is_real_folder(path) and Source(path).lessons():
            students.append(path)
    return students, refused


def lesson_of(refused: Refused) -> str | None:
    """The lesson a refused file belongs to ('01' for 01_chars or 01_chars/01_chars.ipynb), if any."""
    first = PurePath(refused.path).parts[0]
    return first[:2] if re.match(r"\d\d_", first) else None


def grade_class(folder: Path, out: Path, jobs: int | None = None, jail: str = "auto",
                reference: Source | None = None) -> dict[str, dict]:
    """{student: results.json} for every student folder in `folder`; also written under `out`.
    reference: where the hidden tests come from (default solutions/)."""
    students, refused = students_in(folder)
    for item in refused:
        print(item.line())
    jobs = max(1, jobs or os.cpu_count() or 1)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="grade-class-") as tmp:
        copies, left_out = {}, {}  # student -> private copy; student -> {lesson: the line saying why}
        for path in students:
            copies[path.name] = Path(tmp) / path.name
            for item in copy_plain_tree(path, copies[path.name]):
                print(item.line(path.name))
                if lesson_of(item):
                    left_out.setdefault(path.name, {}).setdefault(lesson_of(item), item.line(path.name))
        lessons = sorted({lid for copy in copies.values() for lid in Source(copy).lessons()}
                         | {lid for why in left_out.values() for lid in why})  # a missing one scores 0
        reference = reference or Source.parse("solutions")
        hidden = hidden_tests(reference, [lid for lid in lessons if lid in reference.lessons()])
        # Each student's grading runs in its own jailed worker process; threads here only wait on them.
        with ThreadPoolExecutor(max_workers=jobs) as pool, \
                tqdm(total=len(students), desc=f"grade-class ({jobs} jobs)", unit="student", dynamic_ncols=True) as bar:
            futures = {pool.submit(grade_report, Source.parse(copy), lessons, hidden=hidden, jail=jail,
                                   parallel=1): student
                       for student, copy in copies.items()}
            for future in as_completed(futures):
                student = futures[future]
                report = future.result()
                why = left_out.get(student, {})
                verdicts = [Verdict(v.task, FAILED, 0.0, v.max_points, "not graded: " + why[v.task[:2]].removeprefix("refused: "))
                            if v.task[:2] in why else v for v in report.verdicts]
                results[student] = results_json(verdicts, isolation=str(report.isolation), visible=report.visible)
                write_results(results[student], out / student / "results.json")
                bar.set_postfix_str(f"{student}: {results[student]['score']:g}")
                bar.update(1)
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *lessons, "total"])
        for student in sorted(results):
            per = {lid: sum(t["score"] for t in results[student]["tests"] if t["name"].startswith(lid + "."))
                   for lid in lessons}
            writer.writerow([student, *(f"{per[lid]:g}" for lid in lessons), f"{results[student]['score']:g}"])
    return results
