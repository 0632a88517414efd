"""Feedback step: no hidden test text in what a student gets back.

nbgrader's feedback shows the autograded notebook, in which the check cells hold their hidden tests
again (nbgrader issues #917, #1363). This removes the hidden regions from the source (nbgrader's
ClearHiddenTests), and replaces any output of such a cell that quotes a hidden line by a short
note. (The outputs cannot quote them otherwise: hidden tests never ran where student code runs, see
GradeChecks and JailedExecute.)
"""

from __future__ import annotations

from nbconvert.filters import strip_ansi
from nbformat.v4 import new_output
from nbgrader.preprocessors import ClearHiddenTests

from .cells import hidden_lines


class HideHiddenTests(ClearHiddenTests):
    def preprocess_cell(self, cell, resources, cell_index):
        secret = hidden_lines(cell.source) if cell.cell_type == "code" else []
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if secret:
            outputs = []
            for output in cell.get("outputs", []):
                shown = output_text(output)
                if any(line in shown for line in secret):
                    output = new_output("stream", name="stdout", text="(output of a hidden check, not shown)\n")
                outputs.append(output)
            cell.outputs = outputs
        return cell, resources


def output_text(value) -> str:
    """Every string in an output (stream text, each MIME type's data, a traceback), as shown: without
    terminal colour codes, which would split a quoted line (json or repr would escape its quotes)."""
    if isinstance(value, str):
        return strip_ansi(value)
    if isinstance(value, dict):
        value = list(value.values())
    return "\n".join(output_text(item) for item in value) if isinstance(value, list) else ""
