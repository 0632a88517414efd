"""Command line: `python -m autograder grade|fixtures ...` (the Makefile's grade and fixtures)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .paths import REPO_ROOT, lesson_id


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade every task and print the score table")
    grade.add_argument("--source", default="lessons", help="lessons (default), solutions, or a folder of lessons")
    grade.add_argument("--lesson", action="append", help="grade only this lesson (NN); may repeat")
    grade.add_argument("--results", type=Path, default=REPO_ROOT / "build" / "results.json",
                       help="where to write Gradescope's results.json (default build/results.json)")
    grade.add_argument("--jail", default="auto", choices=("auto", "bwrap", "landlock", "limits"),
                       help="how student code is isolated (default: the strongest this machine offers)")

    klass = commands.add_parser("grade-class", help="grade every student folder in a directory (make grade's grader)")
    klass.add_argument("--from", dest="folder", type=Path, required=True,
                       help="a folder of <student>/<NN_slug>/<NN_slug>.ipynb (like nbgrader's submitted/)")
    klass.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "class",
                       help="where grades.csv and <student>/results.json go (default build/class)")
    klass.add_argument("--jobs", type=int, help="students graded at once (default: the number of cores)")
    klass.add_argument("--jail", default="auto", choices=("auto", "bwrap", "landlock", "limits"))

    board = commands.add_parser("leaderboard", help="the capstone leaderboard: retrain and rank a class's runs "
                                                    "(autograder/leaderboard/)")
    board.add_argument("--from", dest="folder", type=Path, required=True,
                       help="a folder of <student>/ folders, each with its lesson folders and capstone_run.json")
    board.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "leaderboard",
                       help="where the table, the figure and <student>/results.json go (default build/leaderboard)")
    board.add_argument("--jail", default="auto", choices=("auto", "bwrap", "landlock", "limits"))
    board.add_argument("--no-references", action="store_true", help="skip training the course's presets")

    fixtures = commands.add_parser("fixtures", help="regenerate reference outputs from solutions/")
    fixtures.add_argument("--lesson", action="append", help="only this lesson (NN); may repeat")

    args = parser.parse_args(argv)
    lessons = [lesson_id(x) for x in args.lesson] if getattr(args, "lesson", None) else None

    if args.command == "grade":
        from .jail.client import JailUnavailable, choose, prestart
        from .source import Source

        source = Source.parse(args.source)
        try:
            prestart(choose(args.jail), [source.root])  # the jail starts while torch is imported here
        except JailUnavailable as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        from .grade import grade_report
        from .report import results_json, table, write_results

        report = grade_report(source, lessons, jail=args.jail)
        names = {lid: folder.name for lid, folder in source.lessons().items()}
        print(table(report.verdicts, names, str(report.isolation)))
        write_results(results_json(report.verdicts, isolation=str(report.isolation), visible=report.visible),
                      args.results)
        print(f"(results written to {args.results})")
        return 0

    if args.command == "grade-class":
        from .grade_class import grade_class

        results = grade_class(args.folder, args.out, args.jobs, args.jail)
        print(f"{len(results)} student(s) graded: {args.out / 'grades.csv'}, {args.out}/<student>/results.json")
        return 0

    if args.command == "leaderboard":
        from .leaderboard.rank import rank_class

        _, text = rank_class(args.folder, args.out, jail=args.jail, references=not args.no_references)
        print(text + f"\n(written to {args.out}: leaderboard.txt, val_curves.png, <student>/results.json)")
        return 0

    from .fixtures import fixture_path, write
    from .tasks import all_tasks

    for lesson in sorted({t.lesson for t in all_tasks()} if lessons is None else lessons):
        write(lesson)
        print(f"wrote {fixture_path(lesson).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
