"""What collecting left out of each submission, kept next to nbgrader's submitted/ for the report.

`make collect` and the exchange's collect (exchange_collect.py) copy only plain files into
submitted/<student>/<lesson>/ (autograder/submission_files.py); each file they refuse is recorded
here, in <submitted>/../refused.json, so the report after autograde and the exported results.json
say why that student's notebook was not graded, not merely that it is missing. Collecting a
student's lesson again replaces its record.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..submission_files import Refused


def record_file(submitted) -> Path:
    return Path(submitted).parent / "refused.json"


def load(submitted) -> dict[tuple[str, str], list[Refused]]:
    """{(student, lesson): [Refused, ...]} for every collected lesson that had files left out."""
    path = record_file(submitted)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {tuple(key.split("/", 1)): [Refused(*pair) for pair in pairs] for key, pairs in data.items()}


def record(submitted, student: str, lesson: str, refused: list[Refused]) -> None:
    """Keep what was left out of this student's lesson (nothing: forget an earlier record)."""
    everything = load(submitted)
    everything.pop((student, lesson), None)
    if refused:
        everything[student, lesson] = refused
    data = {f"{s}/{n}": [[r.path, r.why] for r in rs] for (s, n), rs in sorted(everything.items())}
    path = record_file(submitted)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")


def reason(submitted, student: str, lesson: str, notebook: str) -> str | None:
    """Why this notebook was left out when it was collected, in one printable line, or None."""
    for refused in load(submitted).get((student, lesson), []):
        if refused.path in (".", f"{notebook}.ipynb"):
            return refused.line(f"{student}/{lesson}").removeprefix("refused: ")
    return None
