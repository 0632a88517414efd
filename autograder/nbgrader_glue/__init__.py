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
  skip_demo_cells.SkipDemoCells              the kernel runs set-up, solution and check cells only
  strip_hidden_tests.StripHiddenTests        hidden tests leave the notebook before it runs
  jailed_execute.JailedExecute               nbgrader's Execute, with the kernel in the jail
  grade_checks.GradeChecks                   check cells scored by the course's grader (hidden tests too)
  inert_student_content.InertStudentContent  last: no script in outputs, markdown or metadata (formgrader shows it)
Feedback:
  hide_hidden_tests.HideHiddenTests          no hidden test text in what students get back
  inert_student_content.InertStudentContent  the page holds no script a student wrote (again: older notebooks)
Collect:
  lesson_file_collector.LessonFileCollector  zip_collect for files named <student>_<NN_slug>.ipynb
  exchange_collect.PlainFilesCollect         `nbgrader collect` from an exchange copies plain files only

commands.py runs nbgrader's command line and reads nbgrader_config.py; release.py is `make release`,
instructor.py the instructor's targets (collect, autograde, feedback, export); refused_files.py keeps
what collecting left out, for the report.
"""
