"""nbgrader plug-ins for this course (configured in nbgrader_config.py).

Release (generate_assignment):
  TaskStubs          released stubs name their task and give a hint: nbgrader's fixed stub
                     `raise NotImplementedError()` becomes e.g.
                     raise NotImplementedError("01.encode: look up each character of text in stoi")
Autograde:
  FlagEditedCells    records locked cells a student edited or deleted (before nbgrader restores them)
  SkipDemoCells      the kernel runs only set-up, solution and check cells
  GradeChecks        scores each check cell with the course's own grader, as `make grade` does
Feedback:
  HideHiddenTests    no hidden test text in the student's feedback
Collect:
  LessonFileCollector  zip_collect for files named <student>_<NN_slug>.ipynb
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_output
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import FileNameCollectorPlugin
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions, NbGraderPreprocessor
from nbgrader.utils import compute_checksum, is_grade, is_locked, is_solution

from .paths import lesson_id
from .tasks import lesson_tasks

STUB = "raise NotImplementedError()"
DEFINITION = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+(\w+)")


def enclosing_name(lines: list[str], index: int) -> str:
    """'Head.forward' for a line inside method forward of class Head; '' at top level."""
    indent = len(lines[index]) - len(lines[index].lstrip())
    names = []
    for line in reversed(lines[:index]):
        match = DEFINITION.match(line)
        if match and len(match.group(1)) < indent:
            names.append(match.group(3))
            indent = len(match.group(1))
            if indent == 0:
                break
    return ".".join(reversed(names))


def stub_message(lesson: str, name: str) -> str:
    tasks = {t.target: t for t in lesson_tasks(lesson)}
    for candidate in (name, name.split(".")[0]):
        if candidate in tasks:
            task = tasks[candidate]
            return f"{task.id}: {task.hint}"
    return f"{lesson}: fill in {name or 'this cell'}"


class TaskStubs(ClearSolutions):
    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.cell_type == "code" and STUB in cell.source:
            lesson = lesson_id(resources["nbgrader"]["assignment"])
            lines = cell.source.split("\n")
            for i, line in enumerate(lines):
                if line.strip() == STUB:
                    message = stub_message(lesson, enclosing_name(lines, i))
                    lines[i] = line.replace(STUB, f"raise NotImplementedError({message!r})")
            cell.source = "\n".join(lines)
        return cell, resources


SKIP_TAG = "skip-execution"  # nbclient leaves cells with this tag unexecuted
CHECK_CALL = re.compile(r"""^\s*check\(\s*["'](\d\d\.[\w.]+)["']\s*\)\s*$""", re.MULTILINE)
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
FLAGS_KEY = "gpt_course"  # notebook metadata key where autograde records what it noticed


def check_task_id(cell) -> str | None:
    """'01.encode' for a check cell `check("01.encode")` (hidden tests may surround it)."""
    if cell.cell_type != "code" or not is_grade(cell):
        return None
    match = CHECK_CALL.search(cell.source)
    return match.group(1) if match else None


def without_hidden_tests(source: str) -> str:
    """The source as released: hidden test regions (and their marker lines) removed."""
    kept, hiding = [], False
    for line in source.split("\n"):
        if HIDDEN_BEGIN in line:
            hiding = True
        elif HIDDEN_END in line:
            hiding = False
        elif not hiding:
            kept.append(line)
    return "\n".join(kept)


def hidden_lines(source: str) -> list[str]:
    """The non-blank lines inside hidden test regions."""
    released = set(without_hidden_tests(source).split("\n"))
    return [line.strip() for line in source.split("\n")
            if line.strip() and line not in released and HIDDEN_BEGIN not in line and HIDDEN_END not in line]


class FlagEditedCells(NbGraderPreprocessor):
    """Sanitize step, before OverwriteCells: record locked cells the student changed or deleted.

    A cell counts as edited when nbgrader's checksum of it no longer matches the checksum stored at
    release, or when its source differs from the released source kept in the gradebook (which also
    catches a student who rewrote the checksum). OverwriteCells then restores the original, so the
    grade is unaffected; the record (notebook metadata `gpt_course.edited_locked_cells`) puts the
    student on the instructor's report (`python -m autograder.instructor report`).
    """

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        seen, edited = set(), []
        with Gradebook(info["db_url"]) as gb:
            try:
                source_cells = {c.name: c for c in gb.find_notebook(info["notebook"], info["assignment"]).source_cells}
            except MissingEntry:
                source_cells = {}
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                grade_id = meta.get("grade_id")
                if not grade_id or not (is_locked(cell) or is_grade(cell)) or is_solution(cell):
                    continue
                seen.add(grade_id)
                original = source_cells.get(grade_id)
                checksum_changed = "checksum" in meta and meta["checksum"] != compute_checksum(cell)
                source_changed = (original is not None and
                                  without_hidden_tests(original.source).strip() != cell.source.strip())
                if checksum_changed or source_changed:
                    edited.append(grade_id)
            for name, original in source_cells.items():
                if original.locked and name not in seen and not _is_solution_source(gb, info, name):
                    edited.append(f"{name} (deleted)")
        if edited:
            self.log.warning("%s edited locked cell(s) of %s: %s (restored before grading)",
                             info["student"], info["assignment"], ", ".join(edited))
        nb.metadata[FLAGS_KEY] = {"edited_locked_cells": edited}
        return nb, resources


def _is_solution_source(gb, info, name) -> bool:
    try:
        gb.find_solution_cell(name, info["notebook"], info["assignment"])
        return True
    except MissingEntry:
        return False


class SkipDemoCells(NbGraderPreprocessor):
    """Autograde step, before Execute: run only what grading needs.

    The kernel runs the set-up, solution and check cells, the same cells `make grade` loads. Demo
    cells (no nbgrader metadata) are tagged skip-execution: in an unfinished notebook they raise
    NotImplementedError, and one that calls a looping function would cost a whole cell timeout,
    while no grade depends on them. GradeChecks removes the tag again.
    """

    def preprocess(self, nb, resources):
        resources.setdefault("gpt_course", {})["started"] = time.monotonic()
        # Nested load_lesson() calls in set-up cells use the reference lessons, as in `make grade`.
        os.environ.setdefault("GPT_COURSE_SOURCE", "solutions")
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and not (meta.get("solution") or meta.get("locked") or meta.get("grade")):
                tags = cell.metadata.setdefault("tags", [])
                if SKIP_TAG not in tags:
                    tags.append(SKIP_TAG)
                    cell.metadata.setdefault(FLAGS_KEY, {})["skipped"] = True
        return nb, resources


class GradeChecks(NbGraderPreprocessor):
    """Autograde step, after Execute: score every check cell with the course's own grader.

    Under autograde, `check()` in the kernel does nothing but write a note to stderr (which nbgrader
    scores 0, so a pipeline without this step fails closed). This step grades the notebook with
    `autograder.grade` -- the code path of `make grade`: every task in its own sandboxed child with a
    time limit, compared against the fixtures in this process -- and writes each check cell's output:
    the verdict line and the points as a number, which nbgrader reads as partial credit. Scores
    therefore equal `make grade`'s for the same notebook, and a student cannot fake them from the
    kernel (e.g. by redefining check). If the cell's hidden tests failed in the kernel, the task
    scores 0 and the output says so without quoting them.
    """

    def preprocess(self, nb, resources):
        from .check import Points, summary
        from .grade import grade

        for cell in nb.cells:  # undo SkipDemoCells
            extra = cell.metadata.get(FLAGS_KEY, {})
            if extra.pop("skipped", False):
                cell.metadata["tags"].remove(SKIP_TAG)
                if not cell.metadata["tags"]:
                    del cell.metadata["tags"]
            if FLAGS_KEY in cell.metadata and not extra:
                del cell.metadata[FLAGS_KEY]

        checks = [(cell, check_task_id(cell)) for cell in nb.cells]
        checks = [(cell, tid) for cell, tid in checks if tid]
        if not checks:
            return nb, resources
        info = resources["nbgrader"]
        folder = info["assignment"]
        with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
            path = Path(tmp) / folder / f"{folder}.ipynb"
            path.parent.mkdir()
            nbformat.write(nb, path)
            lessons = sorted({tid.split(".")[0] for _, tid in checks})
            verdicts = {v.task: v for v in grade(tmp, lessons)}

        earned = possible = 0.0
        for cell, tid in checks:
            verdict = verdicts.get(tid)
            hidden_failed = HIDDEN_BEGIN in cell.source and any(o.output_type == "error" for o in cell.outputs)
            if verdict is None:
                text, points = f"FAIL {tid}: no such task in the course's checks (0 points)", 0.0
            elif hidden_failed:
                text = f"FAIL {tid}: failed a hidden check (0/{verdict.max_points:g} points)"
                points = 0.0
            else:
                text, points = summary(verdict), verdict.points
            earned += points
            possible += verdict.max_points if verdict else 0.0
            cell.outputs = [new_output("stream", name="stdout", text=text + "\n"),
                            new_output("execute_result", data={"text/plain": repr(Points(points))},
                                       execution_count=cell.get("execution_count"))]
        seconds = time.monotonic() - resources.get("gpt_course", {}).get("started", time.monotonic())
        nb.metadata.setdefault(FLAGS_KEY, {})["autograde_seconds"] = round(seconds, 2)
        self.log.info("graded %s/%s: %g/%g points in %.1f s", info["student"], folder, earned, possible, seconds)
        return nb, resources


class HideHiddenTests(ClearHiddenTests):
    """Feedback step: strip hidden tests from the student's feedback, outputs included.

    nbgrader's feedback shows the autograded notebook, into which autograde restored the hidden
    tests (nbgrader issues #917, #1363). This removes the hidden regions from the source, and any
    output of such a cell that quotes a hidden line (e.g. a traceback) is replaced by a short note.
    """

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


class LessonFileCollector(FileNameCollectorPlugin):
    """zip_collect: files named <student>_<NN_slug>.ipynb (any folders above) -> submitted/."""

    def collect(self, submitted_file):
        info = super().collect(submitted_file)
        if info:
            info["file_id"] = os.path.basename(info["file_id"])
        return info
