"""`make bench-grading`: how fast a class is graded, on every path, with the jail on.

A fake class -- 40 submissions over lessons 01-03 (references, partial answers, wrong answers and
untouched releases) -- is graded:

- by the instructor's nbgrader cycle (`make autograde`), with JOBS=1 and JOBS=2, and with JOBS=2
  and OUTPUTS=1 (a jailed Jupyter kernel runs each notebook too, for its printed outputs);
- by the fast grader (`python -m autograder grade-class`), with JOBS=1 and JOBS=2;
- by the Gradescope runner (run_autograder of `make gradescope`'s zip), a few submissions, as
  Gradescope's containers would (one at a time each);

and prints submissions per minute for each, checks that every path gives the same grades (JOBS=2 as
JOBS=1, OUTPUTS=1 as without, nbgrader as grade-class), and the arithmetic for a 500-student class. Figures go to runs/bench-grading/bench.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

from .nbgrader_glue.cells import with_answers
from .nbgrader_glue.commands import environment
from .paths import REPO_ROOT
from .source import lesson_dirs

LESSONS = ("01", "02", "03")
KINDS = ("reference", "partial", "wrong", "release")
OUT = REPO_ROOT / "runs" / "bench-grading"


def make_course(root: Path) -> Path:
    """A course folder (config + the lessons' source notebooks), released with nbgrader."""
    course = root / "course"
    (course / ".nbgrader").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", course)
    for lid in LESSONS:
        folder = next((REPO_ROOT / "solutions").glob(f"{lid}_*"))
        shutil.copytree(folder, course / "solutions" / folder.name)
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "*", "--force", "--log-level=WARN"],
                          cwd=course, env=environment(), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"nbgrader generate_assignment failed:\n{done.stderr[-2000:]}")
    return course


