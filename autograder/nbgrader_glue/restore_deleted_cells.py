"""Autograde, sanitize step (before OverwriteCells): a locked cell the student deleted comes back.

nbgrader's OverwriteCells restores locked cells that are *there*; a deleted check cell would simply
be missing, and its task would score nothing. This inserts each deleted locked cell again, from the
gradebook's copy of the release, at its released position (after the cell that precedes it in the
release), so it is graded like an edited one. FlagEditedCells has already put it on the report.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from .commands import course_config
from .flag_edited_cells import is_solution_cell, source_cells


class RestoreDeletedCells(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        present = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        with Gradebook(info["db_url"]) as gb:
            originals = source_cells(gb, info)
            missing = [name for name, cell in originals.items()
                       if cell.locked and name not in present and not is_solution_cell(gb, info, name)]
            order = release_order(info, originals)
            for name in sorted(missing, key=lambda n: order.index(n) if n in order else len(order)):
                original = originals[name]
                grade = graded_cell(gb, info, name) if original.cell_type == "code" else None
                make = new_code_cell if original.cell_type == "code" else new_markdown_cell
                meta = {"nbgrader": {"grade_id": name, "locked": True, "solution": False, "task": False,
                                     "grade": grade is not None, "schema_version": 3}}
                if grade is not None:
                    meta["nbgrader"]["points"] = grade.max_score
                cell = make(original.source, metadata=meta)
                cell.metadata["nbgrader"]["checksum"] = original.checksum
                nb.cells.insert(released_position(nb, order, name), cell)
                self.log.warning("%s deleted locked cell %s of %s: restored", info["student"], name,
                                 info["assignment"])
        return nb, resources


def graded_cell(gb: Gradebook, info: dict, name: str):
    """The grade cell of that name (its points), or None for a locked cell that is not graded (set-up)."""
    try:
        return gb.find_graded_cell(name, info["notebook"], info["assignment"])
    except MissingEntry:
        return None


def release_order(info: dict, originals: dict) -> list[str | None]:
    """The released notebook's grade ids, one per cell (None where a cell has none): the gradebook
    keeps no order, so read the released notebook. Without it, the gradebook's cells in its order."""
    path = Path(course_config()["release"]) / info["assignment"] / f"{info['notebook']}.ipynb"
    try:
        cells = nbformat.read(path, as_version=4).cells
    except (OSError, ValueError):
        return list(originals)
    return [c.metadata.get("nbgrader", {}).get("grade_id") or None for c in cells]


def released_position(nb, order: list[str | None], name: str) -> int:
    """Where a deleted cell goes back: after the last cell that precedes it in the release; with none
    there (a first set-up cell), at its released index, but never after a cell that follows it."""
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    if name not in order:
        return len(nb.cells)
    index = order.index(name)
    before = [ids.index(b) + 1 for b in order[:index] if b and b in ids]
    if before:
        return max(before)
    return min([ids.index(a) for a in order[index + 1:] if a and a in ids] + [index, len(nb.cells)])
