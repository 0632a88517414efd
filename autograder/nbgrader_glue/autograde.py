"""`make autograde` (python -m autograder.instructor autograde ...): nbgrader autograde, the students
split over parallel nbgrader processes in the jail, then the report (alone: `python -m
autograder.instructor report`): one row per submitted notebook with its score, the locked cells its
student edited, or why it was not graded.

autograde refuses to run student code without the bubblewrap jail unless --unsafe (make autograde
UNSAFE=1) is given: then the checks run in the best jail this machine offers and, when the output
kernel is on (OUTPUTS=1), the kernel as an ordinary process; a warning says so.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import time
from pathlib import Path


from .. import submission_files
from ..jail import bwrap
from ..printable import printable
from . import refused_files
from .commands import FLAGS_KEY, course_config, environment, nbgrader
from .workspace import AUTOGRADED, LOGS, SUBMITTED, InstructorError, gradebook, lesson_names, submitted_lessons


def jail_options(unsafe: bool) -> list[str]:
    """nbgrader options for the jail: bubblewrap, or (unsafe) the best fallback for the checks and an
    ordinary process for the output kernel (when OUTPUTS=1 switches it on)."""
    ok, why = bwrap.usable()
    if ok:
        return []
    if not unsafe:
        raise InstructorError(f"no jail for student code: {why}.\nStudent notebooks run code; grading them "
                              f"without bubblewrap lets it reach this machine. Install bubblewrap, or "
                              f"accept the risk with `make autograde UNSAFE=1`.")
    print(f"warning: grading WITHOUT bubblewrap ({why}): the checks run in the best fallback jail, and the "
          "output kernel (OUTPUTS=1) as an ordinary process", file=sys.stderr)
    return ["--JailedExecute.jail=none", "--GradeChecks.jail=auto"]


def submitted_students(name: str, student: str | None = None) -> list[str]:
    return sorted(p.parent.name for p in SUBMITTED.glob(f"*/{name}") if p.is_dir()
                  and (student is None or fnmatch.fnmatch(p.parent.name, student)))


def graded_at(student: str, name: str) -> float:
    """When the student's lesson was last autograded (mtime of the autograded notebook), or 0."""
    return max((p.stat().st_mtime for p in (AUTOGRADED / student / name).glob("*.ipynb")), default=0.0)


def sqlite_waits(db_url: str, seconds: int = 120) -> str:
    """The gradebook URL with a lock timeout, so parallel autograde processes queue for the database."""
    return f"{db_url}?timeout={seconds}" if db_url.startswith("sqlite:") and "?" not in db_url else db_url


