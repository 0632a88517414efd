"""Instructor glue around the real nbgrader command line (the Makefile's collect/autograde/feedback/export).

Run from the course root (the folder holding nbgrader_config.py); everything is written under
.nbgrader/ there. Each command is a thin wrapper over one nbgrader command:

    python -m autograder.instructor exchange                      # create nbgrader's exchange (exchange.py)
    python -m autograder.instructor collect FROM [--lesson NN] [--roster CSV]  # folder or .zip -> .nbgrader/submitted/
    python -m autograder.instructor autograde [--lesson NN] [--student ID] [--force] [--unsafe] [--jobs N]
    python -m autograder.instructor feedback [--lesson NN]        # generate_feedback + hidden-test leak check
    python -m autograder.instructor export                        # grades.csv, Gradescope results.json, report
    python -m autograder.instructor report                        # scores, edited locked cells, ungradable files

autograde refuses to run student code without the bubblewrap jail unless --unsafe (make autograde
UNSAFE=1) is given: then the kernel runs as an ordinary process and the checks in the best jail
this machine offers, and the report says so.
"""

from __future__ import annotations

import argparse
import base64
import codecs
import dataclasses
import fnmatch
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import nbformat

from .. import submission_files
from ..jail import bwrap
from ..paths import lesson_id
from ..printable import printable
from ..report import results_json
from ..run import FAILED, PASSED, Verdict
from ..submission_files import Refused, extract_plain
from ..tasks import lesson_tasks
from . import exchange, refused_files, stamps
from .cells import check_task_id, hidden_lines, without_hidden_tests
from .commands import FLAGS_KEY, course_config, environment, nbgrader
from .students import name_students, roster_problem

WORK = Path(".nbgrader")  # nbgrader's working folders, relative to the course root (see nbgrader_config.py)
SUBMITTED, AUTOGRADED, FEEDBACK = WORK / "submitted", WORK / "autograded", WORK / "feedback"
WITHHELD = WORK / "feedback-withheld"  # pages that failed the hidden-text check, for the instructor to see
LOGS = WORK / "logs"  # nbgrader's output, one file per parallel autograde process
LESSON_DIR = re.compile(r"^\d\d_\w+$")


class InstructorError(RuntimeError):
    pass


def gradebook():
    from nbgrader.api import Gradebook

    config = course_config()
    return Gradebook(config["db_url"], config["course_id"])


def run_nbgrader(*args: str, check: bool = True):
    WORK.mkdir(exist_ok=True)  # nbgrader does not create the gradebook's folder
    result = nbgrader(*args)
    if check and result.returncode != 0:
        raise InstructorError(f"nbgrader {args[0]} failed (exit code {result.returncode})")
    return result


def released_lessons() -> list[str]:
    """Lesson folder names (NN_slug) released into lessons/ (nbgrader's release folder)."""
    root = Path(course_config()["release"])
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
    """Copy <root>/<student>/<NN_slug>/... into .nbgrader/submitted/; returns 'student/lesson' done.

    Only regular files are copied (autograder/submission_files.py): a link, a hard link, a pipe or
    a device is left out with one line naming it, and recorded for the report (refused_files.py).
    Each submission gets the time it was collected and a secret, as `nbgrader submit` gives (stamps.py)."""
    done, when = [], stamps.now()
    for student in sorted(root.iterdir()):
        if student.name.startswith(".") or not (student.is_dir() or student.is_symlink()):
            continue
        why = submission_files.name_problem(student.name) or (
            None if submission_files.is_real_folder(student) else submission_files.problem(student))
        if why:  # a link to someone's folder, a name with terminal escapes in it
            print(Refused(student.name, why).line())
            continue
        for folder in sorted(student.iterdir()):
            if not LESSON_DIR.match(folder.name):
                continue
            target = SUBMITTED / student.name / folder.name
            if target.exists():
                shutil.rmtree(target)
            refused = submission_files.copy_plain_tree(folder, target)  # made even if all is refused: 0, with why
            refused_files.record(SUBMITTED, student.name, folder.name, refused)
            stamps.stamp(target, when)
            for item in refused:
                print(item.line(f"{student.name}/{folder.name}"))
            done.append(f"{student.name}/{folder.name}")
    return done


def collect(source: Path, lesson: str | None = None, roster: Path | None = None) -> None:
    """Collect a folder or a zip into .nbgrader/submitted/, then put the students in the gradebook,
    named from the roster CSV when one is given (nbgrader's `db student import`), else by id."""
    if not source.exists():
        raise InstructorError(f"{printable(source)}: no such file or folder")
    why = roster and roster_problem(roster)
    if why:
        raise InstructorError(printable(why))
    collect_files(source, lesson)
    if roster:
        run_nbgrader("db", "student", "import", str(roster), "--log-level=WARN")
    config = course_config()
    name_students(config["db_url"], config["course_id"], sorted({p.parent.name for p in SUBMITTED.glob("*/*")
                                                                 if p.is_dir()}))


