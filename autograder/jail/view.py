"""What student code may read: one list, mounted by bubblewrap and granted by Landlock alike."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..paths import FIXTURES_DIR, REPO_ROOT, SHAKESPEARE

SYSTEM_LINKS = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf",
             "alternatives")


def python_paths() -> list[Path]:
    """The interpreter, its standard library and the environment's packages (real paths)."""
    paths = {Path(os.path.realpath(p)) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    paths.add(Path(os.path.realpath(sys.executable)).parent)
    return sorted(paths)


def system_paths() -> list[Path]:
    paths = [Path("/usr"), Path("/proc"), Path("/dev/urandom")] + [Path("/" + name) for name in SYSTEM_LINKS]
    return [p for p in paths + [Path("/etc") / name for name in ETC_FILES] if p.exists()]


def course_paths() -> list[Path]:
    """The course's public code (autograder/ without its fixtures) and Tiny Shakespeare."""
    code = [p for p in (REPO_ROOT / "autograder").iterdir() if p != FIXTURES_DIR]
    return code + [p for p in (SHAKESPEARE.parent,) if p.exists()]


def readable(extra=()) -> list[Path]:
    """Every path student code may read, for Landlock (bubblewrap mounts the same, see bwrap.py)."""
    return system_paths() + python_paths() + course_paths() + [Path(p) for p in extra]


def listable() -> list[Path]:
    """Folders whose names (not contents) may be listed: the way down to the readable course files."""
    return [REPO_ROOT, REPO_ROOT / "autograder"]