def autograde(lesson: str | None = None, student: str | None = None, force: bool = False,
              unsafe: bool = False, jobs: int | None = None) -> int:
    """nbgrader autograde, the students split over `jobs` nbgrader processes, with progress.

    With every lesson to grade, each process runs `nbgrader autograde "*"` over its students, which
    nbgrader takes student by student: a student's jailed worker (torch and all) then starts once for
    all their lessons (grade_checks.py), not once per notebook. With LESSON=NN, one lesson's students.
    The students are put in the gradebook first (so parallel processes never create the same row),
    each process grades its share (`--CourseDirectory.student_id_exclude` the others), and SQLite
    makes them queue for the database. A notebook whose process died is graded again on its own;
    one that still fails is reported, not lost. A broken file does not stop the rest.
    """
    names = [n for n in lesson_names(lesson) if n in submitted_lessons()]
    if not names:
        raise InstructorError(f"nothing to grade in {SUBMITTED}: run `make collect FROM=...` first")
    options = jail_options(unsafe)
    jobs = max(1, jobs or os.cpu_count() or 1)
    db_url = sqlite_waits(course_config()["db_url"])
    with gradebook() as gb:  # students first: parallel processes then only add their own submissions
        for name in names:
            for who in submitted_students(name, student):
                gb.update_or_create_student(who)
    LOGS.mkdir(parents=True, exist_ok=True)
    todo: list[tuple[str, str]] = []  # (student, lesson folder) to grade
    for name in names:
        # A lesson whose notebook collect refused has nothing to autograde: it scores 0, with why.
        gradable = [s for s in submitted_students(name, student) if any((SUBMITTED / s / name).glob("*.ipynb"))]
        waiting = [s for s in gradable if force or not graded_at(s, name)]
        if not waiting:
            print(f"{name}: all {len(gradable)} submission(s) already autograded (FORCE=1 to regrade)")
        todo += [(s, name) for s in waiting]
    # "*" grades every submitted lesson folder: only when each of them is a released lesson.
    every_lesson = lesson is None and len({name for _, name in todo}) > 1 and set(submitted_lessons()) <= set(names)
    runs = [("*", todo)] if every_lesson else [(name, [t for t in todo if t[1] == name]) for name in names]
    for assignment, pairs in runs:
        if not pairs:
            continue
        started = time.time()
        students = sorted({who for who, _ in pairs})
        shards = [students[i::jobs] for i in range(min(jobs, len(students)))]
        done = _run_shards(assignment, shards, pairs, started, force, options, db_url)
        for who, name in [pair for pair in pairs if pair not in done]:  # its process died (or was killed): alone
            args = ["autograde", name, "--student", who, "--force", f"--CourseDirectory.db_url={db_url}", *options]
            nbgrader(*args, echo=False, capture=True)
    rows = report_rows()
    print(format_report(rows))
    graded = [r for r in rows if r["graded"]]
    return 0 if graded else 1


def _run_shards(assignment, shards, pairs, started, force, options, db_url) -> set[tuple[str, str]]:
    """Run one nbgrader process per shard of students with a progress bar; the (student, lesson) it graded."""
    from tqdm.auto import tqdm

    processes = []
    everyone = sorted(p.parent.name for p in SUBMITTED.glob("*/*") if p.is_dir())  # graded or not: named
    for index, shard in enumerate(shards):
        others = ",".join(sorted({s for s in everyone if s not in shard}))
        args = ["autograde", assignment, f"--CourseDirectory.db_url={db_url}", *(["--force"] if force else []),
                *options]
        if others:
            args.append(f"--CourseDirectory.student_id_exclude={others}")
        label = "all" if assignment == "*" else assignment
        log = open(LOGS / f"autograde-{label}-{index}.log", "w")  # closed once its process is done
        processes.append((subprocess.Popen([sys.executable, "-m", "nbgrader", *args], stdout=log,
                                           stderr=subprocess.STDOUT, env=environment()), log))
    done: set[tuple[str, str]] = set()
    desc = f"autograde {'every lesson' if assignment == '*' else assignment} ({len(shards)} job{'s' * (len(shards) > 1)})"
    with tqdm(total=len(pairs), desc=desc, unit="notebook", dynamic_ncols=True) as bar:
        while True:
            running = any(p.poll() is None for p, _ in processes)
            for who, name in pairs:
                if (who, name) not in done and graded_at(who, name) >= started:
                    done.add((who, name))
                    record = graded_record(who, name, name) or {}
                    bar.set_postfix_str(printable(f"{who}/{name}: {record.get('autograde_seconds', 0):.1f} s"))
                    bar.update(1)
            if not running:
                break
            time.sleep(0.5)
    for process, log in processes:
        log.close()
        if process.returncode not in (0, None) and len(done) < len(pairs):
            print(f"note: an autograde process exited with {process.returncode}; its log: {log.name}",
                  file=sys.stderr)
    return done


def notebook_problem(path: Path) -> str:
    """Why a submitted notebook could not be graded, in one printable line that quotes none of its bytes."""
    refused = refused_files.reason(SUBMITTED, path.parent.parent.name, path.parent.name, path.stem)
    if refused:
        return refused
    try:
        data = submission_files.read_plain(path, limit=submission_files.MAX_FILE_BYTES)
    except submission_files.NotPlainFile as err:
        return printable(f"{path.name} {err.why} ({submission_files.PLAIN_ONLY})")
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return "not a valid notebook (JSON could not be read)"
    import nbformat  # only for a notebook that failed: its import costs a second

    try:
        nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:  # noqa: BLE001 - any way a file can fail to be a notebook; its message may quote it
        return "not a valid notebook (it does not follow the notebook format)"
    return "autograde failed (see nbgrader's log in .nbgrader/logs/)"


