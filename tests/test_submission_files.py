"""Submissions are plain files, never links; nothing a student wrote puts a control character in a log.

The class every path is tried with (lesson 01): `ref` the reference, `stub` the untouched release,
and the attackers -- `copycat` a symbolic link to ref's notebook, `snoop` a link to a file of the
machine holding MARKER, `hardlink` a hard link to that file, `pipe` a FIFO where the notebook
should be, and (where student ids come from folder names) a student whose id holds terminal escapes.
The honest ones get their exact grade, each attacker 0 with one line naming the student and the
file, and MARKER and raw control characters appear in nothing written or printed.

Paths: `make collect FROM=dir` and `FROM=x.zip`, then autograde and export (PlainFileExporter
reading submitted/), `grade-class`, `make grade`'s loader. The plug-ins alone are in
tests/nbgrader_glue/ (test_plain_file_exporter.py, test_exchange_collect.py, with the class from
here); the Gradescope runner is in tests/test_gradescope.py.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
import stat
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.grade import grade
from autograder.loader import LessonLoadError, Loader
from autograder.nbgrader_glue.autograde import format_report, report_rows
from autograder.nbgrader_glue.collect import collect
from autograder.nbgrader_glue.export import gradescope_results
from autograder.nbgrader_glue.workspace import SUBMITTED, gradebook
from autograder.printable import PrintableLogRecords, printable
from autograder.report import results_json, summary, table, write_results
from autograder.run import FAILED, Verdict
from autograder.submission_files import NotPlainFile, copy_plain_tree, plain_zip_members, read_plain
from autograder.tasks import lesson_tasks
from tests.conftest import REPO, paste_reference, run
from tests.nbgrader_glue import conftest as glue_fixtures

LESSON = "01_chars"
MARKER = "SECRET-HOST-BYTES"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J"
# Tab, newline and carriage return are allowed: the CSV's line ends and tqdm's progress bar are ours
# (a student's \r is written as "\\r"); the escapes in ESCAPES are what a student could slip in.
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TOTAL = float(sum(t.points for t in lesson_tasks("01")))
ATTACKERS = ("copycat", "snoop", "hardlink", "pipe")
empty_gradebook = glue_fixtures.empty_gradebook  # the plug-ins' tests' gradebook fixture, for this module too


def host_file(tmp_path: Path) -> Path:
    """A file of 'the grading machine' that no student may read, holding the marker."""
    path = tmp_path / "host" / "secret.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"{MARKER}\nroot:x:0:0\n")
    return path


def write_submission(folder: Path, kind: str, release_dir: Path, tmp_path: Path) -> Path:
    """A lesson folder holding 01_chars.ipynb as student `kind` of the class above hands it in."""
    folder.mkdir(parents=True)
    notebook = folder / f"{LESSON}.ipynb"
    release = release_dir / LESSON / f"{LESSON}.ipynb"
    if kind == "ref":
        paste_reference(release, notebook)
    elif kind == "stub":
        shutil.copy(release, notebook)
    elif kind == "copycat":  # a classmate's finished notebook, which would be graded as theirs
        classmate = tmp_path / "classmate" / LESSON / notebook.name
        if not classmate.exists():
            write_submission(classmate.parent, "ref", release_dir, tmp_path)
        notebook.symlink_to(classmate)
    elif kind == "snoop":
        notebook.symlink_to(host_file(tmp_path))
    elif kind == "hardlink":
        os.link(host_file(tmp_path), notebook)
    elif kind == "pipe":
        os.mkfifo(notebook)
    return notebook


def write_class(root: Path, release_dir: Path, tmp_path: Path) -> Path:
    """<root>/<student>/01_chars/01_chars.ipynb for the class above; returns root."""
    for student in ("ref", "stub", *ATTACKERS):
        write_submission(root / student / LESSON, student, release_dir, tmp_path)
    return root


def assert_clean(*texts: str | bytes) -> None:
    """No marker, no raw control character (see CONTROL_BYTES) in what was written or printed."""
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        assert MARKER.encode() not in data
        assert not CONTROL_BYTES.search(data), CONTROL_BYTES.search(data)


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


def student_files_under(submitted: Path) -> list[Path]:
    """The files collected from students: not the timestamp and secret collect writes into each submission."""
    from autograder.nbgrader_glue import stamps

    return [p for p in files_under(submitted) if p.name not in (stamps.TIMESTAMP, stamps.SECRET)]


# --- printable ------------------------------------------------------------------------------------

def test_printable_escapes_control_characters_and_bidi_overrides():
    text = f"a{ESCAPES}b\x7f\x85\u202e\u2066 é ok"
    assert printable(text) == "a\\x1b]0;pwned\\x07\\x1b[2Jb\\x7f\\x85\\u202e\\u2066 é ok"
    assert printable("two\nlines\tand\r") == "two\\nlines\\tand\\r"
    assert printable("two\nlines\tand\r", lines=True) == "two\nlines\tand\\r"
    assert printable("plain text, 01_chars") == "plain text, 01_chars"
    assert printable("lone \ud800 half") == "lone \\ud800 half"  # UTF-8 cannot hold it: a write would raise


def test_a_lone_surrogate_in_what_student_code_raised_or_printed_is_written_escaped(tmp_path):
    """raise ValueError("\\ud800") or print("\\udfff") in a solution cell: results.json and the table
    are still written (a lone surrogate is not UTF-8, so written as it is it would raise and stop the
    class's grading at that student)."""
    verdict = Verdict("01.encode", FAILED, 0.0, 2.0, "encode('hi') raised ValueError: bad \ud800", "printed \udfff")
    write_results(results_json([verdict]), tmp_path / "results.json")
    output = json.loads((tmp_path / "results.json").read_text())["tests"][0]["output"]
    assert "bad \\ud800" in output and "printed \\udfff" in output
    assert "bad \\ud800" in table([verdict]).encode().decode()


def test_the_score_table_and_results_show_what_student_code_raised_or_printed_escaped():
    verdict = Verdict("01.encode", FAILED, 0.0, 2.0, f"encode('hi') raised ValueError: {ESCAPES}", f"{ESCAPES}\nbye")
    shown = [table([verdict]), summary(verdict), json.dumps(results_json([verdict]), ensure_ascii=False)]
    assert all("\\x1b]0;pwned" in text for text in shown)
    assert_clean(*shown)


def test_the_log_filter_escapes_messages_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PrintableLogRecords())
    log = logging.getLogger("test-printable")
    log.addHandler(handler)
    try:
        log.warning("Cell '%s' does not exist in the database", ESCAPES)
        try:
            raise ValueError(f"bad {ESCAPES}")
        except ValueError:
            log.exception("while grading\n%s", "next line")
    finally:
        log.removeHandler(handler)
    written = stream.getvalue()
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in written and "while grading\nnext line" in written
    assert "ValueError: bad \\x1b" in written
    assert_clean(written)


