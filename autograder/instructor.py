"""Instructor glue around the real nbgrader command line (the Makefile's collect/autograde/feedback/export).

Run from the course root (the folder holding nbgrader_config.py); everything is written under
.nbgrader/ there. Each command is a thin wrapper over one nbgrader command:

    python -m autograder.instructor collect FROM [--lesson NN]   # folder or .zip -> .nbgrader/submitted/
    python -m autograder.instructor autograde [--lesson NN] [--student ID] [--force]
    python -m autograder.instructor feedback [--lesson NN]        # generate_feedback + hidden-test leak check
    python -m autograder.instructor export                        # grades.csv, Gradescope results.json, report
    python -m autograder.instructor report                        # scores, edited locked cells, ungradable files
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

from .paths import lesson_id

WORK = Path(".nbgrader")  # nbgrader's working folders, relative to the course root (see nbgrader_config.py)
SUBMITTED, AUTOGRADED, FEEDBACK = WORK / "submitted", WORK / "autograded", WORK / "feedback"
DB_URL = "sqlite:///.nbgrader/gradebook.db"
COURSE_ID = "gpt-from-scratch"
LESSON_DIR = re.compile(r"^\d\d_\w+$")


class InstructorError(RuntimeError):
    pass


def nbgrader(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` in this environment (nbgrader calls `alembic` from PATH: put ours first)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "MPLBACKEND": "Agg"}
    WORK.mkdir(exist_ok=True)  # nbgrader does not create the gradebook's folder
    print("$ nbgrader " + " ".join(args), flush=True)
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], env=env)
    if check and result.returncode != 0:
        raise InstructorError(f"nbgrader {args[0]} failed (exit code {result.returncode})")
    return result


def released_lessons() -> list[str]:
    """Lesson folder names (NN_slug) released into lessons/ (nbgrader's release folder)."""
    root = Path("lessons")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and LESSON_DIR.match(p.name)) if root.is_dir() else []


def lesson_names(lesson: str | None) -> list[str]:
    names = released_lessons()
    if lesson:
        names = [n for n in names if n[:2] == lesson_id(lesson)]
        if not names:
            raise InstructorError(f"lesson {lesson} is not released in lessons/: run `make release LESSON={lesson}`")
    return names


def submitted_lessons() -> list[str]:
    return sorted({p.name for p in SUBMITTED.glob("*/*") if p.is_dir()}) if SUBMITTED.is_dir() else []


# --- collect -------------------------------------------------------------------------------------

def copy_submitted_layout(root: Path) -> list[str]:
    """Copy <root>/<student>/<NN_slug>/... into .nbgrader/submitted/; returns 'student/lesson' done."""
    done = []
    for folder in sorted(root.glob("*/*")):
        if folder.is_dir() and LESSON_DIR.match(folder.name) and not folder.parent.name.startswith("."):
            target = SUBMITTED / folder.parent.name / folder.name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(folder, target)
            done.append(f"{folder.parent.name}/{folder.name}")
    return done


def collect(source: Path, lesson: str | None = None) -> None:
    if not source.exists():
        raise InstructorError(f"{source}: no such file or folder")
    if source.is_dir():
        done = copy_submitted_layout(source)
        if not done:
            raise InstructorError(f"{source}: expected folders <student>/<NN_slug>/ with notebooks")
        print(f"collected {len(done)} submission(s) into {SUBMITTED}: {', '.join(done)}")
        return
    if not zipfile.is_zipfile(source):
        raise InstructorError(f"{source}: neither a folder nor a zip archive")
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(source) as archive:
            archive.extractall(tmp)
        done = copy_submitted_layout(Path(tmp))
    if done:  # the archive already has nbgrader's submitted layout
        print(f"collected {len(done)} submission(s) into {SUBMITTED}: {', '.join(done)}")
        return
    # Files named <student>_<NN_slug>.ipynb (an LMS download): nbgrader's zip_collect, per lesson.
    for name in lesson_names(lesson):
        archive_dir = WORK / "downloaded" / name / "archive"
        if archive_dir.exists():
            shutil.rmtree(archive_dir)
        archive_dir.mkdir(parents=True)
        shutil.copy2(source, archive_dir / source.name)
        nbgrader("zip_collect", name, "--force")


