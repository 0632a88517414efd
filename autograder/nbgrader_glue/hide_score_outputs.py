"""Autograde step (right after SaveAutoGrades) and feedback step: no raw score under a check cell.

GradeChecks writes each check cell's points as an execute_result, because that is where nbgrader's
SaveAutoGrades reads partial credit (the number a grade cell evaluates to). Once SaveAutoGrades has
put it in the gradebook the number has done its job; left in the notebook it shows as a bare
`Out[7]: 0.0` under every check, on the feedback page and in formgrader, next to the verdict line
that already says PASS/FAIL and the cell header that already gives the score. This step drops the
execute_result of check cells (grade cells that are not solution cells); the verdict line, a stream,
stays.

Order matters: it must come after SaveAutoGrades in the autograde pipeline, because nbgrader gives a
grade cell with neither an execute_result nor an error full marks. In generate_feedback (which reads
scores from the gradebook, never from outputs) it cleans notebooks autograded before this step existed.
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution


class HideScoreOutputs(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell):
            cell.outputs = [output for output in cell.get("outputs", []) if output.get("output_type") != "execute_result"]
        return cell, resources
