"""Feedback step: each check cell carries its task id, for the feedback page's headings.

nbgrader's feedback page names a grade cell by its kind ("Test cell") or its grade id
("check-01-encode"); a student knows the task as `01.encode`, the id in the stub's message, the
check cell and `make grade`'s table. This step reads the id from the check cell's own source
(`check("01.encode")`: a locked cell, restored from the gradebook by autograde's OverwriteCells, so
the instructor's text, not the student's) and records it in the cell's course metadata, where the
course's feedback template (autograder/nbgrader_glue/templates/feedback/) reads it.
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

from .cells import check_task_id
from .commands import FLAGS_KEY


class NameCheckCells(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, cell_index):
        task = check_task_id(cell)
        if task:
            cell.metadata.setdefault(FLAGS_KEY, {})["task"] = task
        return cell, resources
