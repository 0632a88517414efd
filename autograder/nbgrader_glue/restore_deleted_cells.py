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
from nbgrader.api import Gradebook
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
                grade = gb.find_graded_cell(name, info["notebook"], info["assignment"]) if original.cell_type == "code" \
                    else None
                make = new_code_cell if original.cell_type == "code" else new_markdown_cell
                meta = {"nbgrader": {"grade_id": name, "locked": True, "solution": False, "task": False,
                                     "grade": grade is not None, "schema_version": 3}}
                if grade is not None:
                    meta["nbgrader"]["points"] = grade.max_score
                cell = make(original.source, metadata=meta)
                cell.metadata["nbgrader"]["checksum"] = original.checksum
                before = order[:order.index(name)] if name in order else []
                ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
                position = max((ids.index(b) + 1 for b in before if b in ids), default=len(nb.cells))
                nb.cells.insert(position, cell)
                self.log.warning("%s deleted locked cell %s of %s: restored", info["student"], name,
                                 info["assignment"])
        return nb, resources



def release_order(info: dict, originals: dict) -> list[str]:
    """Grade ids in released order: the gradebook keeps no order, so read the released notebook."""
    path = Path(course_config()["release"]) / info["assignment"] / f"{info['notebook']}.ipynb"
    try:
        cells = nbformat.read(path, as_version=4).cells
    except (OSError, ValueError):
        return list(originals)
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells
            if c.metadata.get("nbgrader", {}).get("grade_id")]
