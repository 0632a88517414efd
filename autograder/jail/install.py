"""`make jail`: install bubblewrap (and libseccomp2, for the syscall filter) where this machine lets
us, then prove the jail works.

Instructors need it (`make autograde` refuses to grade without it, unless UNSAFE=1); students do
not (their `make grade` falls back to Landlock and resource limits). As root with apt-get (a
grading server, CI) it installs the Debian/Ubuntu packages; otherwise it says what to run.

    python -m autograder.jail.install           # install if needed and possible; exit 1 if no jail
    python -m autograder.jail.install --check   # only say which jail grading will use (make setup)
"""

from __future__ import annotations

import argparse
import ctypes.util
import os
import shutil
import subprocess
import sys

from . import bwrap, seccomp
from .client import choose


def apt_install(package: str) -> bool:
    """apt-get install, refreshing the package lists once if the first try cannot find it."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in ([], ["update"]):
        if attempt and subprocess.run(["apt-get", "-qq", "update"], env=env).returncode != 0:
            return False
        if subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env).returncode == 0:
            return True
    return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.jail.install", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report which jail grading will use")
    args = parser.parse_args(argv)
    can_apt = not args.check and os.geteuid() == 0 and shutil.which("apt-get")
    if can_apt and seccomp.library() is None and ctypes.util.find_library("seccomp") is None:
        print("installing libseccomp2 (apt-get install libseccomp2)...", flush=True)
        if apt_install("libseccomp2"):
            seccomp.library.cache_clear()  # pyseccomp finds the library now
            seccomp.program.cache_clear()
    if not seccomp.available()[0]:
        print(f"note: {seccomp.available()[1]}: grading works, without the syscall filter", file=sys.stderr)
    ok, why = bwrap.usable()
    if not ok and not args.check and bwrap.executable() is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing bubblewrap (apt-get install bubblewrap)...", flush=True)
        apt_install("bubblewrap")
        bwrap.usable.cache_clear()
        ok, why = bwrap.usable()
    if ok:
        print(f"jail: {choose('auto')}")
        return 0
    if args.check:
        print(f"note: grading here uses {choose('auto').name} ({why}). Students need nothing more; "
              f"instructors who grade a class: make jail")
        return 0
    print(f"error: {why}.\nThe jail for grading a class needs bubblewrap: `sudo apt-get install bubblewrap` "
          f"(Debian/Ubuntu) or `sudo dnf install bubblewrap` (Fedora), and unprivileged user namespaces "
          f"(on Ubuntu 24.04 and later, AppArmor allows them for bwrap).", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