def graded_record(student: str, name: str, notebook: str) -> dict | None:
    """What GradeChecks recorded in an autograded notebook (verdicts, jail, flags), or None."""
    path = AUTOGRADED / student / name / f"{notebook}.ipynb"
    if not path.exists():
        return None
    # Only the metadata GradeChecks wrote (this runs for every notebook as the progress bar moves):
    # plain JSON, without nbformat's schema validation.
    with open(path, encoding="utf-8") as f:
        return json.load(f).get("metadata", {}).get(FLAGS_KEY, {})


def report_rows() -> list[dict]:
    """One row per submitted lesson notebook: score, edited locked cells, or why it was not graded."""
    from nbgrader.api import MissingEntry

    rows = []
    refused = refused_files.load(SUBMITTED)
    with gradebook() as gb:
        for folder in sorted(SUBMITTED.glob("*/*")):
            student, name = folder.parent.name, folder.name
            notebooks = sorted(folder.glob("*.ipynb"))
            if not notebooks and refused.get((student, name)):  # collect left the notebook out
                rows.append({"student": student, "lesson": name, "notebook": name, "graded": False, "score": 0.0,
                             "max_score": 0.0, "edited_locked_cells": [], "seconds": None, "isolation": "",
                             "problem": refused_files.reason(SUBMITTED, student, name, name)
                             or refused[student, name][0].line(f"{student}/{name}")})
            for notebook in notebooks:
                row = {"student": student, "lesson": name, "notebook": notebook.stem, "graded": False,
                       "score": 0.0, "max_score": 0.0, "edited_locked_cells": [], "problem": "", "seconds": None,
                       "isolation": ""}
                record = graded_record(student, name, notebook.stem)
                if record is None:
                    row["problem"] = notebook_problem(notebook)
                else:
                    row.update(graded=True, edited_locked_cells=record.get("edited_locked_cells", []),
                               seconds=record.get("autograde_seconds"), isolation=record.get("isolation", ""))
                    try:
                        sub = gb.find_submission_notebook(notebook.stem, name, student)
                        row.update(score=sub.score, max_score=sub.max_score)
                    except MissingEntry:
                        row.update(graded=False, problem="not in the gradebook")
                rows.append(row)
    return rows


def format_report(rows: list[dict]) -> str:
    lines = [f"{'student':<16} {'lesson':<22} {'score':>9} {'time':>7}  notes", "-" * 78]
    for r in rows:
        notes = []
        if r["problem"]:
            notes.append(f"NOT GRADED: {r['problem']}")
        if r["edited_locked_cells"]:
            notes.append("EDITED LOCKED CELLS (restored before grading): " + ", ".join(r["edited_locked_cells"]))
        if r["isolation"] and not r["isolation"].startswith("bubblewrap"):
            notes.append(f"NOT IN BUBBLEWRAP: {r['isolation']}")
        score = f"{r['score']:g}/{r['max_score']:g}" if r["graded"] else "-"
        seconds = f"{r['seconds']:.1f}s" if r["seconds"] is not None else ""
        lines.append(printable(f"{r['student']:<16} {r['lesson']:<22} {score:>9} {seconds:>7}  {'; '.join(notes)}"))
    flagged = sum(1 for r in rows if r["problem"] or r["edited_locked_cells"])
    jails = sorted({r["isolation"] for r in rows if r["isolation"]})
    lines.append(f"{len(rows)} notebook(s), {flagged} need(s) your attention")
    lines += [printable(f"isolation: {jail}") for jail in jails]
    return "\n".join(lines)
