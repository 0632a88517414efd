"""zip_collect: files named <student>_<NN_slug>.ipynb (any folders above) -> submitted/<student>/<NN_slug>/.

A student id taken from a file name is refused as collect refuses a folder name
(submission_files.student_id_problem): control characters, or a formula for grades.csv."""

from __future__ import annotations

import os

from nbgrader.plugins import FileNameCollectorPlugin

from ..submission_files import Refused, student_id_problem


class LessonFileCollector(FileNameCollectorPlugin):
    def collect(self, submitted_file):
        info = super().collect(submitted_file)
        if info:
            why = student_id_problem(info["student_id"])
            if why:  # nbgrader skips a file its collector returns nothing for
                print(Refused(os.path.basename(submitted_file), f"the student name {why}").line())
                return None
            info["file_id"] = os.path.basename(info["file_id"])
        return info
