"""The capstone leaderboard on Gradescope: `make gradescope LESSON=capstone` and its run_autograder.

The zip is the course's usual autograder (gradescope/build.py: setup.sh, run_autograder, the
autograder package, the data fetcher) with a capstone course.json -- the rules it ranks by and the
reference entries, trained once when the zip is built -- and reference.bin, the compiled reference
lessons the judge evaluates with. A student uploads their lesson notebooks (any names: matched to
lessons by their check cells) and capstone_run.json; results.json gets a test per threshold and
Gradescope's `leaderboard` entries (val loss, parameters, preset).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

from ..jail.client import choose
from ..loader import Loader
from ..reference import CompiledLessons
from ..submission_files import copy_plain_tree
from . import rules as R
from .board import results_json
from .entry import REFUSED, Result, run_entry
from .judge import Reference

NAME = "capstone"


def rules_to_dict(rules: R.Rules) -> dict:
    return dataclasses.asdict(rules)


def rules_from_dict(data: dict) -> R.Rules:
    return R.Rules(**{**data, "thresholds": tuple(data["thresholds"])})


def course_record(source, rules: R.Rules = R.RULES, references: list[Result] | None = None) -> dict:
    """course.json for the capstone zip; trains the reference entries unless they are given."""
    if references is None:
        from .rank import reference_entries

        references = reference_entries(Reference.load(source), source, choose("auto"), rules)
    lessons = sorted(source.lessons())
    return {"capstone": {"rules": rules_to_dict(rules), "references": [r.to_dict() for r in references]},
            "lessons": [], "folders": {lid: source.lessons()[lid].name for lid in lessons}, "hidden": {}}


def compiled_reference(source) -> CompiledLessons:
    return CompiledLessons.compile(source, sorted(source.lessons()))


def grade_submission(root: Path, course: dict) -> dict:
    """run_autograder for the capstone: /autograder/submission -> results.json (a dict)."""
    from ..gradescope.uploads import lesson_of
    from ..gradescope.schema import validate

    started = time.monotonic()
    record = course["capstone"]
    rules = rules_from_dict(record["rules"])
    references = [Result(**r) for r in record["references"]]
    reference = Reference.load(CompiledLessons.read(root / "source" / "reference.bin"))
    loader = Loader()
    with tempfile.TemporaryDirectory(prefix="capstone-") as tmp:
        upload, entry = Path(tmp) / "upload", Path(tmp) / "entry"
        left_out = copy_plain_tree(root / "submission", upload)  # plain files only: no links, pipes or devices
        entry.mkdir()
        for path in sorted(upload.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            lesson, problem = lesson_of(path, loader)
            folder = course["folders"].get(lesson or "")
            if folder and not problem and not (entry / folder).exists():
                (entry / folder).mkdir()
                shutil.copy(path, entry / folder / f"{folder}.ipynb")
        for path in sorted(upload.rglob(R.RUN_FILE)):
            shutil.copy(path, entry / R.RUN_FILE)
            break
        refused_run = [item for item in left_out if Path(item.path).name == R.RUN_FILE]
        if refused_run and not (entry / R.RUN_FILE).exists():  # say why, not "no run file was submitted"
            result = Result("submission", REFUSED, refused_run[0].line().removeprefix("refused: "))
        else:
            result = run_entry(entry, "submission", reference, choose("auto"), rules)
    out = results_json(result, rules, references)
    out["execution_time"] = round(time.monotonic() - started, 1)
    out["stdout_visibility"] = "hidden"
    validate(out)
    return out