# --- what may be read -----------------------------------------------------------------------------

def test_read_plain_reads_a_regular_file_and_refuses_every_other_kind(tmp_path):
    secret = host_file(tmp_path)
    (tmp_path / "own.ipynb").write_text("{}")
    (tmp_path / "link").symlink_to(secret)
    os.link(secret, tmp_path / "hard")
    os.mkfifo(tmp_path / "fifo")
    assert read_plain(tmp_path / "own.ipynb") == b"{}"
    for name, what in [("link", "symbolic link"), ("hard", "hard link"), ("fifo", "named pipe"),
                       ("host", "folder")]:
        with pytest.raises(NotPlainFile) as refused:
            read_plain(tmp_path / name)  # a FIFO is refused without blocking on it
        assert what in str(refused.value) and MARKER not in str(refused.value)
    assert MARKER in read_plain(tmp_path / "hard", hard_links=True).decode()  # a student's own tree


def test_copy_plain_tree_copies_regular_files_and_names_the_rest(tmp_path):
    src = tmp_path / "alice" / LESSON
    (src / "data").mkdir(parents=True)
    (src / f"{LESSON}.ipynb").write_text("{}")
    (src / "data" / "notes.txt").write_text("mine")
    (src / "to-secret").symlink_to(host_file(tmp_path))
    (src / "to-folder").symlink_to(tmp_path / "host", target_is_directory=True)
    os.link(host_file(tmp_path), src / "hard.txt")
    os.mkfifo(src / "fifo")
    (src / f"x{ESCAPES}.txt").write_text("a name with escapes")
    refused = copy_plain_tree(src, tmp_path / "copy")
    assert sorted(str(p.relative_to(tmp_path / "copy")) for p in files_under(tmp_path / "copy")) == \
        [f"{LESSON}.ipynb", "data/notes.txt"]
    assert {r.path: r.why.split(",")[0].split(" (")[0] for r in refused} == {
        "to-secret": "is a symbolic link", "to-folder": "is a symbolic link", "hard.txt": "is a hard link",
        "fifo": "is a named pipe", f"x{ESCAPES}.txt": "has control characters in its name"}
    lines = [r.line(f"alice/{LESSON}") for r in refused]
    assert all(line.startswith(f"refused: alice/{LESSON}/") and "\n" not in line for line in lines)
    assert_clean("\n".join(lines))
    # a lesson folder that is itself a link is refused as a whole
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / LESSON).symlink_to(src, target_is_directory=True)
    assert [(r.path, r.why) for r in copy_plain_tree(tmp_path / "bob" / LESSON, tmp_path / "bobcopy")] == \
        [(".", "is a symbolic link, not a regular file")]
    assert not files_under(tmp_path / "bobcopy")


