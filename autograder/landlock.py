"""Hide the reference from student code: a Landlock sandbox for the grader's child processes.

Landlock (Linux 5.13+) lets an unprivileged process give up access rights for good. The child that
runs a student's code keeps read access to everything *except* the reference (solutions/, the
fixtures, .git and the instructor's folders), may write only in a private scratch folder, opens no TCP
connection, cannot signal or ptrace processes outside its sandbox (so not the grader), and every
process it starts inherits all of this. Landlock rules only grant access, so "all but these
folders" is spelled as: every sibling of each hidden folder and of each of its ancestors.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import struct
import tempfile
from pathlib import Path

from .paths import REPO_ROOT

HIDDEN = ("solutions", "autograder/fixtures", ".git", ".nbgrader", "build", "source", "release",
          "submitted", "autograded", "feedback")

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on every architecture
_PR_SET_NO_NEW_PRIVS = 38
_RULE_PATH_BENEATH = 1
_CREATE_RULESET_VERSION = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_WRITE_DIR = sum(1 << i for i in range(4, 13))  # remove, make dir/reg/sock/fifo/block/char/sym
REFER, TRUNCATE = 1 << 13, 1 << 14
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE
_NET_TCP = 0b11  # bind and connect
_SCOPE = 0b11  # abstract unix sockets and signals to processes outside the sandbox

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def abi_version() -> int:
    """Landlock's ABI version on this kernel; 0 when it is missing or disabled (or not Linux)."""
    try:
        version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return 0
    return max(int(version), 0)


def hidden_paths(root: Path = REPO_ROOT) -> list[Path]:
    return [root / name for name in HIDDEN]


def _handled(abi: int) -> tuple[int, int, int]:
    fs = EXECUTE | WRITE_FILE | READ_FILE | READ_DIR | _WRITE_DIR
    fs |= REFER if abi >= 2 else 0
    fs |= TRUNCATE if abi >= 3 else 0
    return fs, _NET_TCP if abi >= 4 else 0, _SCOPE if abi >= 6 else 0


def _add_rule(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)  # a symlink never grants its target
    except OSError:
        return
    try:
        if not os.path.isdir(f"/proc/self/fd/{fd}") or os.path.islink(path):
            access &= FILE_RIGHTS
        attr = struct.pack("=Qi", access, fd)
        buf = ctypes.create_string_buffer(attr, len(attr))
        _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, buf, 0)
    finally:
        os.close(fd)


def make_ruleset(hidden: list[Path] | None = None) -> int | None:
    """A Landlock ruleset fd (inheritable by forked children), or None without Landlock."""
    abi = abi_version()
    if abi < 1:
        return None
    fs, net, scope = _handled(abi)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    attr = struct.pack("=QQQ", fs, net, scope)[:size]
    buf = ctypes.create_string_buffer(attr, size)
    ruleset = _libc.syscall(_SYS_CREATE_RULESET, buf, ctypes.c_size_t(size), 0)
    if ruleset < 0:
        return None
    readable = EXECUTE | READ_FILE | READ_DIR
    hidden = [Path(os.path.realpath(p)) for p in (hidden if hidden is not None else hidden_paths())]
    keep_out = {str(p) for p in hidden}
    on_the_way = {str(a) for p in hidden for a in p.parents}  # ancestors: descend, do not grant
    for folder in sorted(on_the_way):
        _add_rule(ruleset, folder, READ_DIR)  # listing names (not reading files) below is harmless
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for name in entries:
            path = os.path.join(folder, name)
            if path not in keep_out and path not in on_the_way:
                _add_rule(ruleset, path, readable)
    # Writable: a private scratch folder (the child's TMPDIR), not the system temp folder, which
    # may hold the repository itself (a clone in /tmp) and would then open it up again.
    for writable in {scratch_dir(), "/dev", "/dev/shm"}:
        if os.path.realpath(writable) not in keep_out and os.path.exists(writable):
            _add_rule(ruleset, os.path.realpath(writable), fs)
    return ruleset


_scratch: str | None = None


def has_scratch() -> bool:
    return _scratch is not None


def scratch_dir() -> str:
    """This grading run's private temporary folder (removed when the grader exits)."""
    global _scratch
    if _scratch is None:
        _scratch = tempfile.mkdtemp(prefix="autograder-scratch-")
        atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
    return _scratch


def restrict_self(ruleset: int) -> bool:
    """Enter the sandbox (this process and all it starts, irreversibly); False if that failed."""
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return _libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) == 0
