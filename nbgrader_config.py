"""nbgrader configuration for this course (read by every `nbgrader ...` run from the repo root).

The course layout maps onto nbgrader's folders: solutions/ is nbgrader's "source" (instructor
notebooks with solution markers), lessons/ its "release" (what students get). Everything nbgrader
writes while grading a class lives under .nbgrader/ (git-ignored): the gradebook, submitted/,
autograded/, feedback/, downloaded/ (zip_collect), and the exports of `make export`.
The plug-ins named here are in autograder/nbgrader_glue/, one per file; the instructor's make targets
(collect, autograde, feedback, export) are thin wrappers in autograder/nbgrader_glue/, one module each
(instructor.py reads their command line).
"""

import os
from pathlib import Path

import nbgrader
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                    ClearOutput, ComputeChecksums, DeduplicateIds, GetGrades, IgnorePattern,
                                    IncludeHeaderFooter, InstantiateTests, LimitOutput, LockCells, OverwriteCells,
                                    OverwriteKernelspec, SaveAutoGrades, SaveCells)

import autograder.nbgrader_glue
from autograder.nbgrader_glue import exchange
from autograder.nbgrader_glue.check_cells import CheckCells
from autograder.nbgrader_glue.flag_edited_cells import FlagEditedCells
from autograder.nbgrader_glue.grade_checks import GradeChecks
from autograder.nbgrader_glue.hide_hidden_tests import HideHiddenTests
from autograder.nbgrader_glue.hide_score_outputs import HideScoreOutputs
from autograder.nbgrader_glue.inert_student_content import InertStudentContent
from autograder.nbgrader_glue.jailed_execute import JailedExecute
from autograder.nbgrader_glue.lesson_file_collector import LessonFileCollector
from autograder.nbgrader_glue.math_as_mathml import MathAsMathML
from autograder.nbgrader_glue.name_check_cells import NameCheckCells
from autograder.nbgrader_glue.plain_file_exporter import PlainFileExporter
from autograder.nbgrader_glue.restore_deleted_cells import RestoreDeletedCells
from autograder.nbgrader_glue.task_stubs import TaskStubs

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file

# The course id and nbgrader's exchange ($GPT_COURSE_EXCHANGE, else .nbgrader/exchange here; `make
# exchange` creates it): set in autograder/nbgrader_glue/exchange.py, which the students' config
# (jupyter/student/nbgrader_config.py) reads too.
exchange.configure(c, course_dir=Path(__file__).resolve().parent)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.submitted_directory = ".nbgrader/submitted"
c.CourseDirectory.autograded_directory = ".nbgrader/autograded"
c.CourseDirectory.feedback_directory = ".nbgrader/feedback"
c.CourseDirectory.db_url = "sqlite:///.nbgrader/gradebook.db"  # a real SQLite file, git-ignored

# Check cells get their source, grade_id and points from the task registry (check_cells.py);
# released stubs name their task and carry a hint (task_stubs.py).
c.ClearSolutions.code_stub = {"python": "raise NotImplementedError()"}
c.GenerateAssignment.preprocessors = [
    CheckCells, IncludeHeaderFooter, InstantiateTests, LockCells, TaskStubs, ClearOutput, CheckCellMetadata,
    ComputeChecksums, SaveCells, ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata,
]

# nbgrader logs grade ids and cell sources from students' notebooks: control characters in them
# (terminal escapes) are written as visible escapes, on the console and in any log file after it.
c.Application.logging_config = {
    "filters": {"printable": {"()": "autograder.printable.PrintableLogRecords"}},
    "handlers": {"console": {"filters": ["printable"]}},
}

# Students' files are read only when they are plain files, never through a link (second line of
# defence: collect copies plain files only), and a broken notebook's bytes are never quoted.
c.Autograde.exporter_class = PlainFileExporter
# `nbgrader collect` from an exchange: plain files only, each one left out named in one line; the
# students it collects go into the gradebook named (students.py).
c.ExchangeFactory.collect = "autograder.nbgrader_glue.exchange_collect.PlainFilesCollect"
# `nbgrader release_feedback` (and formgrader's button) releases every student it can, naming any
# whose feedback folder lacks the submission's timestamp and secret, instead of stopping at the first.
c.ExchangeFactory.release_feedback = "autograder.nbgrader_glue.exchange_release_feedback.ReleaseEachFeedback"

# Autograde: nbgrader's own steps, plus: note edited or deleted locked cells, and put deleted ones
# back, before OverwriteCells restores them; score check cells (and run the hidden tests) with the
# course's grader, in the jail (same verdicts as `make grade`): the one run of the student's code;
# last, once graded, make the student's outputs and markdown inert (no script reaches formgrader,
# which renders this notebook).
# Right after SaveAutoGrades has read each check's points from its output, that raw number goes
# (HideScoreOutputs: no bare `Out[7]: 0.0` in formgrader or on the feedback page).
c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, FlagEditedCells, RestoreDeletedCells, OverwriteCells,
    CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    JailedExecute, GradeChecks, IgnorePattern, ClearMetadataPreprocessor,
    LimitOutput, SaveAutoGrades, HideScoreOutputs, AssignLatePenalties, InertStudentContent, CheckCellMetadata,
]

# A second run of the student's code, in a Jupyter kernel in the jail, adds only what the set-up and
# solution cells printed to the autograded notebook (GradeChecks decides every score): off unless
# asked for -- `make autograde OUTPUTS=1`, or `nbgrader autograde --JailedExecute.enabled=True`.
c.JailedExecute.enabled = os.environ.get("GPT_COURSE_OUTPUTS", "") not in ("", "0")

# A cell that uses more CPU time than this is stopped (each check has its own, shorter limit:
# Task.timeout, 10 s by default); nbclient's wall-clock timeout follows from it (5x + 30 s) and only
# stops cells that sleep or block, so a busy machine does not fail a correct notebook.
c.JailedExecute.cpu_seconds_per_cell = 60

# Feedback never shows hidden tests (nbgrader restores them for autograde; see nbgrader #917, #1363),
# and student content is made inert again (a notebook autograded before that step, or edited since).
# nbconvert's own HTMLExporter.sanitize_html stays off: its bleach list escapes <p>, <th>, <img> and
# headings into visible tag text, and nbgrader's feedback template renders markdown cells without it.
# The page is the course's own feedback template (autograder/nbgrader_glue/templates/feedback/, found
# before nbgrader's template of the same name, so formgrader's Generate Feedback button uses it too):
# checks named by task id (NameCheckCells), long lines wrapped, no script; math rendered to MathML
# (MathAsMathML, after InertStudentContent) instead of MathJax from a CDN, so it works offline.
c.GenerateFeedback.preprocessors = [HideHiddenTests, GetGrades, InertStudentContent, HideScoreOutputs, NameCheckCells,
                                    MathAsMathML, CSSHTMLHeaderPreprocessor]
c.HTMLExporter.extra_template_basedirs = [str(Path(autograder.nbgrader_glue.__file__).parent / "templates"),
                                          str(Path(nbgrader.__file__).parent / "server_extensions/formgrader/templates")]

# zip_collect: an archive of files named <student>_<NN_slug>.ipynb, e.g. alice_01_chars.ipynb.
c.ZipCollectApp.downloaded_directory = ".nbgrader/downloaded"
c.ZipCollectApp.collector_plugin = LessonFileCollector
c.ZipCollectApp.strict = True  # skip files of other lessons when one archive holds several
c.FileNameCollectorPlugin.named_regexp = r"(?:.*/)?(?P<student_id>[^/]+?)_(?P<file_id>\d\d_[^/]+\.ipynb)$"
