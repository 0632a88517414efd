"""The course's glue to nbgrader: commands, configuration and plug-ins, one per file.

Release (generate_assignment):
  check_cells.CheckCells                     check cells' source, grade_id and points from the task registry
  task_stubs.TaskStubs                       stubs name their task: NotImplementedError("01.encode: <hint>")
Autograde, reading:
  plain_file_exporter.PlainFileExporter      a submitted notebook is read only if it is a plain file
Autograde, sanitize steps:
  restore_deleted_cells.RestoreDeletedCells  a deleted locked cell comes back from the gradebook
  flag_edited_cells.FlagEditedCells          records locked cells a student edited or deleted
Autograde, steps:
  jailed_execute.JailedExecute               optional (OUTPUTS=1): a jailed kernel runs a copy without hidden
                                             tests or demo cells, for the printed outputs only
  grade_checks.GradeChecks                   check cells scored by the course's grader (hidden tests too):
                                             the one run of student code that grading needs
  hide_score_outputs.HideScoreOutputs        after SaveAutoGrades: the raw points under a check cell go
  inert_student_content.InertStudentContent  last: no script in outputs, markdown or metadata (formgrader shows it)
Feedback:
  hide_hidden_tests.HideHiddenTests          no hidden test text in what students get back
  inert_student_content.InertStudentContent  the page holds no script a student wrote (again: older notebooks)
  hide_score_outputs.HideScoreOutputs        no bare `Out[7]: 0.0` under a check (older notebooks)
  name_check_cells.NameCheckCells            each check cell carries its task id, for the page's headings
  math_as_mathml.MathAsMathML                math drawn as MathML: the page needs no MathJax, works offline
  templates/feedback/                        the page itself: nbgrader's layout, tasks named, lines wrapped, no script
Collect:
  lesson_file_collector.LessonFileCollector  zip_collect for files named <student>_<NN_slug>.ipynb
  exchange_collect.PlainFilesCollect         `nbgrader collect` from an exchange copies plain files only
Exchange:
  exchange_release_feedback.ReleaseEachFeedback  `nbgrader release_feedback` releases every student it can

commands.py runs nbgrader's command line and reads nbgrader_config.py; release.py is `make release`,
instructor.py the command line of the instructor's targets, one module each: collect.py, autograde.py
(and the report), feedback.py (and the hidden-text leak check), export.py, sharing workspace.py (the
folders under .nbgrader/, the gradebook); refused_files.py keeps
what collecting left out, for the report; exchange.py says where nbgrader's exchange is (both config
files read it) and makes it (`make exchange`); stamps.py writes the timestamp and secret `nbgrader
submit` would have into what `make collect` collects; students.py names the students in the gradebook.
"""