# --- autograde and report ------------------------------------------------------------------------

def autograde(lesson: str | None = None, student: str | None = None, force: bool = False) -> int:
    """nbgrader autograde for each lesson with submissions; a student's broken file does not stop the rest."""
    names = [n for n in lesson_names(lesson) if n in submitted_lessons()]
    if not names:
        raise InstructorError(f"nothing to grade in {SUBMITTED}: run `make collect FROM=...` first")
    for name in names:
        args = ["autograde", name] + (["--student", student] if student else []) + (["--force"] if force else [])
        nbgrader(*args, check=False)  # non-zero when some submission failed: the report names it
    rows = report_rows()
    print(format_report(rows))
    graded = [r for r in rows if r["graded"]]
    return 0 if graded else 1


def notebook_problem(path: Path) -> str:
    """Why a submitted notebook could not be graded, in one line."""
    try:
        nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - any way a file can fail to be a notebook
        first = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
        return f"not a valid notebook ({first[:120]})"
    return "autograde failed (see nbgrader's log above)"


def report_rows() -> list[dict]:
    """One row per submitted lesson notebook: score, edited locked cells, or why it was not graded."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(DB_URL, COURSE_ID) as gb:
        for folder in sorted(SUBMITTED.glob("*/*")):
            student, name = folder.parent.name, folder.name
            for notebook in sorted(folder.glob("*.ipynb")):
                row = {"student": student, "lesson": name, "notebook": notebook.stem, "graded": False,
                       "score": 0.0, "max_score": 0.0, "edited_locked_cells": [], "problem": "", "seconds": None}
                graded = AUTOGRADED / student / name / notebook.name
                if not graded.exists():
                    row["problem"] = notebook_problem(notebook)
                else:
                    meta = nbformat.read(graded, as_version=4).metadata.get("gpt_course", {})
                    row.update(graded=True, edited_locked_cells=meta.get("edited_locked_cells", []),
                               seconds=meta.get("autograde_seconds"))
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
        score = f"{r['score']:g}/{r['max_score']:g}" if r["graded"] else "-"
        seconds = f"{r['seconds']:.1f}s" if r["seconds"] is not None else ""
        lines.append(f"{r['student']:<16} {r['lesson']:<22} {score:>9} {seconds:>7}  {'; '.join(notes)}")
    flagged = sum(1 for r in rows if r["problem"] or r["edited_locked_cells"])
    lines.append(f"{len(rows)} notebook(s), {flagged} need(s) your attention")
    return "\n".join(lines)


# --- feedback ------------------------------------------------------------------------------------

def visible_text(page: str) -> str:
    """An HTML page's text without tags or entities (syntax highlighting splits code into spans)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def hidden_test_lines(assignment: str) -> list[str]:
    """Every line of hidden test code in an assignment's source cells, from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    from .nbgrader_ext import hidden_lines

    lines = []
    with Gradebook(DB_URL, COURSE_ID) as gb:
        try:
            for notebook in gb.find_assignment(assignment).notebooks:
                for cell in notebook.source_cells:
                    lines += hidden_lines(cell.source or "")
        except MissingEntry:
            pass
    return [line for line in lines if len(line) >= 4]  # ignore trivia such as "pass" or ")"


def feedback_leaks(folder: Path = FEEDBACK) -> list[str]:
    """'<file>: <line>' for each hidden test line found in a feedback HTML file."""
    leaks = []
    for page in sorted(folder.glob("*/*/*.html")):
        text = visible_text(page.read_text(encoding="utf-8"))
        for line in hidden_test_lines(page.parent.name):
            if line in text:
                leaks.append(f"{page}: {line}")
    return leaks


def feedback(lesson: str | None = None) -> int:
    for name in lesson_names(lesson):
        if name in {p.name for p in AUTOGRADED.glob("*/*")}:
            nbgrader("generate_feedback", name, "--force")
    leaks = feedback_leaks()
    if leaks:
        print("error: feedback shows hidden test text; do not send it:\n  " + "\n  ".join(leaks), file=sys.stderr)
        return 1
    print(f"feedback written to {FEEDBACK}/<student>/<lesson>/ (checked: no hidden test text)")
    return 0


# --- export --------------------------------------------------------------------------------------

def cell_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream").strip()


def gradescope_results() -> dict[str, dict]:
    """{student: Gradescope results.json} from the gradebook, one test per graded cell (per task)."""
    from nbgrader.api import Gradebook

    from .nbgrader_ext import check_task_id

    results = {}
    with Gradebook(DB_URL, COURSE_ID) as gb:
        for student in gb.students:
            tests = []
            for assignment in gb.assignments:
                try:
                    submission = gb.find_submission(assignment.name, student.id)
                except Exception:  # noqa: BLE001 - MissingEntry: no submission, nothing to report
                    continue
                for sub_nb in submission.notebooks:
                    path = AUTOGRADED / student.id / assignment.name / f"{sub_nb.name}.ipynb"
                    cells = {}
                    if path.exists():
                        for cell in nbformat.read(path, as_version=4).cells:
                            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                            if grade_id:
                                cells[grade_id] = cell
                    order = {grade_id: i for i, grade_id in enumerate(cells)}  # notebook order
                    for grade in sorted(sub_nb.grades, key=lambda g: (order.get(g.name, len(order)), g.name)):
                        cell = cells.get(grade.name)
                        name = (check_task_id(cell) if cell is not None else None) or f"{assignment.name}/{grade.name}"
                        output = cell_text(cell) if cell is not None else "not graded: the notebook could not be read"
                        score = grade.score or 0.0
                        tests.append({"name": name, "score": score, "max_score": grade.max_score,
                                      "status": "passed" if score >= grade.max_score else "failed",
                                      "output": output})
            results[student.id] = {"score": sum(t["score"] for t in tests),
                                   "max_score": sum(t["max_score"] for t in tests), "tests": tests}
    return results


def export() -> int:
    csv_path = WORK / "grades.csv"
    nbgrader("export", f"--to={csv_path}")
    for student, result in gradescope_results().items():
        path = WORK / "gradescope" / student / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    report = format_report(report_rows())
    (WORK / "report.txt").write_text(report + "\n")
    print(report)
    print(f"grades: {csv_path}\nGradescope: {WORK / 'gradescope'}/<student>/results.json\nreport: {WORK / 'report.txt'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.instructor", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("collect", help="copy submissions (folder or zip) into .nbgrader/submitted/")
    p.add_argument("source", type=Path, help="a folder <student>/<NN_slug>/, or a zip (that layout, or <student>_<NN_slug>.ipynb files)")
    p.add_argument("--lesson", help="only this lesson (zip_collect)")
    p = commands.add_parser("autograde", help="nbgrader autograde, then the report")
    p.add_argument("--lesson")
    p.add_argument("--student")
    p.add_argument("--force", action="store_true", help="regrade submissions that are already autograded")
    p = commands.add_parser("feedback", help="nbgrader generate_feedback, checked for hidden test text")
    p.add_argument("--lesson")
    commands.add_parser("export", help="grades CSV, Gradescope results.json per student, report")
    commands.add_parser("report", help="scores, edited locked cells, notebooks that could not be graded")
    args = parser.parse_args(argv)
    try:
        if args.command == "collect":
            collect(args.source, args.lesson)
            return 0
        if args.command == "autograde":
            return autograde(args.lesson, args.student, args.force)
        if args.command == "feedback":
            return feedback(args.lesson)
        if args.command == "export":
            return export()
        print(format_report(report_rows()))
        return 0
    except InstructorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
