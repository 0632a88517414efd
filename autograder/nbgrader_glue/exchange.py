"""nbgrader's exchange for this course: where it is, for instructors and students alike, and `make exchange`.

nbgrader's exchange is a folder every student can write into (release_assignment puts lessons in
<root>/<course>/outbound, `nbgrader submit` hands work in to <root>/<course>/inbound, collect takes
it from there, release_feedback puts pages in <root>/<course>/feedback). nbgrader looks for it at
/usr/local/share/nbgrader/exchange unless told otherwise, and JupyterLab's Assignment List learns
the course and the exchange from config files only. Both config files -- nbgrader_config.py at the
course root (instructors) and jupyter/student/nbgrader_config.py (the students' `make lab`) -- call
configure() here, so the course id and the exchange are written once:

    GPT_COURSE_EXCHANGE=/srv/nbgrader/exchange   a shared exchange (a JupyterHub; docs/instructors.md)
    (unset)                                      <course>/.nbgrader/exchange, for one machine (git-ignored)

`make exchange` (python -m autograder.instructor exchange) creates it with the modes nbgrader's
own commands give each folder, so students can submit and formgrader can release before anything
has been released from this machine.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

COURSE_ID = "gpt-from-scratch"
ROOT_VARIABLE = "GPT_COURSE_EXCHANGE"

# nbgrader's modes (exchange/default/release_assignment.py, release_feedback.py): anyone may enter
# the root and create in it; the course folder and outbound are readable by all, writable by their
# owner; inbound is write-only for others (no student can list or read a classmate's submission),
# set-group-id so submissions get the instructor's group;
# feedback can be entered but not listed (a page is found only by the hash a student's secret gives).
ROOT_MODE = 0o777
COURSE_MODES = {".": 0o755, "outbound": 0o755, "inbound": 0o2733, "feedback": 0o711}


def exchange_root(course_dir: Path | str) -> Path:
    """The exchange folder: $GPT_COURSE_EXCHANGE, else .nbgrader/exchange in the course folder."""
    chosen = os.environ.get(ROOT_VARIABLE, "").strip()
    return Path(chosen).expanduser().absolute() if chosen else Path(course_dir).absolute() / ".nbgrader" / "exchange"


def configure(c, course_dir: Path | str) -> None:
    """Set nbgrader's course id and exchange root in a config object (an nbgrader_config.py's `c`)."""
    c.CourseDirectory.course_id = COURSE_ID
    c.Exchange.root = str(exchange_root(course_dir))


def create(root: Path, course_id: str = COURSE_ID) -> list[str]:
    """Make the exchange and the course's folders in it with nbgrader's modes; the lines to print.

    A folder that exists keeps its owner; its mode is set when it is ours (on a shared exchange the
    folders made by another instructor are left alone, and named)."""
    lines = []
    folders = [(root, ROOT_MODE)] + [(root / course_id / name, mode) for name, mode in COURSE_MODES.items()]
    for folder, mode in folders:
        folder = Path(os.path.normpath(folder))
        existed = folder.is_dir()
        folder.mkdir(parents=True, exist_ok=True)
        if folder.stat().st_uid == os.getuid():
            os.chmod(folder, mode)  # mkdir's mode is cut by the umask; 0733 and 0777 need chmod
        elif stat.S_IMODE(folder.stat().st_mode) != mode:
            lines.append(f"note: {folder} belongs to another user; its mode is "
                         f"{stat.S_IMODE(folder.stat().st_mode):o}, nbgrader expects {mode:o}")
        lines.append(f"{'exists ' if existed else 'created'} {stat.S_IMODE(folder.stat().st_mode):04o} {folder}")
    return lines