def test_a_submission_nested_too_deep_or_too_large_is_refused_not_a_crash(tmp_path, monkeypatch):
    """os.fwalk recurses once per folder: 1,100 nested folders would end in RecursionError for the whole
    class. Folders past MAX_DEPTH are left out with one line; so is a file past MAX_FILE_BYTES, unread."""
    from autograder import submission_files

    src = tmp_path / "alice"
    deep = src / LESSON
    deep.mkdir(parents=True)
    (deep / f"{LESSON}.ipynb").write_text("{}")
    fd = os.open(deep, os.O_RDONLY)
    try:
        for _ in range(40):  # (1,100 crashed it; 40 shows the cut and stays easy to delete)
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    monkeypatch.setattr(submission_files, "MAX_FILE_BYTES", 10)
    (deep / "big.txt").write_text("x" * 11)
    refused = copy_plain_tree(src, tmp_path / "copy")
    assert [str(p.relative_to(tmp_path / "copy")) for p in files_under(tmp_path / "copy")] == [f"{LESSON}/{LESSON}.ipynb"]
    assert {r.path.count("/"): r.why for r in refused} == {
        1: "is larger than 10 bytes", submission_files.MAX_DEPTH: f"is more than {submission_files.MAX_DEPTH} folders deep"}
    with zipfile.ZipFile(tmp_path / "deep.zip", "w") as zf:
        zf.writestr("alice/" + "d/" * 1100 + "x.txt", "{}")
        zf.writestr(f"alice/{LESSON}/big.txt", "x" * 11)
        zf.writestr(f"alice/{LESSON}/{LESSON}.ipynb", "{}")
    with zipfile.ZipFile(tmp_path / "deep.zip") as zf:
        members, refused = plain_zip_members(zf)
    assert [m.filename for m in members] == [f"alice/{LESSON}/{LESSON}.ipynb"]
    assert [r.why for r in refused] == [f"is more than {submission_files.MAX_DEPTH} folders deep", "is larger than 10 bytes"]