def collect_files(source: Path, lesson: str | None = None) -> None:
    if source.is_dir():
        done = copy_submitted_layout(source)
        if not done:
            raise InstructorError(f"{printable(source)}: expected folders <student>/<NN_slug>/ with notebooks")
        print(printable(f"collected {len(done)} submission(s) into {SUBMITTED}: {', '.join(done)}"))
        return
    if not zipfile.is_zipfile(source):
        raise InstructorError(f"{printable(source)}: neither a folder nor a zip archive")
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(source) as archive:
        # Links and paths out of the archive are left out before anything is extracted, by us: no
        # link entry becomes a file, here or in nbgrader's zip_collect, which gets the rest only.
        members, refused = submission_files.plain_zip_members(archive)
        layout = Path(tmp) / "layout"
        extract_plain(archive, members, layout)
        in_layout = {}  # refused entries at <student>/<NN_slug>/<file>: that lesson scores 0, with why
        for item in refused:
            print(item.line(source.name))
            parts = PurePosixPath(item.path).parts
            if item.why.startswith("is a") and len(parts) >= 3 and LESSON_DIR.match(parts[1]):
                (layout / parts[0] / parts[1]).mkdir(parents=True, exist_ok=True)
                in_layout.setdefault((parts[0], parts[1]), []).append(Refused("/".join(parts[2:]), item.why))
        done = copy_submitted_layout(layout) if layout.is_dir() else []
        if done:  # the archive already has nbgrader's submitted layout
            for (student, name), items in in_layout.items():
                refused_files.record(SUBMITTED, student, name,
                                     refused_files.load(SUBMITTED).get((student, name), []) + items)
            print(printable(f"collected {len(done)} submission(s) into {SUBMITTED}: {', '.join(done)}"))
            return
        plain_archive = Path(tmp) / source.name
        with zipfile.ZipFile(plain_archive, "w", zipfile.ZIP_DEFLATED) as out:
            for info in members:
                out.writestr(info, archive.read(info))
        # Files named <student>_<NN_slug>.ipynb (an LMS download): nbgrader's zip_collect, per lesson.
        for name in lesson_names(lesson):
            archive_dir = WORK / "downloaded" / name / "archive"
            if archive_dir.exists():
                shutil.rmtree(archive_dir)
            archive_dir.mkdir(parents=True)
            shutil.copy2(plain_archive, archive_dir / source.name)
            run_nbgrader("zip_collect", name, "--force")
            for submission in SUBMITTED.glob(f"*/{name}"):  # zip_collect cleared these: stamp what it did not
                stamps.stamp(submission, replace=False)


# --- autograde and report ------------------------------------------------------------------------

def jail_options(unsafe: bool) -> list[str]:
    """nbgrader options for the jail: bubblewrap, or (unsafe) an ordinary kernel and the best fallback."""
    ok, why = bwrap.usable()
    if ok:
        return []
    if not unsafe:
        raise InstructorError(f"no jail for student code: {why}.\nStudent notebooks run code; grading them "
                              f"without bubblewrap lets it reach this machine. Install bubblewrap, or "
                              f"accept the risk with `make autograde UNSAFE=1`.")
    print(f"warning: grading WITHOUT bubblewrap ({why}): the kernel runs as an ordinary process",
          file=sys.stderr)
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
        data = submission_files.read_plain(path)
    except submission_files.NotPlainFile as err:
        return printable(f"{path.name} {err.why} ({submission_files.PLAIN_ONLY})")
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return "not a valid notebook (JSON could not be read)"
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
    return nbformat.read(path, as_version=4).metadata.get(FLAGS_KEY, {})


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


# --- feedback ------------------------------------------------------------------------------------

def visible_text(page: str) -> str:
    """An HTML page's text without tags or entities (syntax highlighting splits code into spans)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def hidden_test_lines(assignment: str) -> list[str]:
    """Every line of hidden test code in an assignment's source cells, from the gradebook."""
    from nbgrader.api import MissingEntry

    lines, public = [], set()
    with gradebook() as gb:
        try:
            for notebook in gb.find_assignment(assignment).notebooks:
                for cell in notebook.source_cells:
                    lines += hidden_lines(cell.source or "")
                    public.update(line.strip() for line in without_hidden_tests(cell.source or "").split("\n"))
        except MissingEntry:
            pass
    # Pages are searched ignoring case: a short line ("pass", "return", "else:") or one the release
    # shows anyway ("import torch") is no secret, and would withhold every page.
    return [line for line in lines if len(line) >= MIN_LINE and line not in public]


