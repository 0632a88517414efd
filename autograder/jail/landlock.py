"""Landlock: the kernel's unprivileged sandbox, applied by a task's child to itself before student code.

Landlock (Linux 5.13+) lets a process give up access rights for good, for itself and everything it
starts. Rules only *grant*: the child keeps read access to the paths it is given (the same public
paths the bubblewrap jail mounts), write access to its scratch folder and a few harmless devices,
and nothing else. Since ABI 4 it opens no TCP connection; since ABI 6 it cannot signal processes
outside its domain (the worker, the grader). A sandboxed process can never ptrace or read the memory
of a process outside its domain, at any ABI.

Inside bubblewrap this is defence in depth (the mounts already hide the rest); without bubblewrap
(a student's laptop) it is the jail.
"""

from __future__ import annotations

import ctypes
import os
import struct

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on every architecture
_PR_SET_NO_NEW_PRIVS = 38
_RULE_PATH_BENEATH = 1
_CREATE_RULESET_VERSION = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_WRITE_DIR = sum(1 << i for i in range(4, 13))  # remove, make dir/reg/sock/fifo/block/char/sym
REFER, TRUNCATE = 1 << 13, 1 << 14
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE
READ = EXECUTE | READ_FILE | READ_DIR
_NET_TCP = 0b11  # bind and connect
_SCOPE = 0b11  # abstract unix sockets and signals to processes outside the sandbox

try:
    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.syscall.restype = ctypes.c_long
except (OSError, AttributeError):  # pragma: no cover - not a POSIX libc
    _libc = None


def abi_version() -> int:
    """Landlock's ABI version on this kernel; 0 when it is missing or disabled (or not Linux)."""
    if _libc is None or not os.uname().sysname == "Linux":
        return 0
    try:
        version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    except (AttributeError, OSError):  # pragma: no cover
        return 0
    return max(int(version), 0)


def _handled(abi: int) -> tuple[int, int, int]:
    fs = EXECUTE | WRITE_FILE | READ_FILE | READ_DIR | _WRITE_DIR
    fs |= REFER if abi >= 2 else 0
    fs |= TRUNCATE if abi >= 3 else 0
    return fs, _NET_TCP if abi >= 4 else 0, _SCOPE if abi >= 6 else 0


def _add_rule(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(f"/proc/self/fd/{fd}"):
            access &= FILE_RIGHTS
        attr = struct.pack("=Qi", access, fd)
        buf = ctypes.create_string_buffer(attr, len(attr))
        _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, buf, 0)
    finally:
        os.close(fd)


def make_ruleset(readable, writable, listable=(), writable_files=("/dev/null",)) -> int | None:
    """A ruleset fd: read under `readable`, full access under `writable`, names only under `listable`.

    None without Landlock."""
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
    for path in listable:
        _add_rule(ruleset, os.path.realpath(path), READ_DIR)
    for path in readable:
        _add_rule(ruleset, os.path.realpath(path), READ)
    for path in writable:
        _add_rule(ruleset, os.path.realpath(path), fs)
    for path in writable_files:
        _add_rule(ruleset, path, READ_FILE | WRITE_FILE | (TRUNCATE if abi >= 3 else 0))
    return ruleset


def restrict_self(ruleset: int) -> bool:
    """Enter the sandbox (this process and all it starts, irreversibly); False if that failed."""
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    ok = _libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) == 0
    os.close(ruleset)
    return ok