def zip_with_attacks(path: Path, layout: dict[str, bytes]) -> Path:
    """A zip holding `layout` plus a symbolic link entry, a '..' path, an absolute path and an escaped name."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in layout.items():
            zf.writestr(name, data)
        link = zipfile.ZipInfo(f"mallory/{LESSON}/{LESSON}.ipynb")
        link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr(f"../{LESSON}.ipynb", "{}")
        zf.writestr(f"/tmp/{LESSON}.ipynb", "{}")
        zf.writestr(f"eve{ESCAPES}/{LESSON}/{LESSON}.ipynb", "{}")
    return path


def test_zip_members_leave_out_links_and_paths_out_of_the_archive(tmp_path):
    archive = zip_with_attacks(tmp_path / "class.zip", {f"ref/{LESSON}/{LESSON}.ipynb": b"{}"})
    with zipfile.ZipFile(archive) as zf:
        members, refused = plain_zip_members(zf)
    assert [m.filename for m in members] == [f"ref/{LESSON}/{LESSON}.ipynb"]
    assert [r.why.split(",")[0].split(" (")[0] for r in refused] == [
        "is a symbolic link", "has a path that leaves the archive", "has a path that leaves the archive",
        "has control characters in its name"]


def test_make_grade_reads_no_linked_notebook_and_quotes_no_bytes(tmp_path):
    """`make grade`'s loader: a lesson notebook that is a link is refused (the student's own tree, but
    the score must match what collecting would give); a file that is not a notebook is worded from
    fixed phrases."""
    (tmp_path / LESSON).mkdir()
    notebook = tmp_path / LESSON / f"{LESSON}.ipynb"
    notebook.symlink_to(host_file(tmp_path))
    with pytest.raises(LessonLoadError, match="is a symbolic link") as refused:
        Loader().read_notebook(notebook)
    assert MARKER not in str(refused.value)
    verdicts = grade(str(tmp_path), ["01"])
    assert [v.points for v in verdicts] == [0.0] * len(lesson_tasks("01"))
    assert all("01_chars.ipynb: is a symbolic link, not a regular file" in v.reason for v in verdicts)
    assert_clean(table(verdicts))
    notebook.unlink()
    notebook.write_text(f'{{"cells": [{{"cell_type": "{MARKER}"}}], "nbformat": 4, "nbformat_minor": 5, "metadata": {{}}}}')
    with pytest.raises(LessonLoadError, match="does not follow the notebook format") as broken:
        Loader().read_notebook(notebook)
    assert MARKER not in str(broken.value)


# --- make collect FROM=dir / FROM=x.zip, and the report and export after it -----------------------

@pytest.fixture
def course(tmp_path, monkeypatch, empty_gradebook):
    """A course folder (cwd) with lesson 01 recorded in the gradebook, as make collect runs from."""
    root = tmp_path / "course"
    (root / "lessons" / LESSON).mkdir(parents=True)
    (root / ".nbgrader").mkdir()
    shutil.copy(empty_gradebook, root / ".nbgrader" / "gradebook.db")
    monkeypatch.chdir(root)
    with gradebook() as gb:
        gb.add_assignment(LESSON)
        gb.add_notebook(LESSON, LESSON)
    return root


def check_collected(printed: str) -> None:
    """ref and stub collected as they are; each attacker's notebook left out, with one line naming it."""
    submitted = SUBMITTED
    assert {str(p.relative_to(submitted)) for p in student_files_under(submitted)} == \
        {f"ref/{LESSON}/{LESSON}.ipynb", f"stub/{LESSON}/{LESSON}.ipynb"}
    assert not [p for p in submitted.rglob("*") if p.is_symlink()]
    for student, what in [("copycat", "symbolic link"), ("snoop", "symbolic link"), ("hardlink", "hard link"),
                          ("pipe", "named pipe")]:
        line = next(line for line in printed.splitlines() if line.startswith(f"refused: {student}/"))
        assert line.startswith(f"refused: {student}/{LESSON}/{LESSON}.ipynb: is a {what}"), line
        assert (submitted / student / LESSON).is_dir()  # graded as 0, with the reason
    rows = {r["student"]: r for r in report_rows()}
    report = format_report(list(rows.values()))
    for student in ATTACKERS:
        assert not rows[student]["graded"] and f"{student}/{LESSON}/{LESSON}.ipynb: is a" in rows[student]["problem"]
        line = next(line for line in report.splitlines() if line.startswith(student))
        assert "NOT GRADED: " in line
    assert_clean(printed, report)


