"""Autograde, sanitize step (before OverwriteCells): note the locked cells a student edited or deleted.

A cell counts as edited when nbgrader's checksum of it no longer matches the one stored at release,
or when its source differs from the released source kept in the gradebook (which also catches a
student who rewrote the checksum). OverwriteCells then restores the original (RestoreDeletedCells
puts deleted ones back), so the grade is unaffected; the record (notebook metadata
`gpt_course.edited_locked_cells`) puts the student on the instructor's report.
"""

from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import compute_checksum, is_grade, is_locked, is_solution

from .cells import without_hidden_tests
from .commands import FLAGS_KEY


def source_cells(gb: Gradebook, info: dict) -> dict:
    """{grade id: SourceCell} of a notebook as released (hidden tests included), from the gradebook."""
    try:
        return {c.name: c for c in gb.find_notebook(info["notebook"], info["assignment"]).source_cells}
    except MissingEntry:
        return {}


def is_solution_cell(gb: Gradebook, info: dict, name: str) -> bool:
    try:
        gb.find_solution_cell(name, info["notebook"], info["assignment"])
        return True
    except MissingEntry:
        return False


class FlagEditedCells(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        seen, edited = set(), []
        with Gradebook(info["db_url"]) as gb:
            originals = source_cells(gb, info)
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                grade_id = meta.get("grade_id")
                if not grade_id or not (is_locked(cell) or is_grade(cell)) or is_solution(cell):
                    continue
                seen.add(grade_id)
                original = originals.get(grade_id)
                checksum_changed = "checksum" in meta and meta["checksum"] != compute_checksum(cell)
                source_changed = (original is not None and
                                  without_hidden_tests(original.source).strip() != cell.source.strip())
                if checksum_changed or source_changed:
                    edited.append(grade_id)
            for name, original in originals.items():
                if original.locked and name not in seen and not is_solution_cell(gb, info, name):
                    edited.append(f"{name} (deleted)")
        if edited:
            self.log.warning("%s edited locked cell(s) of %s: %s (restored before grading)",
                             info["student"], info["assignment"], ", ".join(edited))
        nb.metadata[FLAGS_KEY] = {"edited_locked_cells": edited}
        return nb, resources
