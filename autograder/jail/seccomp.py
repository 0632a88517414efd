"""A system-call filter (seccomp) for student code: a deny list compiled by libseccomp.

Namespaces, Landlock and rlimits decide what student code may *see*; this decides which kernel
entry points it may *call*. The calls below are rarely needed by a Python program and are where
kernel exploits and sandbox escapes start (io_uring, BPF, perf events, keyrings, userfaultfd,
ptrace, mounting, new namespaces, loading kernels or modules). Each fails with EPERM -- an errno,
not a kill, so the student sees an ordinary `PermissionError`/-1 and the grader a normal verdict.
Everything else is allowed.

libseccomp builds the filter (through `pyseccomp`, a pinned ctypes binding of libseccomp.so.2) for
the native ABI and, on x86-64, the 32-bit x86 (`int 0x80`) and x32 ABIs too, where the same calls
have other numbers; a call from any other ABI fails with EPERM as well. Two ways in:

- bubblewrap: `program_fd()` gives bwrap the compiled program (`seccomp_export_bpf`), which bwrap
  loads for the whole jail just before it starts the worker or the kernel (`--seccomp FD`);
- no bubblewrap (Landlock or limits only, and a notebook's check cell): a task's child loads the
  same filter on itself (`apply_to_self`, libseccomp's `seccomp_load`) right before student code.

Where libseccomp is missing (macOS, a Linux without libseccomp.so.2) grading still works; the
isolation line of every report then says the filter is off.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile


DENIED = (
    "io_uring_setup", "io_uring_enter", "io_uring_register",  # a second kernel interface, many exploits
    "keyctl", "add_key", "request_key",  # kernel keyrings
    "bpf", "perf_event_open", "userfaultfd",  # exploit staples
    "ptrace", "process_vm_readv", "process_vm_writev",  # other processes' memory
    "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
    "open_tree", "mount_setattr",  # the file system tree
    "unshare", "setns",  # new namespaces (a user namespace opens much more of the kernel)
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",  # the kernel itself
)
# clone() with a new-namespace flag is unshare() by another name. clone3() passes its flags in
# memory a filter cannot read, so it answers ENOSYS: the C library then falls back to clone().
CLONE_NAMESPACES = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
                    "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
                    "CLONE_NEWNET": 0x40000000}


@functools.lru_cache(maxsize=1)
def library():
    """The pyseccomp module, or None where it or libseccomp.so.2 is missing (macOS). Imported on first
    use: its import looks for the library (ldconfig), which a jail that never loads the filter skips."""
    try:
        import pyseccomp
    except (ImportError, RuntimeError, OSError):
        return None
    return pyseccomp


def _build():
    """The libseccomp filter (allow by default, the deny list above); raises OSError if libseccomp fails."""
    lib = library()
    denied = lib.ERRNO(errno.EPERM)
    syscall_filter = lib.SyscallFilter(lib.ALLOW)
    if lib.system_arch() == lib.Arch.X86_64:
        for arch in (lib.Arch.X86, lib.Arch.X32):
            syscall_filter.add_arch(arch)
    syscall_filter.set_attr(lib.Attr.ACT_BADARCH, denied)
    for name in DENIED:
        if lib.resolve_syscall(lib.Arch.NATIVE, name) < 0:  # newer than this libseccomp: left out
            continue
        syscall_filter.add_rule(denied, name)
    for flag in CLONE_NAMESPACES.values():
        syscall_filter.add_rule(denied, "clone", lib.Arg(0, lib.MASKED_EQ, flag, flag))
    syscall_filter.add_rule(lib.ERRNO(errno.ENOSYS), "clone3")
    return syscall_filter


@functools.lru_cache(maxsize=1)
def program() -> bytes | None:
    """The compiled filter (classic BPF, as seccomp_export_bpf writes it); None where it cannot be built."""
    if library() is None:
        return None
    try:
        with tempfile.TemporaryFile() as f:
            _build().export_bpf(f)
            f.seek(0)
            data = f.read()
    except (OSError, AttributeError):  # an old libseccomp, or not Linux
        return None
    return data or None


def available() -> tuple[bool, str]:
    """(True, a phrase for reports) when the filter can be built here; (False, why not) otherwise."""
    if library() is None:
        return False, "no syscall filter (libseccomp is not installed here)"
    if program() is None:
        return False, "no syscall filter (libseccomp could not build it here)"
    return True, f"seccomp ({len(DENIED)} system calls denied)"


def program_fd() -> int | None:
    """A fresh, inheritable fd holding the program from its start, for one bwrap (`--seccomp FD`).

    bwrap reads it to the end, so every bwrap needs its own; the caller closes it once bwrap started."""
    data = program()
    if data is None:
        return None
    fd = os.memfd_create("gpt-course-seccomp", 0) if hasattr(os, "memfd_create") else _unlinked_file()
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    return fd


def _unlinked_file() -> int:
    fd, name = tempfile.mkstemp(prefix="gpt-course-seccomp-")
    os.unlink(name)
    return fd


def close(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def apply_to_self() -> bool:
    """Load the filter on this process (and all it starts, for good); False where it is not available."""
    if program() is None:
        return False
    try:
        _build().load()
    except OSError:
        return False
    return active()


def active() -> bool:
    """Whether this process runs under a seccomp filter (ours, from bwrap or apply_to_self)."""
    try:
        with open("/proc/self/status") as f:
            return any(line.split() == ["Seccomp:", "2"] for line in f)
    except OSError:
        return False
