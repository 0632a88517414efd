"""Autograde step, before execution: hidden tests leave the notebook before any student code runs.

nbgrader's OverwriteCells has put each check cell back as released *with* its hidden tests; run in
the student's kernel, a student's earlier cell could watch them run and print them (base64, say)
into an output the feedback shows, or make a failing assertion pass. So the kernel never gets them:
this step removes the hidden regions (nbgrader's own ClearHiddenTests logic) and keeps the original
sources in `resources`; GradeChecks runs them in a jail of its own and puts the sources back.
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

from .cells import hidden_code, without_hidden_tests
from .commands import FLAGS_KEY


class StripHiddenTests(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        originals = resources.setdefault(FLAGS_KEY, {}).setdefault("hidden", {})
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and hidden_code(cell.source).strip():
                originals[index] = cell.source
                cell.source = without_hidden_tests(cell.source)
        return nb, resources