def test_collect_from_a_folder_copies_plain_files_only(course, release_dir, tmp_path, capsys):
    inbox = write_class(tmp_path / "inbox", release_dir, tmp_path)
    (inbox / f"eve{ESCAPES}" / LESSON).mkdir(parents=True)
    shutil.copy(release_dir / LESSON / f"{LESSON}.ipynb", inbox / f"eve{ESCAPES}" / LESSON)
    (inbox / "linked-student").symlink_to(inbox / "ref", target_is_directory=True)
    collect(inbox)
    printed = capsys.readouterr().out
    check_collected(printed)
    assert "refused: eve\\x1b]0;pwned\\x07\\x1b[2J: has control characters in its name" in printed
    assert "refused: linked-student: is a symbolic link" in printed
    # the export: each attacker's results.json lists every task at 0, with the line saying why
    with gradebook() as gb:  # collect put every student it collected in the gradebook
        assert {"ref", *ATTACKERS} <= {student.id for student in gb.students}
    results = gradescope_results()
    for student in ATTACKERS:
        tests = results[student]["tests"]
        assert results[student]["score"] == 0 and len(tests) == len(lesson_tasks("01"))
        assert all(f"not graded: {student}/{LESSON}/{LESSON}.ipynb: is a" in t["output"] for t in tests)
    assert_clean(json.dumps(results, ensure_ascii=False))


def test_collect_from_a_zip_leaves_out_links_and_escaping_paths(course, release_dir, tmp_path, capsys):
    inbox = write_class(tmp_path / "inbox", release_dir, tmp_path)
    layout = {f"{s}/{LESSON}/{LESSON}.ipynb": (inbox / s / LESSON / f"{LESSON}.ipynb").read_bytes()
              for s in ("ref", "stub")}
    collect(zip_with_attacks(tmp_path / "class.zip", layout))
    printed = capsys.readouterr().out
    assert {str(p.relative_to(SUBMITTED)) for p in student_files_under(SUBMITTED)} == set(layout)
    assert f"refused: class.zip/mallory/{LESSON}/{LESSON}.ipynb: is a symbolic link" in printed
    assert printed.count("leaves the archive") == 2 and "has control characters in its name" in printed
    assert not (tmp_path / LESSON).exists() and not (tmp_path / "course" / LESSON).exists()
    mallory = next(r for r in report_rows() if r["student"] == "mallory")
    assert mallory["problem"] == (f"mallory/{LESSON}/{LESSON}.ipynb: is a symbolic link, not a regular file "
                                  "(submissions must be plain files)")
    assert_clean(printed)


# --- grade-class ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_grade_class_grades_plain_files_only(tmp_path, release_dir):
    inbox = write_class(tmp_path / "inbox", release_dir, tmp_path)
    (inbox / f"eve{ESCAPES}" / LESSON).mkdir(parents=True)
    shutil.copy(release_dir / LESSON / f"{LESSON}.ipynb", inbox / f"eve{ESCAPES}" / LESSON)
    out = tmp_path / "out"
    done = run(sys.executable, "-m", "autograder", "grade-class", "--from", str(inbox), "--out", str(out),
               "--jobs", "2", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "grades.csv", newline="") as f:
        scores = {row["student"]: float(row["total"]) for row in csv.DictReader(f)}
    assert scores == {"ref": TOTAL, "stub": 0.0, **{s: 0.0 for s in ATTACKERS}}
    for student in ATTACKERS:
        results = json.loads((out / student / "results.json").read_text())
        assert all(f"not graded: {student}/{LESSON}/{LESSON}.ipynb: is a" in t["output"] for t in results["tests"])
        assert f"refused: {student}/{LESSON}/{LESSON}.ipynb" in done.stdout
    assert "refused: eve\\x1b]0;pwned\\x07\\x1b[2J: has control characters in its name" in done.stdout
    assert_clean(done.stdout, done.stderr, *(p.read_bytes() for p in files_under(out)))


# --- the whole nbgrader cycle: collect, autograde, export -----------------------------------------

