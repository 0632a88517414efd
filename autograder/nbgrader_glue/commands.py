"""Running nbgrader, and what nbgrader_config.py says: the one place both are done."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from ..paths import REPO_ROOT

FLAGS_KEY = "gpt_course"  # notebook metadata key where the course's plug-ins record what they found


def environment(**extra: str) -> dict[str, str]:
    """nbgrader runs `alembic` from PATH when it makes a gradebook: put this environment's bin first."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "MPLBACKEND": "Agg", **extra}


def nbgrader(*args: str, cwd: Path | None = None, capture: bool = False, echo: bool = True,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`nbgrader ARGS` with this environment's Python; never raises for nbgrader's exit code."""
    if echo:
        print("$ nbgrader " + " ".join(args), flush=True)
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env or environment(),
                          capture_output=capture, text=True)


@functools.lru_cache(maxsize=None)
def course_config(root: Path = Path(".")) -> dict[str, str]:
    """course_id, db_url, the exchange and the folders from nbgrader_config.py (read as nbgrader reads it)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = Path(root) / "nbgrader_config.py"
    if not path.exists():
        path = REPO_ROOT / "nbgrader_config.py"
    loader = PyFileConfigLoader(path.name, path=str(path.parent))
    config: Config = loader.load_config()
    course = config.CourseDirectory
    return {"course_id": course.get("course_id", ""), "db_url": course.get("db_url", ""),
            "exchange": config.Exchange.get("root", ""),
            "source": course.get("source_directory", "source"), "release": course.get("release_directory", "release"),
            "submitted": course.get("submitted_directory", "submitted"),
            "autograded": course.get("autograded_directory", "autograded"),
            "feedback": course.get("feedback_directory", "feedback")}
