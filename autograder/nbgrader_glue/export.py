"""`make export` (python -m autograder.instructor export): nbgrader's grades.csv, a Gradescope
results.json per student (from the verdicts GradeChecks recorded, with formgrader's manual scores),
and the report as .nbgrader/report.txt."""

from __future__ import annotations

import dataclasses
import json

import nbformat

from ..paths import lesson_id
from ..report import results_json
from ..run import FAILED, PASSED, Verdict
from ..tasks import lesson_tasks
from . import refused_files
from .autograde import format_report, graded_record, notebook_problem, report_rows
from .cells import check_task_id
from .workspace import AUTOGRADED, SUBMITTED, WORK, gradebook, run_nbgrader


def manual_scores(submitted_notebook, student: str, name: str) -> dict[str, float]:
    """{task id: score} for each check cell whose score was set by hand (formgrader's manual grade)."""
    changed = {grade.name: grade.manual_score for grade in submitted_notebook.grades if grade.manual_score is not None}
    if not changed:
        return {}
    path = AUTOGRADED / student / name / f"{submitted_notebook.name}.ipynb"
    tasks = {cell.metadata["nbgrader"]["grade_id"]: check_task_id(cell)
             for cell in nbformat.read(path, as_version=4).cells if check_task_id(cell)}
    return {tasks[grade_id]: float(score) for grade_id, score in changed.items() if grade_id in tasks}


def with_manual_score(verdict: Verdict, score: float) -> tuple[Verdict, str]:
    """The task's verdict with the score an instructor gave it, and the line that says so."""
    if score == verdict.points:
        return verdict, ""
    note = f"Score set by the instructor: {score:g}/{verdict.max_points:g} (autograded: {verdict.points:g})."
    status = PASSED if score >= verdict.max_points else FAILED
    return dataclasses.replace(verdict, points=score, status=status), note


def gradescope_results() -> dict[str, dict]:
    """{student: Gradescope results.json} from the verdicts GradeChecks recorded, scored as in the gradebook
    (a task's score changed by hand in formgrader replaces autograde's, with a note)."""
    results = {}
    with gradebook() as gb:
        for student in gb.students:
            verdicts, visible, jails, notes = [], {}, set(), {}
            for assignment in gb.assignments:
                try:
                    submission = gb.find_submission(assignment.name, student.id)
                except Exception:  # noqa: BLE001 - MissingEntry: no submission, nothing to report
                    why = refused_files.reason(SUBMITTED, student.id, assignment.name, assignment.name)
                    if why:  # collect refused the notebook: each task 0, with the reason
                        verdicts += [Verdict(task.id, FAILED, 0.0, float(task.points), f"not graded: {why}")
                                     for task in lesson_tasks(lesson_id(assignment.name))]
                    continue
                for sub_nb in submission.notebooks:
                    record = graded_record(student.id, assignment.name, sub_nb.name)
                    if record is None or "verdicts" not in record:  # every task, each with the reason
                        why = f"not graded: {notebook_problem(SUBMITTED / student.id / assignment.name / f'{sub_nb.name}.ipynb')}"
                        verdicts += [Verdict(task.id, FAILED, 0.0, float(task.points), why)
                                     for task in lesson_tasks(lesson_id(assignment.name))]
                        continue
                    manual = manual_scores(sub_nb, student.id, assignment.name)
                    for verdict in (Verdict(**v) for v in record["verdicts"]):
                        if verdict.task in manual:
                            verdict, notes[verdict.task] = with_manual_score(verdict, manual[verdict.task])
                        verdicts.append(verdict)
                    visible.update({v["task"]: Verdict(**v) for v in record.get("visible", [])})
                    jails.add(record.get("isolation", ""))
            result = results_json(verdicts, isolation="; ".join(sorted(j for j in jails if j)), visible=visible)
            for test in result["tests"]:  # the scored test of each task changed by hand says so
                if notes.get(test["name"]):
                    test["output"] = f"{test['output']}\n{notes[test['name']]}"
            results[student.id] = result
    return results


def export() -> int:
    csv_path = WORK / "grades.csv"
    run_nbgrader("export", f"--to={csv_path}")
    for student, result in gradescope_results().items():
        path = WORK / "gradescope" / student / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    report = format_report(report_rows())
    (WORK / "report.txt").write_text(report + "\n")
    print(report)
    print(f"grades: {csv_path}\nGradescope: {WORK / 'gradescope'}/<student>/results.json\nreport: {WORK / 'report.txt'}")
    return 0
