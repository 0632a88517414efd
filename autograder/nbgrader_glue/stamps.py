"""The two files nbgrader's exchange leaves in a submission, written by `make collect` too.

`nbgrader submit` writes, next to the student's notebooks:
  timestamp.txt          when it was handed in: autograde records it in the gradebook, `nbgrader
                         export` writes it to grades.csv, formgrader shows it (and late penalties
                         count from it);
  submission_secret.txt  a random secret: release_feedback names the student's page in the
                         exchange by a hash of it, which only that student's fetch_feedback finds.
Autograde and generate_feedback carry both along, and `nbgrader release_feedback` stops with
FileNotFoundError at the first submission without them. `make collect` (from a folder or a zip)
writes both for each submission it collects: the time is when it was collected, and the secret is
new. A timestamp.txt or secret a student put among their own files is replaced: the time of a
submission is the trusted side's to say.
"""

from __future__ import annotations

import datetime
import secrets
from pathlib import Path

TIMESTAMP, SECRET = "timestamp.txt", "submission_secret.txt"
# nbgrader's Exchange.timestamp_format and timezone (UTC), so nbgrader's parse_utc reads it back.
FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime(FORMAT)


def stamp(submission: Path, when: str | None = None, *, replace: bool = True) -> None:
    """Write timestamp.txt and a new submission_secret.txt into a collected submission's folder.

    replace=False keeps the ones nbgrader wrote (zip_collect writes a timestamp when its file names
    carry one) and fills in only what is missing."""
    submission = Path(submission)
    for name, text in ((TIMESTAMP, when or now()), (SECRET, secrets.token_hex(64))):
        target = submission / name
        if not replace and target.is_file() and not target.is_symlink():
            continue
        if target.is_symlink() or target.exists():
            target.unlink()  # collect copies plain files only, but never write through what was there
        target.write_text(text)
