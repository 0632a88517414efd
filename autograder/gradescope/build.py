"""`make gradescope [LESSON=NN]`: build/gradescope/<lesson or course>.zip, a Gradescope autograder.

Laid out as Gradescope's autograder specification asks: setup.sh and run_autograder at the root,
the rest beside them (Gradescope unpacks it all into /autograder/source). It holds what grading
needs and nothing more:

    setup.sh, run_autograder, README.txt     what Gradescope runs, and how to set it up
    requirements.lock, python-version        the exact packages and Python minor version
    autograder/                              the checks, their fixtures, the jail, this runner
    datasets/fetch.py, SHA256SUMS            Tiny Shakespeare and GPT-2's BPE files, verified
    course.json                              the lessons, their folders, the hidden tests
    reference.bin                            earlier lessons, compiled (for lessons that build on them)

No solution source: students never see the zip, and results.json carries verdicts only (hidden
tests' results only after grades are published).
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path


from ..nbgrader_glue.cells import hidden_tests
from ..paths import REPO_ROOT, lesson_id
from ..reference import CompiledLessons
from ..source import Source
from ..tasks import all_tasks

FILES = Path(__file__).resolve().parent / "files"
OUT = REPO_ROOT / "build" / "gradescope"
README = """Gradescope autograder for {name} (course "gpt-from-scratch"), built from the course repository.

On Gradescope (Programming Assignment -> Configure Autograder):
  1. Autograder: "Zip file upload", this zip. Base image: Ubuntu 22.04 (setup.sh takes Python {python}
     from its apt; on images without it, from uv).
  2. Timeout: {timeout} minutes; memory: {memory} GB. That is three times an allowance of {seconds} s a
     submission, set generously for Gradescope's shared containers, not measured: `make bench-grading`
     measures what one submission takes on your machine.
  3. Students upload their notebook(s) ({files}); any file name works: each notebook is
     matched to its lesson by its check cells.

What students see: one test per task (e.g. 01.encode) with the verdict line. Tasks with hidden
checks show their visible checks' verdict at once and their score only after grades are published.
The run's output names the jail student code ran in.
"""


def build(lessons: list[str] | None = None, source: Source | None = None, out: Path = OUT,
          seconds_per_submission: float = 60.0, capstone: dict | None = None) -> Path:
    """The zip for `lessons`, or for the capstone leaderboard when lessons == ["capstone"]
    (`capstone`: its course.json record, else leaderboard/gradescope.py trains the reference entries)."""
    source = source or Source.parse("solutions")
    if lessons and [str(x) for x in lessons] == ["capstone"]:
        from ..leaderboard import gradescope as board

        course = capstone or board.course_record(source)
        reference, name = board.compiled_reference(source), board.NAME
        files = "the lesson notebooks the capstone trains with, and capstone_run.json"
        seconds_per_submission = max(seconds_per_submission, 600.0)
    else:
        graded = sorted({t.lesson for t in all_tasks()} & set(source.lessons()))
        chosen = sorted({lesson_id(x) for x in lessons}) if lessons else graded
        missing = [lid for lid in chosen if lid not in graded]
        if missing:
            raise SystemExit(f"no graded lesson {', '.join(missing)} in {source}")
        folders = {lid: source.lessons()[lid].name for lid in chosen}
        name = folders[chosen[0]] if len(chosen) == 1 else "course"
        reference = CompiledLessons.for_lesson(source, chosen[-1])
        course = {"lessons": chosen, "folders": folders, "hidden": hidden_tests(source, chosen)}
        files = ", ".join(f"{f}.ipynb" for f in folders.values())
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}.zip"
    minutes = max(5, int(seconds_per_submission * 3 / 60) + 1)
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"  # the compiled reference needs this minor version
    readme = README.format(name=name, python=python, timeout=minutes, memory=3, seconds=int(seconds_per_submission),
                           files=files)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for script in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(script)
            info.external_attr = 0o755 << 16  # Gradescope runs them as they are
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (FILES / script).read_text())
        zf.writestr("README.txt", readme)
        zf.writestr("python-version", python + "\n")
        zf.writestr("course.json", json.dumps(course, indent=1))
        zf.writestr("reference.bin", reference.to_bytes())
        zf.write(REPO_ROOT / "requirements.lock", "requirements.lock")
        for path in sorted((REPO_ROOT / "autograder").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(REPO_ROOT).as_posix())
        for name_ in ("fetch.py", "SHA256SUMS", "README.md"):
            zf.write(REPO_ROOT / "datasets" / name_, f"datasets/{name_}")
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", action="append",
                        help="only this lesson (NN); may repeat (default: all); capstone: the leaderboard")
    parser.add_argument("--source", default="solutions", help="the course's source notebooks (default solutions)")
    args = parser.parse_args(argv)
    target = build(args.lesson, Source.parse(args.source))
    print(f"wrote {target}\n" + zipfile.ZipFile(target).read("README.txt").decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
