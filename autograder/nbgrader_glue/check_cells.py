"""Release step: a check cell's source and grading metadata come from the task registry.

In solutions/ a check cell is a locked grade cell that says which task it checks, `check("01.encode")`,
and nothing more: its points and grade_id are written once, in the task's `@task` line
(autograder/checks/), and filled in here, as the stub messages are (task_stubs.py). The release stops
when a check cell names a task the registry does not know, a task of another lesson, or a task that
already has a check cell, and when a task of the lesson has no check cell at all.
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

from ..notebook import CHECK_CALL
from ..paths import lesson_id
from .cells import check_grade_id, check_source


class CheckCellError(ValueError):
    """A check cell in solutions/ that does not match the task registry."""


class CheckCells(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        # Imported here: the task registry imports torch (through the checks), and every nbgrader command
        # reads nbgrader_config.py, which imports this file.
        from ..tasks import REGISTRY, lesson_tasks

        lesson = lesson_id(resources["nbgrader"]["assignment"])
        tasks = {t.id: t for t in lesson_tasks(lesson)}
        seen: list[str] = []
        for index, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                continue
            match = CHECK_CALL.search(cell.source)
            if not match:
                continue  # a grade cell that is not a task's check (none today): nbgrader's own rules apply
            task_id = match.group(1)
            where = f"{resources['nbgrader']['assignment']}, cell {index}: check({task_id!r})"
            if task_id not in tasks:
                other = "of another lesson" if task_id in REGISTRY else "that no @task in autograder/checks/ defines"
                raise CheckCellError(f"{where} names a task {other}")
            if task_id in seen:
                raise CheckCellError(f"{where}: a second check cell for this task")
            seen.append(task_id)
            call = match.group(0).strip()  # written as the registry writes it (quotes, spaces)
            cell.source = cell.source[:match.start()] + match.group(0).replace(call, check_source(task_id)) \
                + cell.source[match.end():]
            meta["grade_id"] = check_grade_id(task_id)
            meta["points"] = tasks[task_id].points
            meta["locked"] = True
            cell.metadata["nbgrader"] = meta
        missing = [t for t in tasks if t not in seen]
        if missing:
            raise CheckCellError(f"{resources['nbgrader']['assignment']}: no check cell for "
                                 f"{', '.join(missing)} (add a locked grade cell `{check_source(missing[0])}`)")
        return nb, resources
