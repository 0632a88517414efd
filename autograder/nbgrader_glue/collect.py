"""`make collect` (python -m autograder.instructor collect FROM [--lesson NN] [--roster CSV]): a folder or
a .zip of submissions into .nbgrader/submitted/, plain files only, stamped as `nbgrader submit` stamps
them, the students put in the gradebook."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from .. import submission_files
from ..printable import printable
from ..submission_files import Refused, extract_plain
from . import refused_files, stamps
from .commands import course_config
from .students import name_students, roster_problem
from .workspace import LESSON_DIR, SUBMITTED, WORK, InstructorError, lesson_names, run_nbgrader


def copy_submitted_layout(root: Path) -> list[str]:
    """Copy <root>/<student>/<NN_slug>/... into .nbgrader/submitted/; returns 'student/lesson' done.

    Only regular files are copied (autograder/submission_files.py): a link, a hard link, a pipe or
    a device is left out with one line naming it, and recorded for the report (refused_files.py).
    Each submission gets the time it was collected and a secret, as `nbgrader submit` gives (stamps.py)."""
    done, when = [], stamps.now()
    for student in sorted(root.iterdir()):
        if student.name.startswith(".") or not (student.is_dir() or student.is_symlink()):
            continue
        why = submission_files.student_id_problem(student.name) or (
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
    why = inbox_problem(source)
    if why:
        raise InstructorError(why)
    why = roster and roster_problem(roster)
    if why:
        raise InstructorError(printable(why))
    collect_files(source, lesson)
    if roster:
        run_nbgrader("db", "student", "import", str(roster), "--log-level=WARN")
    config = course_config()
    name_students(config["db_url"], config["course_id"], sorted({p.parent.name for p in SUBMITTED.glob("*/*")
                                                                 if p.is_dir()}))


def inbox_problem(source: Path) -> str | None:
    """Why `source` cannot be a class's submissions, or None. The course folder itself looks like one
    (lessons/NN_slug/, solutions/NN_slug/): an empty FROM= must not collect the reference solutions
    as a student called "solutions", nor .nbgrader/ collect itself."""
    course, where = Path.cwd().resolve(), source.resolve()
    if where == course or where in course.parents:
        return (f"{printable(source)} is the course folder (or holds it), not a folder of submissions: "
                "make collect FROM=DIR (a folder of <student>/<NN_slug>/) or FROM=FILE.zip")
    if where == WORK.resolve() or WORK.resolve() in where.parents:
        return f"{printable(source)} is inside {WORK}/, where collect writes: collect from a folder outside it"
    return None


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
