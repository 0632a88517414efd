"""`make gradescope-fresh-root LESSON=NN`: the Gradescope zip set up and run on a bare Debian root.

Gradescope builds an image from its base (Ubuntu 22.04) by running the zip's setup.sh as root, then
grades each submission with run_autograder. This does the same on a root file system debootstrap
makes from Debian's packages (bookworm, minbase: no Python, no pip, no certificates; Ubuntu's archive
is out of reach of the course's machines), so a system package or a path that setup.sh forgot shows up
here rather than on an instructor's first upload:

1. the base root: `debootstrap --variant=minbase`, made once and kept in build/fresh-root/;
2. a throw-away copy of it, entered as root in its own mount and PID namespaces with pivot_root (not
   chroot: inside a chroot the kernel refuses the jail's user namespace; a container allows it), and
   the zip laid out as Gradescope does: /autograder/source (the zip), /autograder/setup.sh and
   run_autograder (copies), /autograder/submission, /autograder/results;
3. setup.sh, with this machine's pip settings passed as the standard PIP_* variables (the local files
   they name bound read-only) and Tiny Shakespeare's local copy as TINYSHAKESPEARE:
   setup.sh itself knows nothing of this check;
4. run_autograder on sample submissions, each results.json validated against Gradescope's format and
   its score checked: the reference (full marks), an untouched release (0, each task with its reason)
   and a hostile notebook (it forges results.json and hunts for the hidden tests: full marks for its
   answers, nothing written, nothing leaked).

The zip is `make gradescope LESSON=NN`'s, built from a copy of solutions/ with one hidden check
added, so the hostile notebook has something to hunt for.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from ..nbgrader_glue.cells import check_task_id
from ..paths import REPO_ROOT, lesson_id
from ..source import Source
from ..tasks import lesson_tasks
from .build import build
from .schema import validate

DEBIAN = ("bookworm", "http://deb.debian.org/debian")
CACHE = REPO_ROOT / "build" / "fresh-root"
MARK = "fresh-root-hidden-mark"
HIDDEN_TEST = f'### BEGIN HIDDEN TESTS\nassert "{MARK}"\n### END HIDDEN TESTS\n'
SHAKESPEARE = REPO_ROOT / "datasets" / "tinyshakespeare" / "input.txt"
# pip settings whose values are local paths or file:// URLs (bound into the root); the rest pass as they are
PATH_SETTINGS = {"cert", "client-cert", "constraint", "extra-index-url", "find-links", "index-url", "requirement"}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Runs as root in new mount and PID namespaces: mount what the root needs, pivot into it, drop the host.
ENTER = r'''set -eu
root=$1; shift; binds=$1; shift
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
while IFS='|' read -r host inside; do
    [ -n "$host" ] || continue
    if [ -d "$host" ]; then mkdir -p "$root$inside"; else mkdir -p "$(dirname "$root$inside")"; touch "$root$inside"; fi
    mount --bind "$host" "$root$inside"
    mount -o remount,bind,ro "$root$inside"
done < "$binds"
mkdir -p "$root/.host"
cd "$root"
pivot_root . .host
umount -l /.host
rmdir /.host
exec "$@"
'''

# The first code cell of the hostile submission: what a student could try from inside the notebook.
HOSTILE = '''import json, os, pathlib
FORGED = json.dumps({"score": 999.0, "tests": [{"name": "forged", "score": 999.0, "max_score": 1.0}]})
for _path in ("/autograder/results/results.json", "/autograder/results/forged.txt",
              "/autograder/source/course.json", "/autograder/run_autograder", "/autograder/forged.txt"):
    try:
        pathlib.Path(_path).write_text(FORGED)
    except Exception:
        pass
STOLEN = ""
for _dir, _, _names in os.walk("/autograder"):
    for _name in _names:
        try:
            STOLEN += pathlib.Path(_dir, _name).read_text(errors="replace")
        except Exception:
            pass
print(STOLEN)
if "hidden-mark" in STOLEN:
    raise RuntimeError(STOLEN)
'''


class CannotRun(RuntimeError):
    """This machine cannot make or enter a Debian root (the message says why, in one line)."""


class CheckFailed(RuntimeError):
    """setup.sh or run_autograder failed in the fresh root (the message holds the end of its output)."""


def why_not() -> str | None:
    """None where a fresh root can be made here; else the one-line reason."""
    if os.geteuid() != 0:
        return "not root (debootstrap, mount and pivot_root need root)"
    for tool in ("unshare", "mount", "pivot_root"):
        if shutil.which(tool) is None:
            return f"no {tool} (util-linux)"
    if shutil.which("debootstrap") is None and shutil.which("apt-get") is None:
        return "no debootstrap and no apt-get to install it"
    return None


def base_root(cache: Path = CACHE, log=print) -> Path:
    """A bare Debian root made by debootstrap, once: cache/<suite>-minbase (complete when its stamp is)."""
    suite, mirror = DEBIAN
    root = cache / f"{suite}-minbase"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two checks at once (make test and a make target) make it once
        if not (root / ".debootstrap-complete").exists():
            _debootstrap(root, log)
    return root


def _debootstrap(root: Path, log) -> None:
    suite, mirror = DEBIAN
    cache = root.parent
    if shutil.which("debootstrap") is None:
        log("installing debootstrap (apt-get install debootstrap)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], env=env).returncode != 0 and (
                subprocess.run(["apt-get", "-qq", "update"], env=env).returncode != 0
                or subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], env=env).returncode != 0):
            raise CheckFailed("apt-get could not install debootstrap")
    partial = cache / f"{suite}-minbase.partial"
    shutil.rmtree(partial, ignore_errors=True)
    log(f"debootstrap --variant=minbase {suite} {mirror} (once; kept in {root})")
    done = subprocess.run(["debootstrap", "--variant=minbase", suite, str(partial), mirror],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise CheckFailed(f"debootstrap failed:\n{(done.stdout + done.stderr)[-2000:]}")
    (partial / ".debootstrap-complete").write_text(f"{suite} {mirror}\n")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)


def pip_settings(listed: str | None = None) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """This machine's pip configuration as PIP_* variables, and [(local file they name, its path inside)].

    Read from `pip config list` (config files and PIP_* variables alike), so a machine with a mirror,
    a wheel folder or its own certificate authority sets up the root the way it installs packages."""
    if listed is None:
        listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                                env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}).stdout
    settings: dict[str, str] = {}
    for line in sorted(listed.splitlines(), key=lambda x: x.startswith(":env:")):  # variables win
        name, _, value = line.partition("=")
        section, _, key = name.partition(".")
        if section in ("global", "install", ":env:") and value:
            settings[key] = value.strip("'\"")
    env, binds = {}, {}
    for key, value in settings.items():
        if key in PATH_SETTINGS:
            value = " ".join(_bound(word, binds) for word in value.split())
        env["PIP_" + key.upper().replace("-", "_")] = value
    return env, sorted(binds.items())


def _bound(word: str, binds: dict[str, str]) -> str:
    scheme = "file://" if word.startswith("file://") else ""
    path = word[len(scheme):]
    if not path.startswith("/") or not os.path.exists(path):
        return word
    # the same path where nothing of the root's own lives there (a simple index names its files by
    # absolute path), else under /run/host (the certificate bundle: the root has its own, from apt)
    system = path.split("/")[1] in {"bin", "boot", "etc", "lib", "lib64", "sbin", "usr", "var"}
    # a local index's pages link to files beside its simple/ folder: bind the folder that holds both
    shared = str(Path(path).parent) if scheme and Path(path).name == "simple" else path
    binds[shared] = "/run/host" + shared if system else shared
    return scheme + ("/run/host" + path if system else path)


@dataclass
class FreshRoot:
    """A throw-away copy of the base root with the zip laid out as Gradescope does."""

    base: Path
    work: Path
    log: object = print
    binds: list[tuple[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.root = self.work / "root"
        subprocess.run(["cp", "-a", str(self.base), str(self.root)], check=True)  # keeps devices, owners, links

    @property
    def autograder(self) -> Path:
        return self.root / "autograder"

    def lay_out(self, autograder_zip: Path) -> None:
        (self.autograder / "source").mkdir(parents=True)
        with zipfile.ZipFile(autograder_zip) as zf:
            zf.extractall(self.autograder / "source")
            for info in zf.infolist():  # zipfile drops the mode bits: keep the executable ones
                mode = info.external_attr >> 16
                if mode & 0o111:
                    os.chmod(self.autograder / "source" / info.filename, mode & 0o777)
        for script in ("setup.sh", "run_autograder"):
            shutil.copy2(self.autograder / "source" / script, self.autograder / script)
        for folder in ("submission", "results"):
            (self.autograder / folder).mkdir()

    def start(self, argv: list[str], output) -> subprocess.Popen:
        """argv as root inside the root, in its own mount and PID namespaces, with only self.env set."""
        table = self.work / "binds"
        table.write_text("".join(f"{host}|{inside}\n" for host, inside in self.binds))
        env = ["env", "-i", f"PATH={PATH}", "HOME=/root", "LANG=C.UTF-8", *(f"{k}={v}" for k, v in self.env.items())]
        return subprocess.Popen(["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
                                 "bash", "-c", ENTER, "enter", str(self.root), str(table), *env, *argv],
                                stdout=output, stderr=subprocess.STDOUT, text=True)

    def run(self, argv: list[str], timeout: float = 900) -> tuple[int, str]:
        """(exit status, output) of argv inside the root."""
        process = self.start(argv, subprocess.PIPE)
        try:
            output, _ = process.communicate(timeout=timeout)
        finally:
            process.kill()
        return process.returncode, output

    def grade(self, files: dict[str, nbformat.NotebookNode]) -> tuple[dict, str]:
        """run_autograder on a submission of these notebooks: (results.json, what it printed)."""
        for folder in ("submission", "results"):
            shutil.rmtree(self.autograder / folder)
            (self.autograder / folder).mkdir()
        for name, nb in files.items():
            nbformat.write(nb, self.autograder / "submission" / name)
        status, output = self.run(["/autograder/run_autograder"])
        if status != 0:
            raise CheckFailed(f"run_autograder exited with {status}:\n{output[-3000:]}")
        results = json.loads((self.autograder / "results" / "results.json").read_text())
        validate(results)
        return results, output


def zip_with_hidden_check(lesson: str, out: Path) -> Path:
    """`make gradescope LESSON=NN`'s zip, built from a copy of solutions/ with a hidden check added."""
    source = Source.parse("solutions")
    folder = source.lessons()[lesson]
    copy = out / "solutions"
    shutil.copytree(folder, copy / folder.name)
    path = copy / folder.name / f"{folder.name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    next(c for c in nb.cells if check_task_id(c)).source = HIDDEN_TEST + next(c for c in nb.cells if check_task_id(c)).source
    nbformat.write(nb, path)
    return build([lesson], Source.parse(str(copy)), out=out / "zip")


