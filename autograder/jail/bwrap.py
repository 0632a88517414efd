"""Bubblewrap command lines: a throw-away root holding only what student code may see.

bubblewrap (`bwrap`, the sandbox Flatpak uses; Debian/Ubuntu package `bubblewrap`) starts a command
in new mount, PID, network, IPC, UTS, user and cgroup namespaces. The root it builds here holds:

- read-only: the system (/usr and its links), the Python installation and the course's virtual
  environment, the course's public code (autograder/ without its fixtures), Tiny Shakespeare, and
  whatever the caller adds (the submission under grading);
- private and size-capped: /tmp (the only writable place: scratch, thrown away with the jail) and
  /dev/shm; a minimal /dev and a /proc that shows the jail's own processes only;
- nothing else: no solutions/, fixtures, .git, gradebook, other submissions, home directory, network.

All capabilities are dropped, the user is `nobody` inside, no new user namespaces can be made, the
jail has its own terminal session, a syscall filter denies the calls listed in seccomp.py, and it
dies with the process that started it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..paths import FIXTURES_DIR, REPO_ROOT, SHAKESPEARE
from . import seccomp
from .view import ETC_FILES, SYSTEM_LINKS, python_paths

TMP_BYTES = 256 << 20  # the jail's /tmp: scratch for every process in it
SHM_BYTES = 16 << 20
INSTALL_HINT = ("bubblewrap is not installed: `sudo apt-get install bubblewrap` (Debian/Ubuntu), "
                "`sudo dnf install bubblewrap` (Fedora)")


def executable() -> str | None:
    return shutil.which("bwrap")


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in SYSTEM_LINKS:
        path = Path("/" + name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def command(argv: list[str], *, readable=(), writable=(), env: dict[str, str] | None = None,
            as_pid_1: bool = False, cwd: str = "/tmp/work", seccomp_fd: int | None = None) -> list[str]:
    """The bwrap command line that runs argv in the jail described above.

    readable: extra host paths mounted read-only at the same place (the submission).
    writable: extra host paths mounted read-write (only the kernel's connection folder needs one).
    as_pid_1: argv runs as the jail's init: its children cannot kill it, and it reaps orphans.
    seccomp_fd: an fd from seccomp.program_fd() (None where libseccomp is missing): bwrap loads that
    syscall filter on everything in the jail; the caller passes the fd on and closes it afterwards.
    """
    args = [executable() or "bwrap", "--unshare-all", "--unshare-user", "--disable-userns",
            "--uid", "65534", "--gid", "65534", "--hostname", "jail",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if as_pid_1:
        args.append("--as-pid-1")
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += _system_binds()
    # /tmp first: the host paths below may live under the host's /tmp (a clone made by mktemp -d)
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(TMP_BYTES), "--tmpfs", "/tmp", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
    for path in python_paths():
        args += ["--ro-bind", str(path), str(path)]
    args += ["--ro-bind", str(REPO_ROOT / "autograder"), str(REPO_ROOT / "autograder"),
             "--tmpfs", str(FIXTURES_DIR),  # the reference outputs: checks are judged outside the jail
             "--ro-bind-try", str(SHAKESPEARE.parent), str(SHAKESPEARE.parent)]
    for path in readable:
        args += ["--ro-bind", str(path), str(path)]
    for path in writable:
        args += ["--bind", str(path), str(path)]
    args += ["--dir", "/tmp/home", "--dir", "/tmp/work", "--chdir", cwd, "--clearenv"]
    for key, value in jail_environment(env).items():
        args += ["--setenv", key, value]
    return args + ["--", *argv]


def jail_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The only environment variables a jailed process starts with."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/tmp/home", "TMPDIR": "/tmp",
           "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/home/.matplotlib",
           "IPYTHONDIR": "/tmp/home/.ipython", "JUPYTER_RUNTIME_DIR": "/tmp/home/.jupyter",
           "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        env["TIKTOKEN_CACHE_DIR"] = os.environ["TIKTOKEN_CACHE_DIR"]
    return {**env, **(extra or {})}


@functools.lru_cache(maxsize=1)
def usable() -> tuple[bool, str]:
    """(True, version) when bwrap can build this jail here; (False, why not) otherwise."""
    if sys.platform != "linux":
        return False, "bubblewrap needs Linux"
    if executable() is None:
        return False, INSTALL_HINT
    fd = seccomp.program_fd()  # the probe proves the jail starts with its syscall filter too
    try:
        probe = subprocess.run(command([sys.executable, "-c", "pass"], seccomp_fd=fd), capture_output=True,
                               text=True, timeout=60, stdin=subprocess.DEVNULL, pass_fds=() if fd is None else (fd,))
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"bubblewrap could not start here ({err})"
    finally:
        seccomp.close(fd)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        return False, f"bubblewrap could not build the jail here ({why}; are unprivileged user namespaces off?)"
    version = subprocess.run([executable(), "--version"], capture_output=True, text=True).stdout.strip()
    return True, version or "bubblewrap"