@pytest.mark.nbgrader
@pytest.mark.slow
def test_nbgrader_cycle_grades_plain_files_and_logs_no_escapes(tmp_path, release_dir):
    """make collect FROM=dir, make autograde, make export on the class above, plus `escaper` (the
    reference with a cell whose grade id is full of terminal escapes), `eve<escapes>` (refused at
    collect) and `planted`, a link put straight into submitted/ after collect (PlainFileExporter)."""
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / LESSON, course / "solutions" / LESSON)
    (course / ".nbgrader").mkdir()
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "MPLBACKEND": "Agg"}
    outputs = []

    def cli(*args):
        done = run(sys.executable, *args, cwd=course, env=env, timeout=600)
        assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        outputs.extend([done.stdout, done.stderr])
        return done

    cli("-m", "nbgrader", "generate_assignment", LESSON, "--force", "--log-level=WARN")
    inbox = write_class(tmp_path / "inbox", release_dir, tmp_path)
    escaper = nbformat.read(inbox / "ref" / LESSON / f"{LESSON}.ipynb", as_version=4)
    demo = next(c for c in escaper.cells if c.cell_type == "code" and "nbgrader" not in c.metadata)
    # nbgrader logs a grade id it does not know, then drops it; the cell stays a demo, the grade full.
    # (An unknown grade id on a solution cell fails nbgrader's metadata check: not graded, as before.)
    demo.metadata["nbgrader"] = {"grade_id": ESCAPES, "grade": False, "solution": False, "locked": False,
                                 "schema_version": 3}
    (inbox / "escaper" / LESSON).mkdir(parents=True)
    nbformat.write(escaper, inbox / "escaper" / LESSON / f"{LESSON}.ipynb")
    (inbox / f"eve{ESCAPES}" / LESSON).mkdir(parents=True)
    shutil.copy(release_dir / LESSON / f"{LESSON}.ipynb", inbox / f"eve{ESCAPES}" / LESSON)
    collected = cli("-m", "autograder.instructor", "collect", str(inbox))
    for student in ATTACKERS:
        assert f"refused: {student}/{LESSON}/{LESSON}.ipynb: is a" in collected.stdout
    planted = course / ".nbgrader" / "submitted" / "planted" / LESSON
    planted.mkdir(parents=True)
    (planted / f"{LESSON}.ipynb").symlink_to(host_file(tmp_path))

    report = cli("-m", "autograder.instructor", "autograde", "--jobs", "2").stdout
    cli("-m", "autograder.instructor", "export")

    with open(course / ".nbgrader" / "grades.csv", newline="") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert scores == {"ref": TOTAL, "escaper": TOTAL, "stub": 0.0, "planted": 0.0, **{s: 0.0 for s in ATTACKERS}}
    lines = {line.split()[0]: line for line in report.splitlines() if line.split() and line.split()[0] in scores}
    for student in ATTACKERS:
        assert f"NOT GRADED: {student}/{LESSON}/{LESSON}.ipynb: is a" in lines[student]
    assert f"NOT GRADED: {LESSON}.ipynb is a symbolic link" in lines["planted"]
    for student in ("planted", *ATTACKERS):
        result = json.loads((course / ".nbgrader" / "gradescope" / student / "results.json").read_text())
        assert result["score"] == 0 and all("not graded: " in t["output"] for t in result["tests"])
    logs = [p.read_bytes() for p in (course / ".nbgrader" / "logs").glob("*")]
    assert any(b"\\x1b]0;pwned\\x07" in log for log in logs)  # nbgrader did log the grade id: escaped
    written = [p.read_bytes() for p in files_under(course / ".nbgrader")
               if p.suffix in (".log", ".csv", ".json", ".txt") or p.parent.name == "logs"]
    assert_clean(*outputs, *logs, *written)


@pytest.mark.parametrize("name", ["=HYPERLINK(\"x\",\"a\")", "+1", "-2", "@SUM(A1)", "eve\x1b[2J", "*", "a,b", "[ab]c"])
def test_a_student_id_a_spreadsheet_would_run_or_a_terminal_obey_is_refused(name, tmp_path):
    from autograder.grade_class import students_in
    from autograder.submission_files import student_id_problem

    assert student_id_problem(name) and student_id_problem("alice") is None and student_id_problem("a-b=c") is None
    (tmp_path / name / LESSON).mkdir(parents=True)
    (tmp_path / "alice" / LESSON).mkdir(parents=True)
    (tmp_path / "alice" / LESSON / f"{LESSON}.ipynb").write_text("{}")
    students, refused = students_in(tmp_path)
    assert [s.name for s in students] == ["alice"] and [r.path for r in refused] == [name]