def make_class(course: Path, inbox: Path, size: int) -> list[tuple[str, str]]:
    """`size` submissions in nbgrader's submitted layout: (student, lesson folder) each."""
    made, index = [], 0
    folders = sorted(p.name for p in (course / "lessons").iterdir())
    while len(made) < size:
        name = folders[index % len(folders)]
        student = f"s{index // len(folders):03d}"
        release = nbformat.read(course / "lessons" / name / f"{name}.ipynb", as_version=4)
        reference = nbformat.read(course / "solutions" / name / f"{name}.ipynb", as_version=4)
        kind = KINDS[(index // len(folders)) % len(KINDS)]
        solution_ids = [c.metadata["nbgrader"]["grade_id"] for c in release.cells
                        if c.metadata.get("nbgrader", {}).get("solution")]
        chosen = {"reference": solution_ids, "partial": solution_ids[::2], "wrong": solution_ids,
                  "release": []}[kind]
        nb = with_answers(release, reference, chosen)
        if kind == "wrong":  # every answer off: each function returns None
            for cell in nb.cells:
                if cell.metadata.get("nbgrader", {}).get("solution"):
                    cell.source = cell.source.replace("return ", "return None and ", 1)
        (inbox / student / name).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, inbox / student / name / f"{name}.ipynb")
        made.append((student, name))
        index += 1
    return made


def timed(args: list[str], cwd: Path, **env: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=environment(**env), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def nbgrader_path(root: Path, inbox: Path, jobs: int, outputs: bool = False) -> tuple[float, dict]:
    course = make_course(root / f"nbgrader-{jobs}{'-outputs' * outputs}")
    instructor = [sys.executable, "-m", "autograder.instructor"]
    timed([*instructor, "collect", str(inbox)], course)
    seconds = timed([*instructor, "autograde", "--jobs", str(jobs)], course, GPT_COURSE_OUTPUTS="1" if outputs else "")
    timed([*instructor, "export"], course)
    with open(course / ".nbgrader" / "grades.csv", newline="") as f:
        grades = {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}
    return seconds, grades


def fast_path(root: Path, inbox: Path, jobs: int) -> tuple[float, dict]:
    out = root / f"class-{jobs}"
    seconds = timed([sys.executable, "-m", "autograder", "grade-class", "--from", str(inbox), "--out", str(out),
                     "--jobs", str(jobs)], REPO_ROOT)
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return seconds, {(r["student"], lid): float(r[lid]) for r in rows for lid in r if lid not in ("student", "total")}


def gradescope_path(root: Path, inbox: Path, count: int) -> list[float]:
    """Seconds per submission through run_autograder (a fresh root each, as Gradescope's containers)."""
    from .gradescope.build import build
    from .source import Source

    zip_path = build(list(LESSONS), Source.parse("solutions"), out=root / "zip")
    times = []
    for student in sorted(p.name for p in inbox.iterdir())[:count]:
        box = root / f"gradescope-{student}"
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(box / "source")
        os.chmod(box / "source" / "run_autograder", 0o755)
        shutil.copytree(REPO_ROOT / "datasets" / "tinyshakespeare", box / "source" / "datasets" / "tinyshakespeare")
        shutil.copytree(inbox / student, box / "submission")
        (box / "results").mkdir()
        started = time.perf_counter()
        subprocess.run([str(box / "source" / "run_autograder")], check=True, capture_output=True,
                       env={**os.environ, "AUTOGRADER_ROOT": str(box), "AUTOGRADER_PYTHON": sys.executable})
        times.append(time.perf_counter() - started)
        json.loads((box / "results" / "results.json").read_text())
    return times


def jail_cost(root: Path, inbox: Path, count: int) -> list[str]:
    """Seconds per notebook with and without the jail, on both paths, for the same `count` notebooks."""
    from .grade import grade_report
    from .source import Source

    students = sorted(p for p in inbox.iterdir())[:count]
    small = root / "jail-cost-inbox"
    for path in students:
        shutil.copytree(path, small / path.name)
    notebooks = sum(len(Source(p).lessons()) for p in students)
    lines = []
    for jail in ("bwrap", "in-process"):
        started = time.perf_counter()
        for path in students:
            grade_report(Source.parse(path), sorted(Source(path).lessons()), jail=jail, parallel=1)
        lines.append(f"make grade path, {jail}: {(time.perf_counter() - started) / notebooks:.2f} s per notebook")
    for jailed in (True, False):  # without: checks in process, for measuring only
        course = make_course(root / f"jail-cost-{jailed}")
        timed([sys.executable, "-m", "autograder.instructor", "collect", str(small)], course)
        options = [] if jailed else ["--GradeChecks.jail=in-process"]
        seconds = timed([sys.executable, "-m", "nbgrader", "autograde", "*", *options], course)
        kind = "checks in the jail" if jailed else "no jail (checks in process)"
        lines.append(f"nbgrader path, {kind}: {seconds / notebooks:.2f} s per notebook")
    return lines


def report(rows: list[tuple[str, int, int, float]], per_student: list[float], cores: int, load: tuple) -> str:
    lines = [f"machine: {cores} cores; load average {load[0]:.1f} before, {load[1]:.1f} after", "",
             "| path | jobs | submissions | seconds | per minute | per hour |", "| --- | --- | --- | --- | --- | --- |"]
    for path, jobs, count, seconds in rows:
        lines.append(f"| {path} | {jobs} | {count} | {seconds:.0f} | {60 * count / seconds:.1f} | "
                     f"{3600 * count / seconds:.0f} |")
    if per_student:
        mean = sum(per_student) / len(per_student)
        lines.append(f"| Gradescope run_autograder, one container | 1 | {len(per_student)} (3 lessons each) | "
                     f"{sum(per_student):.0f} | {60 * len(per_student) / sum(per_student):.1f} | "
                     f"{3600 * len(per_student) / sum(per_student):.0f} |")
        lines += ["", f"Gradescope: {mean:.0f} s per submission of 3 lessons in one container; Gradescope "
                      f"runs submissions in parallel containers, so a class's wall time is about one "
                      f"submission's."]
    best = max((3600 * count / seconds, path, jobs) for path, jobs, count, seconds in rows if path == "nbgrader autograde")
    lessons = len(lesson_dirs("solutions"))  # the whole course, optional lessons included
    hours = 500 * lessons / best[0]
    lines += ["", f"500 students x {lessons} lessons = {500 * lessons:,} notebooks: {hours:.1f} h with {best[1]} JOBS={best[2]} on this "
                  f"{cores}-core machine ({best[0]:.0f}/h); on N such cores about {hours * cores:.1f}/N h."]
    return "\n".join(lines)


def ratio(rows: list[tuple[str, int, int, float]]) -> str:
    """The nbgrader path against the fast grader, both at JOBS=2 (issue 20's target: within 1.5x)."""
    seconds = {(path, jobs): s for path, jobs, _, s in rows}
    nb, fast = seconds[("nbgrader autograde", 2)], seconds[("fast grader (grade-class)", 2)]
    return f"nbgrader autograde takes {nb / fast:.2f}x grade-class's time (JOBS=2 both)."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench_grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--gradescope", type=int, default=3, help="submissions to time through run_autograder")
    parser.add_argument("--jail-cost", type=int, default=4, help="students whose notebooks time the jail's cost")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()[0]
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        root = Path(tmp)
        course = make_course(root / "class")
        inbox = root / "inbox"
        made = make_class(course, inbox, args.submissions)
        print(f"fake class: {len(made)} submissions over lessons {', '.join(LESSONS)}", flush=True)
        rows, grades = [], {}
        for path, run_path in (("nbgrader autograde", nbgrader_path), ("fast grader (grade-class)", fast_path)):
            for jobs in (1, 2):
                print(f"{path}, JOBS={jobs} ...", flush=True)
                seconds, grades[path, jobs] = run_path(root, inbox, jobs)
                rows.append((path, jobs, len(made), seconds))
            if grades[path, 1] != grades[path, 2]:
                raise SystemExit(f"{path}: JOBS=2 graded differently from JOBS=1")
        print("nbgrader autograde OUTPUTS=1, JOBS=2 ...", flush=True)
        seconds, with_outputs = nbgrader_path(root, inbox, 2, outputs=True)
        rows.append(("nbgrader autograde OUTPUTS=1", 2, len(made), seconds))
        if with_outputs != grades["nbgrader autograde", 2]:
            raise SystemExit("nbgrader autograde: OUTPUTS=1 graded differently")
        nbgrader_grades = {(student, name[:2]): score for (student, name), score in grades["nbgrader autograde", 1].items()}
        if nbgrader_grades != grades["fast grader (grade-class)", 1]:
            raise SystemExit("nbgrader autograde and grade-class graded differently")
        print("Gradescope run_autograder ...", flush=True)
        per_student = gradescope_path(root, inbox, args.gradescope)
        print("the jail's cost per notebook ...", flush=True)
        cost = jail_cost(root, inbox, args.jail_cost)
    text = (report(rows, per_student, cores, (load_before, os.getloadavg()[0]))
            + "\nEvery path gave the same grades: JOBS=2 as JOBS=1, OUTPUTS=1 as without, nbgrader as grade-class."
            + f"\n\n{ratio(rows)}\n\nThe jail's cost (JOBS=1, "
            + f"{args.jail_cost} students' notebooks):\n" + "\n".join(f"- {line}" for line in cost))
    print("\n" + text)
    (OUT / "bench.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
