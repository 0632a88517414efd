"""Instructor glue around the real nbgrader command line (the Makefile's collect/autograde/feedback/export).

Run from the course root (the folder holding nbgrader_config.py); everything is written under
.nbgrader/ there. Each command is a thin wrapper over one nbgrader command, in a module of its own;
this file only reads the command line. What the commands share (the folders, the gradebook) is in
workspace.py.

    python -m autograder.instructor exchange                      # nbgrader's exchange: exchange.py
    python -m autograder.instructor collect FROM [--lesson NN] [--roster CSV]      # collect.py
    python -m autograder.instructor autograde [--lesson NN] [--student ID] [--force] [--unsafe] [--jobs N]
                                                                  # autograde.py, then the report
    python -m autograder.instructor feedback [--lesson NN]        # generate_feedback + leak check: feedback.py
    python -m autograder.instructor export                        # grades.csv, results.json, report: export.py
    python -m autograder.instructor report                        # the report alone: autograde.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import exchange
from .commands import course_config
from .workspace import InstructorError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.instructor", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("exchange", help="create nbgrader's exchange ($GPT_COURSE_EXCHANGE, else .nbgrader/exchange)")
    p = commands.add_parser("collect", help="copy submissions (folder or zip) into .nbgrader/submitted/")
    p.add_argument("source", type=Path, help="a folder <student>/<NN_slug>/, or a zip (that layout, or <student>_<NN_slug>.ipynb files)")
    p.add_argument("--lesson", help="only this lesson (zip_collect)")
    p.add_argument("--roster", type=Path, help="a CSV of students (id,first_name,last_name,email) for the gradebook")
    p = commands.add_parser("autograde", help="nbgrader autograde, then the report")
    p.add_argument("--lesson")
    p.add_argument("--student")
    p.add_argument("--force", action="store_true", help="regrade submissions that are already autograded")
    p.add_argument("--unsafe", action="store_true", help="grade even without the bubblewrap jail")
    p.add_argument("--jobs", type=int, help="nbgrader processes grading at once (default: the number of cores)")
    p = commands.add_parser("feedback", help="nbgrader generate_feedback, checked for hidden test text")
    p.add_argument("--lesson")
    commands.add_parser("export", help="grades CSV, Gradescope results.json per student, report")
    commands.add_parser("report", help="scores, edited locked cells, notebooks that could not be graded")
    args = parser.parse_args(argv)
    # Each command imports its own module only: `autograde` then starts its nbgrader processes
    # without first importing what export needs (torch, through the report), seconds on 2 cores.
    try:
        if args.command == "exchange":
            root = Path(course_config()["exchange"])
            print("\n".join(exchange.create(root, course_config()["course_id"])))
            return 0
        if args.command == "collect":
            from .collect import collect

            collect(args.source, args.lesson, args.roster)
            return 0
        if args.command == "autograde":
            from .autograde import autograde

            return autograde(args.lesson, args.student, args.force, args.unsafe, args.jobs)
        if args.command == "feedback":
            from .feedback import feedback

            return feedback(args.lesson)
        if args.command == "export":
            from .export import export

            return export()
        from .autograde import format_report, report_rows

        print(format_report(report_rows()))
        return 0
    except InstructorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
