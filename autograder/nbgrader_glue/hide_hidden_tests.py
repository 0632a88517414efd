"""Feedback step: no hidden test text in what a student gets back.

nbgrader's feedback shows the autograded notebook, in which the check cells hold their hidden tests
again (nbgrader issues #917, #1363). This removes the hidden regions from the source (nbgrader's
ClearHiddenTests), and replaces any output of such a cell that quotes a hidden line by a short
note. (The outputs cannot quote them otherwise: hidden tests never ran in the kernel, see
StripHiddenTests.)
"""

from __future__ import annotations

import json

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
                if any(line in json.dumps(output) or line in str(output) for line in secret):
                    output = new_output("stream", name="stdout", text="(output of a hidden check, not shown)\n")
                outputs.append(output)
            cell.outputs = outputs
        return cell, resources
