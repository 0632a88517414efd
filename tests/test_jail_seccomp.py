"""The syscall filter (autograder/jail/seccomp.py): student code in a notebook task calls each denied
system call through ctypes and gets -1/EPERM, on both grading paths -- the bubblewrap worker (bwrap
loads the filter) and a worker forked from this process with Landlock (the child loads it on itself,
as a notebook's check cell does). getpid still works, the reference still gets full marks, and the
report says "seccomp". A control run in bubblewrap without the filter shows that the same calls
answer otherwise there, so the EPERMs come from the filter.
"""

from __future__ import annotations

import errno
import platform
import re
import subprocess
import sys

import pytest

from autograder.grade import PASSED, grade_report
from autograder.jail import bwrap, landlock, seccomp
from autograder.jail.child import Job
from autograder.jail.client import choose, run_forked, run_jobs
from autograder.loader import Loader
from tests.corpus.cases import RIGHT, Case, materialize, with_code

pytestmark = pytest.mark.skipif(not seccomp.available()[0], reason=seccomp.available()[1])
needs_bwrap = pytest.mark.skipif(not bwrap.usable()[0], reason="bubblewrap: " + bwrap.usable()[1])

# Arguments that are harmless and wrong (bad fds, NULL pointers, unknown commands): without the filter
# most of these fail with another errno (EFAULT, EBADF, EINVAL, EIO) or succeed (unshare(0)).
PROBES = {
    "io_uring_setup": (0, 0), "io_uring_enter": (-1, 0, 0, 0, 0, 0), "io_uring_register": (-1, 0, 0, 0),
    "keyctl": (-1, 0, 0, 0, 0), "add_key": (0, 0, 0, 0, 0), "request_key": (0, 0, 0, 0),
    "bpf": (-1, 0, 0), "perf_event_open": (0, 0, -1, -1, 0), "userfaultfd": (1,),
    "ptrace": (-1, 0, 0, 0), "mount": (0, 0, 0, 0, 0), "umount2": (0, 0), "pivot_root": (0, 0),
    "chroot": (0,), "fsopen": (0, 0), "fsmount": (-1, 0, 0), "move_mount": (-1, 0, -1, 0, 0),
    "open_tree": (-1, 0, 0), "unshare": (0,), "setns": (-1, 0),
    "kexec_load": (0, 0, 0, -1), "kexec_file_load": (-1, -1, 0, 0, -1),
    "init_module": (0, 0, 0), "finit_module": (-1, 0, 0), "delete_module": (0, 0),
}
LIB = seccomp.library()
NUMBERS = {name: LIB.resolve_syscall(LIB.Arch.NATIVE, name) for name in [*PROBES, "getpid"]} if LIB else {}

# The 32-bit x86 ABI from a 64-bit process: `int 0x80` with the i386 numbers (io_uring_setup 425,
# getpid 20), from a few bytes of machine code; it returns -errno.
INT80 = '''import ctypes, mmap
def int80(nr):
    code = bytes([0xb8]) + nr.to_bytes(4, "little") + bytes([0x31, 0xdb, 0x31, 0xc9, 0xcd, 0x80, 0xc3])
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    return ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()
'''
I386 = platform.machine() == "x86_64" and subprocess.run(  # a kernel without 32-bit emulation crashes it
    [sys.executable, "-c", INT80 + "import os\nassert int80(20) == os.getpid()"], capture_output=True).returncode == 0

PROBE_CELL = f'''import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
for _name, _args in {PROBES!r}.items():
    ctypes.set_errno(0)
    _rc = _libc.syscall({NUMBERS!r}[_name], *[ctypes.c_long(a) for a in _args])
    print("SYSCALL", _name, _rc, ctypes.get_errno() if _rc < 0 else 0)
print("GETPID", _libc.syscall({NUMBERS.get("getpid", -1)}) == os.getpid())
''' + (INT80 + '''print("I386 io_uring_setup", int80(425))
print("I386 GETPID", int80(20) == os.getpid())
''' if I386 else "")


def probe_notebook(tmp_path):
    """Lesson 01's reference, with the probes at the top of encode's cell (they run as it loads)."""
    case = Case("syscalls", with_code(encode=PROBE_CELL + RIGHT["encode"]))
    return materialize(case, tmp_path) / "01_chars" / "01_chars.ipynb"


def answers(output: str) -> dict[str, tuple[int, int]]:
    """{call: (return value, errno)}; "i386 io_uring_setup" too where the 32-bit ABI runs here."""
    found = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r"^SYSCALL (\w+) (-?\d+) (\d+)$", output, re.M)}
    assert set(found) == set(PROBES), output
    assert "GETPID True" in output, output  # an ordinary call still works
    if I386:
        assert "I386 GETPID True" in output, output
        rc = int(re.search(r"^I386 io_uring_setup (-?\d+)$", output, re.M)[1])
        found["i386 io_uring_setup"] = (-1, -rc) if rc < 0 else (rc, 0)
    return found


def denied(found: dict) -> list[str]:
    return [name for name, (rc, err) in found.items() if (rc, err) == (-1, errno.EPERM)]


def test_the_filter_is_built_by_libseccomp_for_every_abi():
    program = seccomp.program()
    assert program and len(program) % 8 == 0  # struct sock_filter: 8 bytes an instruction
    assert set(PROBES) <= set(seccomp.DENIED)
    assert all(number >= 0 for number in NUMBERS.values())


@needs_bwrap
def test_bubblewrap_worker_denies_each_call(tmp_path):
    notebook = probe_notebook(tmp_path)
    outcome = run_jobs([Job(0, "01.encode", "task", str(notebook))], choose("bwrap"), readable=[tmp_path])[0]
    assert outcome.status == "ok", outcome.reason  # the task itself still passes
    found = answers(outcome.output)
    assert denied(found) == list(found), found


@pytest.mark.skipif(not landlock.abi_version(), reason="no Landlock on this kernel")
def test_forked_landlock_worker_denies_each_call(tmp_path):
    """The check cell's path (run_forked) and make grade without bubblewrap: the child loads the filter."""
    notebook = probe_notebook(tmp_path)
    outcome = run_forked([Job(0, "01.encode", "task", str(notebook))], loader=Loader(), readable=[tmp_path])[0]
    assert outcome.status == "ok", outcome.reason
    found = answers(outcome.output)
    assert denied(found) == list(found), found


@needs_bwrap
def test_without_the_filter_the_same_calls_answer_otherwise(tmp_path, monkeypatch):
    """The control: in bubblewrap (nobody, no capabilities) with no filter, the probes are not all EPERM."""
    monkeypatch.setattr(seccomp, "program_fd", lambda: None)
    notebook = probe_notebook(tmp_path)
    outcome = run_jobs([Job(0, "01.encode", "task", str(notebook))], choose("bwrap"), readable=[tmp_path])[0]
    found = answers(outcome.output)
    others = set(found) - set(denied(found))
    expected = {"unshare", "setns", "chroot", "io_uring_setup"} | ({"i386 io_uring_setup"} if I386 else set())
    assert expected <= others and len(others) > len(found) // 2, found


@pytest.mark.parametrize("jail", ["bwrap", "landlock"])
def test_reference_gets_full_marks_and_the_report_says_seccomp(jail):
    if (jail == "bwrap" and not bwrap.usable()[0]) or (jail == "landlock" and not landlock.abi_version()):
        pytest.skip(f"no {jail} here")
    report = grade_report("solutions", ["01"], jail=jail)
    assert report.verdicts and all(v.status == PASSED for v in report.verdicts), report.verdicts
    assert "seccomp (" in str(report.isolation)
