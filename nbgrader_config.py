"""nbgrader configuration for this course (read by every `nbgrader ...` run from the repo root).

The course layout maps onto nbgrader's folders: solutions/ is nbgrader's "source" (instructor
notebooks with solution markers), lessons/ its "release" (what students get).
"""

from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme, ClearOutput,
                                    ComputeChecksums, IncludeHeaderFooter, InstantiateTests, LockCells,
                                    SaveCells)

from autograder.nbgrader_ext import TaskStubs

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file

c.CourseDirectory.course_id = "gpt-from-scratch"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.db_url = "sqlite:///.nbgrader/gradebook.db"  # a real SQLite file, git-ignored

# Released stubs name their task and carry a hint (see autograder/nbgrader_ext.py).
c.ClearSolutions.code_stub = {"python": "raise NotImplementedError()"}
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter, InstantiateTests, LockCells, TaskStubs, ClearOutput, CheckCellMetadata,
    ComputeChecksums, SaveCells, ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata,
]

# A check cell that runs longer than this fails instead of stalling a whole class's autograde.
c.Execute.timeout = 60