def samples(lesson: str, work: Path) -> dict[str, nbformat.NotebookNode]:
    """{kind: notebook}: the reference, an untouched release and a hostile notebook, as students hand in."""
    from ..nbgrader_glue.release import release

    name = Source.parse("solutions").lessons()[lesson].name
    release([lesson], out=work / "release", log=lambda message: None)
    released = nbformat.read(work / "release" / name / f"{name}.ipynb", as_version=4)
    reference = nbformat.read(REPO_ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: "\n".join(x for x in c.source.split("\n") if "SOLUTION" not in x)
               for c in reference.cells if c.metadata.get("nbgrader", {}).get("solution")}
    answered = nbformat.from_dict(json.loads(json.dumps(released)))
    for cell in answered.cells:
        cell.source = answers.get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
    hostile = nbformat.from_dict(json.loads(json.dumps(answered)))
    first_code = next(i for i, c in enumerate(hostile.cells) if c.cell_type == "code")
    hostile.cells.insert(first_code, nbformat.v4.new_code_cell(HOSTILE))
    return {"reference": answered, "release": released, "hostile": hostile}


def tree_digest(folder: Path) -> dict[str, str]:
    """{path: sha256} of the files under folder, Python's bytecode caches left out."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@contextlib.contextmanager
def scratch(folder: Path):
    """A tmpfs mounted at folder for the throw-away root: deleting a set-up root (55,000 files) from
    this machine's disk took 3 minutes; unmounting a tmpfs is instant. Those of killed runs (their
    process gone) are unmounted first."""
    for stale in folder.parent.glob("scratch-*"):
        if not Path("/proc", stale.name.removeprefix("scratch-")).exists():
            subprocess.run(["umount", "--lazy", str(stale)], capture_output=True)
            with contextlib.suppress(OSError):
                stale.rmdir()
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12g,mode=0755", "gradescope-root", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)
        folder.rmdir()


@dataclass
class Report:
    seconds: dict[str, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    isolation: str = ""


def check(lesson: str, cache: Path = CACHE, log=print) -> Report:
    """Everything `make gradescope-fresh-root` does; the Report lists every expectation that failed."""
    reason = why_not()
    if reason:
        raise CannotRun(reason)
    lesson = lesson_id(lesson)
    report, started = Report(), time.monotonic()
    base = base_root(cache, log)
    report.seconds["debootstrap (0 when cached)"] = round(time.monotonic() - started, 1)
    cache.mkdir(parents=True, exist_ok=True)
    with scratch(cache / f"scratch-{os.getpid()}") as work:
        autograder_zip = zip_with_hidden_check(lesson, work)
        env, binds = pip_settings()
        if SHAKESPEARE.exists():  # else setup.sh downloads it, as on Gradescope
            binds.append((str(SHAKESPEARE), "/run/host/tinyshakespeare.txt"))
            env["TINYSHAKESPEARE"] = "/run/host/tinyshakespeare.txt"
        started = time.monotonic()
        root = FreshRoot(base, work, log, binds=binds, env=env)
        root.lay_out(autograder_zip)
        report.seconds["copy and lay out"] = round(time.monotonic() - started, 1)
        setup_log = cache / f"setup-{os.getpid()}.log"
        log(f"setup.sh in a fresh {DEBIAN[0]} root (pip settings: {', '.join(sorted(env)) or 'none'}); "
            f"its output: {setup_log}")
        started = time.monotonic()
        with open(setup_log, "w") as output:
            setup = root.start(["bash", "/autograder/setup.sh"], output)
            try:
                submissions = samples(lesson, work)  # meanwhile: setup.sh mostly waits for downloads and disks
                setup.wait(timeout=1800)
            finally:
                setup.kill()
        report.seconds["setup.sh"] = round(time.monotonic() - started, 1)
        if setup.returncode != 0:
            tail = setup_log.read_text(errors="replace")[-3000:]
            raise CheckFailed(f"setup.sh exited with {setup.returncode}:\n{tail}")
        full = sum(float(t.points) for t in lesson_tasks(lesson))
        for kind, nb in submissions.items():  # the hostile one last: what it could change stays changed
            source_before = tree_digest(root.autograder / "source")  # after earlier runs' bytecode caches
            started = time.monotonic()
            results, printed = root.grade({f"{kind}.ipynb": nb})
            report.seconds[f"run_autograder ({kind})"] = round(time.monotonic() - started, 1)
            report.scores[kind] = results["score"]
            report.isolation = results.get("output", "")
            report.problems += expectations(kind, results, printed, full, root)
            if tree_digest(root.autograder / "source") != source_before:
                report.problems.append(f"{kind}: /autograder/source changed while it was graded")
        started = time.monotonic()
    report.seconds["clean up"] = round(time.monotonic() - started, 1)
    return report


def expectations(kind: str, results: dict, printed: str, full: float, root: FreshRoot) -> list[str]:
    """What failed of what a submission of this kind must get (empty when all holds)."""
    problems = []
    expected = 0.0 if kind == "release" else full
    if results["score"] != expected:
        problems.append(f"{kind}: score {results['score']}, expected {expected}")
    if not results.get("output", "").startswith("Graded in isolation: bubblewrap"):  # not "landlock (bubblewrap is..."
        problems.append(f"{kind}: not graded in bubblewrap ({results.get('output', '')!r})")
    scored = [t for t in results["tests"] if t["max_score"]]
    if kind == "release":
        problems += [f"release: {t['name']} scored {t['score']} or says no reason ({t.get('output', '')!r})"
                     for t in scored if t["score"] or "not started" not in t.get("output", "")]
    if kind == "hostile":
        if MARK in json.dumps(results) + printed:
            problems.append("hostile: the hidden test's text reached results.json or run_autograder's output")
        forged = [p for p in (root.autograder / "forged.txt", root.autograder / "results" / "forged.txt") if p.exists()]
        problems += [f"hostile: wrote {p.relative_to(root.root)}" for p in forged]
        if any(t["name"] == "forged" for t in results["tests"]):
            problems.append("hostile: its forged results.json was kept")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope.fresh_root", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", default="01", help="the lesson whose zip is checked (default 01)")
    parser.add_argument("--fresh", action="store_true", help="make the Debian root again (else reuse build/fresh-root/)")
    parser.add_argument("--report", type=Path, help="also write the outcome here as JSON (the course's test reads it)")
    args = parser.parse_args(argv)
    if args.fresh:
        shutil.rmtree(CACHE / f"{DEBIAN[0]}-minbase", ignore_errors=True)
    report, cannot = Report(), None
    try:
        report = check(args.lesson)
    except CannotRun as err:
        cannot = str(err)
        print(f"cannot check the Gradescope zip on a fresh root here: {cannot}", file=sys.stderr)
    except CheckFailed as err:
        report.problems.append(str(err))
    if args.report:
        args.report.write_text(json.dumps({"cannot": cannot, **asdict(report)}, indent=1))
    if cannot:
        return 2
    for step, seconds in report.seconds.items():
        print(f"  {step:32} {seconds:7.1f} s")
    print("  scores: " + ", ".join(f"{kind} {score:g}" for kind, score in report.scores.items()))
    print("\n".join(report.problems) or f"the zip sets up and grades on a fresh {DEBIAN[0]} root")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
