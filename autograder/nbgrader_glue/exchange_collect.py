"""PlainFilesCollect: nbgrader's exchange collect (`nbgrader collect`), copying only plain files.

Students `nbgrader submit` into the exchange's inbound folder, where each of them can write; the
stock collect copies a submission with shutil.copytree, which follows links: a student's link to a
classmate's notebook is collected as their own work, a link to a file of this machine as its bytes.
This collect first copies the submission's regular files into a private folder
(autograder/submission_files.py) and hands nbgrader only that, so nbgrader's own rules (ignore,
include, size limits, permissions) apply to plain files. Each link, hard link, pipe or device
left out is one warning line naming the student and the file, and is recorded for the report
(refused_files.py); a submission whose student name has control characters is not collected.
The students collected go into the gradebook with a name to show (students.py: their id, unless a
roster or formgrader named them), not as formgrader's "None, None".

nbgrader_config.py names it: c.ExchangeFactory.collect = "autograder.nbgrader_glue.exchange_collect.PlainFilesCollect".
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect

from ..submission_files import Refused, copy_plain_tree, student_id_problem
from . import refused_files
from .students import name_students


class PlainFilesCollect(ExchangeCollect):

    def init_src(self):
        super().init_src()
        kept = []
        for record in self.src_records:
            why = student_id_problem(record["username"])
            if why:
                self.log.warning(Refused(record["filename"], f"the student name {why}").line())
            else:
                kept.append(record)
        self.src_records = kept

    def copy_files(self):
        super().copy_files()
        collected = sorted({record["username"] for record in self.src_records})
        if collected:
            name_students(self.coursedir.db_url, self.coursedir.course_id, collected)

    def do_copy(self, src, dest, log=None):
        dest = Path(dest)  # <submitted>/<student>/<assignment>
        student, assignment, submitted = dest.parent.name, dest.name, dest.parent.parent
        with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
            plain = Path(tmp) / "submission"
            refused = copy_plain_tree(src, plain)
            for item in refused:
                self.log.warning(item.line(f"{student}/{assignment}"))
            refused_files.record(submitted, student, assignment, refused)
            super().do_copy(str(plain), str(dest), log)
