"""ReleaseEachFeedback: `nbgrader release_feedback` releases every page it can, and names the rest.

nbgrader's release_feedback reads timestamp.txt and submission_secret.txt from each student's
feedback folder (autograde and generate_feedback copy them from the submission) and stops with
FileNotFoundError at the first student without them, releasing nobody after. Submissions collected
before `make collect` wrote those files (stamps.py) lack them. This release leaves such a student
out with one warning line saying what to do, and releases the rest of the class; formgrader's
Release Feedback button runs the same code.

nbgrader_config.py names it: c.ExchangeFactory.release_feedback = "autograder.nbgrader_glue.exchange_release_feedback.ReleaseEachFeedback".
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback

from ..printable import printable
from .stamps import SECRET, TIMESTAMP


class ReleaseEachFeedback(ExchangeReleaseFeedback):

    def copy_files(self):
        left_out = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        for page in sorted(glob.glob(os.path.join(self.src_path, "*.html"))):
            folder = Path(page).parent
            missing = [name for name in (TIMESTAMP, SECRET) if not (folder / name).is_file()]
            student = folder.parent.name
            if missing and student not in left_out:
                left_out.add(student)
                self.log.warning(printable(
                    f"{student}/{folder.name}: feedback not released, its folder has no {' or '.join(missing)} "
                    f"(collected before `make collect` wrote them): collect it again, then "
                    f"`make autograde FORCE=1` and `make feedback`"))
        self.coursedir.student_id_exclude = ",".join(sorted(left_out))
        super().copy_files()
