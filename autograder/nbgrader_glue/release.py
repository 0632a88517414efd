"""`make release`: regenerate lessons/ from solutions/ with the real `nbgrader generate_assignment`.

A student's work is never lost: a lesson notebook that differs from the committed release (the
student has been working in it) is left alone, and the command stops, unless --force is given,
in which case the notebook is copied to build/lesson-backups/ first.

    python -m autograder.release [--lesson NN] [--force] [--out DIR]
    python -m autograder.release --check      # maintainers and CI: is lessons/ a fresh release?
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..paths import REPO_ROOT, lesson_id
from ..source import lesson_dirs
from .commands import environment, nbgrader

LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                "BEGIN MARK SCHEME", "END MARK SCHEME")


class ReleaseError(RuntimeError):
    pass


def committed_version(path: Path, repo: Path = REPO_ROOT) -> bytes | None:
    """The file as committed in git's HEAD, or None when it is not tracked (or there is no git)."""
    try:
        rel = path.resolve().relative_to(repo.resolve())
        return subprocess.run(["git", "show", f"HEAD:{rel.as_posix()}"], cwd=repo,
                              capture_output=True, check=True).stdout
    except (ValueError, OSError, subprocess.CalledProcessError):
        return None


def edited_files(folder: Path, repo: Path = REPO_ROOT) -> list[Path]:
    """Files in a released lesson folder that differ from their committed version."""
    edited = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            if committed_version(path, repo) != path.read_bytes():
                edited.append(path)
    return edited


def generate(assignment: str, out_dir: Path, db_dir: Path) -> None:
    """Run nbgrader generate_assignment into out_dir/<assignment> ("*" releases every lesson in one run)."""
    result = nbgrader("generate_assignment", assignment, "--force", f"--CourseDirectory.release_directory={out_dir}",
                      f"--CourseDirectory.db_url=sqlite:///{db_dir / 'gradebook.db'}", "--log-level=WARN",
                      cwd=REPO_ROOT, capture=True, echo=False, env=environment())
    if result.returncode != 0:
        raise ReleaseError(f"nbgrader generate_assignment {assignment} failed:\n{result.stdout}{result.stderr}")


def leaks(folder: Path) -> list[str]:
    return [f"{path}: contains {marker!r}" for path in sorted(folder.rglob("*.ipynb"))
            for marker in LEAK_MARKERS if marker in path.read_text(encoding="utf-8")]


def release(lessons: list[str] | None = None, force: bool = False, out: Path | None = None,
            log=print, root: Path = REPO_ROOT) -> list[Path]:
    """Release lessons from solutions/ into root/lessons (or `out`); root is the repo (tests change it)."""
    sources = lesson_dirs("solutions")
    chosen = sorted(sources) if not lessons else [lesson_id(x) for x in lessons]
    missing = [x for x in chosen if x not in sources]
    if missing:
        raise ReleaseError(f"no such lesson in solutions/: {', '.join(missing)}")
    target_root = Path(out) if out else root / "lessons"

    if out is None:  # only the real lessons/ folder holds student work
        edited = [p for x in chosen if (target_root / sources[x].name).exists()
                  for p in edited_files(target_root / sources[x].name, root)]
        if edited and not force:
            raise ReleaseError(
                "refusing to overwrite lessons that differ from the committed release (your work?):\n  "
                + "\n  ".join(str(p.relative_to(root)) for p in edited)
                + "\nCommit or move them, or run `make release FORCE=1` to back them up and regenerate.")
        if edited:
            backup = root / "build" / "lesson-backups" / time.strftime("%Y%m%d-%H%M%S")
            for path in edited:
                copy = backup / path.relative_to(root)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, copy)
            log(f"backed up {len(edited)} edited file(s) to {backup.relative_to(root)}")

    written = []
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        staging = Path(tmp) / "release"
        # The real release records its cells in the course gradebook (autograde needs them there).
        db_dir = root / ".nbgrader" if out is None else Path(tmp)
        db_dir.mkdir(exist_ok=True)
        # One nbgrader run for the whole course is much faster than one per lesson.
        for assignment in ["*"] if chosen == sorted(sources) else [sources[x].name for x in chosen]:
            generate(assignment, staging, db_dir)
        for lid in chosen:
            name = sources[lid].name
            fresh = staging / name
            problems = leaks(fresh)
            if problems:
                raise ReleaseError("the release would leak solution text:\n  " + "\n  ".join(problems))
            target = target_root / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(fresh, target)
            written.append(target)
            log(f"released {name} -> {target}")
    return written


def differences(lessons: Path, fresh: Path) -> list[str]:
    """How the lesson folders under `lessons` differ from the release under `fresh` ([] if they do not).

    Notebooks are compared as JSON (key order and indentation aside); other files byte for byte.
    """
    found = []
    for folder in sorted(p for p in Path(fresh).iterdir() if p.is_dir()):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(fresh)
            mine = Path(lessons) / rel
            if not mine.exists():
                found.append(f"{rel} missing")
            elif path.suffix == ".ipynb":
                try:
                    same = json.loads(mine.read_text(encoding="utf-8")) == json.loads(path.read_text(encoding="utf-8"))
                except ValueError:
                    same = False
                if not same:
                    found.append(f"{rel} differs")
            elif mine.read_bytes() != path.read_bytes():
                found.append(f"{rel} differs")
        for path in sorted(p for p in (Path(lessons) / folder.name).rglob("*") if p.is_file()):
            if ".ipynb_checkpoints" not in path.parts and not (Path(fresh) / path.relative_to(lessons)).exists():
                found.append(f"{path.relative_to(lessons)} is not in the release")
    extra = sorted(set(lesson_dirs(lessons)) - set(lesson_dirs(fresh)))
    found += [f"{lesson_dirs(lessons)[x].name}/ is not in the release" for x in extra]
    return found


def check(root: Path = REPO_ROOT) -> list[str]:
    """differences(root/lessons, a fresh release made in a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="check-release-") as tmp:
        release(out=Path(tmp), log=lambda message: None, root=root)
        return differences(root / "lessons", Path(tmp))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", action="append", help="release only this lesson (NN); may repeat")
    parser.add_argument("--force", action="store_true", help="overwrite edited lessons (after backing them up)")
    parser.add_argument("--out", type=Path, help="write the release here instead of lessons/")
    parser.add_argument("--check", action="store_true",
                        help="change nothing: fail if lessons/ differs from a fresh release (maintainers, CI)")
    args = parser.parse_args(argv)
    if args.check:
        found = check()
        if found:
            print("lessons/ differs from a fresh release of solutions/ (run `make release FORCE=1`, "
                  "then commit lessons/):\n  " + "\n  ".join(found), file=sys.stderr)
            return 1
        print("lessons/ equals a fresh release of solutions/")
        return 0
    try:
        release(args.lesson, args.force, args.out)
    except ReleaseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