MIN_LINE = 8  # hidden lines shorter than this are not searched for
MIN_ENCODED = 8  # base32, base85 and zlib forms shorter than this could match ordinary text by chance


def _aligned(encode, data: bytes, group: int, chars: int, bits: int | None = None) -> list[str]:
    """For each byte alignment the line can have inside a longer encoded text (`group` bytes make
    `chars` characters), the characters that depend on the line's bytes alone. Bit-aligned codes
    (base64, base32: `bits` per character) give every character whose bits lie inside the line;
    base85 gives whole groups only (each character depends on all four bytes of its group)."""
    forms = []
    for shift in range(group):
        encoded = encode(b"\0" * shift + data)
        if isinstance(encoded, bytes):
            encoded = encoded.decode("ascii")
        start, end = 8 * shift, 8 * (shift + len(data))  # the line's bits
        if bits:
            forms.append(encoded[-(-start // bits):end // bits])
        else:
            first, last = -(-shift // group), (shift + len(data)) // group  # whole groups inside the line
            forms.append(encoded[first * chars:last * chars])
    return forms


def encodings(line: str) -> list[str]:
    """A hidden line as text, and as it would show if printed in an encoding to slip past a grep.

    The real guarantee is that hidden tests never run where a student's output comes from; this
    check is the second line of defence. Forms: the text, reversed, hex, JSON-escaped, rot13, base64,
    base32, base85 and Ascii85 at every alignment inside a longer encoded text, and the line
    compressed with zlib (each level's bytes as base64, hex, their Python repr and as latin-1 text).
    feedback_leaks compares them ignoring case (upper-case hex, a shouted line)."""
    data = line.encode()
    forms = [line, line[::-1], data.hex(), json.dumps(line)[1:-1], codecs.encode(line, "rot13")]
    forms += _aligned(base64.b64encode, data, 3, 4, bits=6)
    encoded = _aligned(base64.b32encode, data, 5, 8, bits=5)
    encoded += _aligned(base64.b85encode, data, 4, 5) + _aligned(base64.a85encode, data, 4, 5)
    for blob in dict.fromkeys(zlib.compress(data, level) for level in range(1, 10)):
        encoded += _aligned(base64.b64encode, blob, 3, 4, bits=6)
        encoded += [blob.hex(), repr(blob)[2:-1], blob.decode("latin-1")]
    forms += [form for form in encoded if len(form) >= MIN_ENCODED]
    return list(dict.fromkeys(form for form in forms if len(form) >= 4))


def shows(line: str, *texts: str) -> bool:
    """Whether any text shows the line in any of its encodings, in any case."""
    folded = [text.lower() for text in texts]
    return any(form.lower() in text for form in encodings(line) for text in folded)


def feedback_leaks(folder: Path = FEEDBACK) -> dict[Path, list[str]]:
    """{page: [hidden lines it shows]} for each feedback page that shows hidden test text, in any encoding."""
    leaks = {}
    for page in sorted(folder.glob("*/*/*.html")):
        raw = page.read_bytes().decode("utf-8", errors="replace")  # as written: no newline translation
        text = visible_text(raw)
        found = [line for line in hidden_test_lines(page.parent.name) if shows(line, text, raw)]
        if found:
            leaks[page] = found
    return leaks


def feedback(lesson: str | None = None) -> int:
    for name in lesson_names(lesson):
        if name in {p.name for p in AUTOGRADED.glob("*/*")}:
            run_nbgrader("generate_feedback", name, "--force")
    leaks = feedback_leaks()
    for page, lines in leaks.items():  # withhold that student's page only; the class gets theirs
        target = WITHHELD / page.relative_to(FEEDBACK)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(page, target)
        print(f"error: {page} shows hidden test text ({len(lines)} line(s)); withheld, moved to {target}",
              file=sys.stderr)
    print(f"feedback written to {FEEDBACK}/<student>/<lesson>/ (checked: no hidden test text"
          + (f"; {len(leaks)} page(s) withheld" if leaks else "") + ")")
    return 1 if leaks else 0


# --- export --------------------------------------------------------------------------------------

def manual_scores(submitted_notebook, student: str, name: str) -> dict[str, float]:
    """{task id: score} for each check cell whose score was set by hand (formgrader's manual grade)."""
    changed = {grade.name: grade.manual_score for grade in submitted_notebook.grades if grade.manual_score is not None}
    if not changed:
        return {}
    path = AUTOGRADED / student / name / f"{submitted_notebook.name}.ipynb"
    tasks = {cell.metadata["nbgrader"]["grade_id"]: check_task_id(cell)
             for cell in nbformat.read(path, as_version=4).cells if check_task_id(cell)}
    return {tasks[grade_id]: float(score) for grade_id, score in changed.items() if grade_id in tasks}


def with_manual_score(verdict: Verdict, score: float) -> tuple[Verdict, str]:
    """The task's verdict with the score an instructor gave it, and the line that says so."""
    if score == verdict.points:
        return verdict, ""
    note = f"Score set by the instructor: {score:g}/{verdict.max_points:g} (autograded: {verdict.points:g})."
    status = PASSED if score >= verdict.max_points else FAILED
    return dataclasses.replace(verdict, points=score, status=status), note


def gradescope_results() -> dict[str, dict]:
    """{student: Gradescope results.json} from the verdicts GradeChecks recorded, scored as in the gradebook
    (a task's score changed by hand in formgrader replaces autograde's, with a note)."""
    results = {}
    with gradebook() as gb:
        for student in gb.students:
            verdicts, visible, jails, notes = [], {}, set(), {}
            for assignment in gb.assignments:
                try:
                    submission = gb.find_submission(assignment.name, student.id)
                except Exception:  # noqa: BLE001 - MissingEntry: no submission, nothing to report
                    why = refused_files.reason(SUBMITTED, student.id, assignment.name, assignment.name)
                    if why:  # collect refused the notebook: each task 0, with the reason
                        verdicts += [Verdict(task.id, FAILED, 0.0, float(task.points), f"not graded: {why}")
                                     for task in lesson_tasks(lesson_id(assignment.name))]
                    continue
                for sub_nb in submission.notebooks:
                    record = graded_record(student.id, assignment.name, sub_nb.name)
                    if record is None or "verdicts" not in record:  # every task, each with the reason
                        why = f"not graded: {notebook_problem(SUBMITTED / student.id / assignment.name / f'{sub_nb.name}.ipynb')}"
                        verdicts += [Verdict(task.id, FAILED, 0.0, float(task.points), why)
                                     for task in lesson_tasks(lesson_id(assignment.name))]
                        continue
                    manual = manual_scores(sub_nb, student.id, assignment.name)
                    for verdict in (Verdict(**v) for v in record["verdicts"]):
                        if verdict.task in manual:
                            verdict, notes[verdict.task] = with_manual_score(verdict, manual[verdict.task])
                        verdicts.append(verdict)
                    visible.update({v["task"]: Verdict(**v) for v in record.get("visible", [])})
                    jails.add(record.get("isolation", ""))
            result = results_json(verdicts, isolation="; ".join(sorted(j for j in jails if j)), visible=visible)
            for test in result["tests"]:  # the scored test of each task changed by hand says so
                if notes.get(test["name"]):
                    test["output"] = f"{test['output']}\n{notes[test['name']]}"
            results[student.id] = result
    return results


def export() -> int:
    csv_path = WORK / "grades.csv"
    run_nbgrader("export", f"--to={csv_path}")
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
    commands.add_parser("exchange", help="create nbgrader's exchange ($GPT_COURSE_EXCHANGE, else .nbgrader/exchange)")
    p = commands.add_parser("collect", help="copy submissions (folder or zip) into .nbgrader/submitted/")
    p.add_argument("source", type=Path, help="a folder <student>/<NN_slug>/, or a zip (that layout, or <student>_<NN_slug>.ipynb files)")
    p.add_argument("--lesson", help="only this lesson (zip_collect)")
    p.add_argument("--roster", type=Path, help="a CSV of students (id,first_name,last_name,email) for the gradebook")
    p = commands.add_parser("autograde", help="nbgrader autograde, then the report")
    p.add_argument("--lesson")
    p.add_argument("--student")
    p.add_argument("--force", action="store_true", help="regrade submissions that are already autograded")
    p.add_argument("--unsafe", action="store_true", help="grade even without the bubblewrap jail")
    p.add_argument("--jobs", type=int, help="nbgrader processes grading at once (default: the number of cores)")
    p = commands.add_parser("feedback", help="nbgrader generate_feedback, checked for hidden test text")
    p.add_argument("--lesson")
    commands.add_parser("export", help="grades CSV, Gradescope results.json per student, report")
    commands.add_parser("report", help="scores, edited locked cells, notebooks that could not be graded")
    args = parser.parse_args(argv)
    try:
        if args.command == "exchange":
            root = Path(course_config()["exchange"])
            print("\n".join(exchange.create(root, course_config()["course_id"])))
            return 0
        if args.command == "collect":
            collect(args.source, args.lesson, args.roster)
            return 0
        if args.command == "autograde":
            return autograde(args.lesson, args.student, args.force, args.unsafe, args.jobs)
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
