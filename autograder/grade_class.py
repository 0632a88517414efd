"""`python -m autograder grade-class --from DIR`: a whole class through `make grade`'s grader.

DIR holds one folder per student with their lesson folders, as nbgrader's submitted/ does:
<student>/<NN_slug>/<NN_slug>.ipynb. Each student is graded like `make grade` (every task in the
jail), `jobs` students at a time, with a progress bar; the results are a CSV of scores (one row
per student, one column per lesson) and each student's Gradescope results.json.
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm.auto import tqdm

from .grade import grade_report
from .report import results_json, write_results
from .source import Source


def students_in(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_dir() and Source(p).lessons())


def grade_class(folder: Path, out: Path, jobs: int | None = None, jail: str = "auto") -> dict[str, dict]:
    """{student: results.json} for every student folder in `folder`; also written under `out`."""
    students = students_in(folder)
    lessons = sorted({lid for path in students for lid in Source(path).lessons()})  # a missing one scores 0
    jobs = max(1, jobs or os.cpu_count() or 1)
    results: dict[str, dict] = {}
    # Each student's grading runs in its own jailed worker process; threads here only wait on them.
    with ThreadPoolExecutor(max_workers=jobs) as pool, \
            tqdm(total=len(students), desc=f"grade-class ({jobs} jobs)", unit="student", dynamic_ncols=True) as bar:
        futures = {pool.submit(grade_report, Source.parse(path), lessons, jail=jail, parallel=1): path.name
                   for path in students}
        for future in as_completed(futures):
            student = futures[future]
            report = future.result()
            results[student] = results_json(report.verdicts, isolation=str(report.isolation),
                                             visible=report.visible)
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
