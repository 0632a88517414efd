"""Autograde step, before execution: the kernel runs only what grading needs.

The kernel runs the set-up, solution and check cells, the same cells `make grade` loads. Demo cells
(no nbgrader metadata) are tagged skip-execution: in an unfinished notebook they raise
NotImplementedError, and one that calls a looping function would cost a whole cell timeout, while
no grade depends on them. GradeChecks removes the tag again.
"""

from __future__ import annotations

import time

from nbgrader.preprocessors import NbGraderPreprocessor

from .commands import FLAGS_KEY

SKIP_TAG = "skip-execution"  # nbclient leaves cells with this tag unexecuted


class SkipDemoCells(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        resources.setdefault(FLAGS_KEY, {})["started"] = time.monotonic()
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and not (meta.get("solution") or meta.get("locked") or meta.get("grade")):
                tags = cell.metadata.setdefault("tags", [])
                if SKIP_TAG not in tags:
                    tags.append(SKIP_TAG)
                    cell.metadata.setdefault(FLAGS_KEY, {})["skipped"] = True
        return nb, resources


def unskip(nb) -> None:
    """Undo SkipDemoCells (the autograded notebook keeps the student's cells as they were)."""
    for cell in nb.cells:
        extra = cell.metadata.get(FLAGS_KEY, {})
        if extra.pop("skipped", False):
            cell.metadata["tags"].remove(SKIP_TAG)
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]
        if FLAGS_KEY in cell.metadata and not extra:
            del cell.metadata[FLAGS_KEY]
