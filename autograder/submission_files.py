"""Is this a plain file we may read? The one answer for every way a submission comes in.

A submission is files a student made, so it may hold more than notebooks: a symbolic link to a
classmate's notebook (graded as theirs) or to a file of the grading machine (quoted back in an
error message), a hard link to someone else's file, a named pipe that blocks the reader, a device,
a socket. Only regular files of their own are read; the rest is refused with one line that names
the file and says what it is, and nothing of what it points to is ever opened.

    read_plain(path)                        -> bytes, or NotPlainFile("... is a symbolic link ...")
    copy_plain_tree(src, dst)               -> [Refused(...)]: the regular files copied, the rest named
    plain_zip_members(zipfile.ZipFile(f))   -> (members to extract, [Refused(...)])

Files are opened with O_NOFOLLOW and checked with fstat on the open descriptor, and folders are
walked with os.fwalk through descriptors, so a link swapped in between a check and a read is
refused too. Hard links (a regular file with more than one name) are refused where the folder is
untrusted (`hard_links=False`, the default): a student who can write there could have linked a
file of someone else's. Where a student only reads their own work (`make grade` on lessons/), a
hard link is theirs and is read.

The `make grade` path (the loader) refuses symbolic links too, though a student could only hurt
themselves there: a notebook that `make grade` scores must score the same when an instructor
collects it, and collecting refuses links.
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .printable import printable

PLAIN_ONLY = "submissions must be plain files"
MAX_FILE_BYTES = 100 << 20  # a notebook this large holds outputs, not code: reading it would only cost memory
MAX_DEPTH = 16  # folders inside a submission: a lesson needs two; walking 1,000 would recurse out
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC  # a FIFO must not block


class NotPlainFile(OSError):
    """A path that is not a regular file of its own; str() is one printable line naming it."""

    def __init__(self, path, why: str):
        super().__init__(f"{printable(path)}: {why}")
        self.path, self.why = path, why


@dataclass(frozen=True)
class Refused:
    """A file left out of a submission: its path (relative to what was collected) and why."""

    path: str
    why: str

    def line(self, who: str = "") -> str:
        """'refused: alice/01_chars/01_chars.ipynb: is a symbolic link, ... (submissions must be plain files)'."""
        where = self.path if not who else who if self.path == "." else f"{who}/{self.path}"
        return printable(f"refused: {where}: {self.why} ({PLAIN_ONLY})")


def what_it_is(info: os.stat_result, *, hard_links: bool = False) -> str | None:
    """Why a file with this (l)stat is not a plain file we may read, or None when it is one."""
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return "is a symbolic link, not a regular file"
    if stat.S_ISDIR(mode):
        return "is a folder, not a notebook file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    if not hard_links and info.st_nlink > 1:
        return f"is a hard link (the same file has {info.st_nlink} names), not a file of its own"
    return None


def problem(path, *, dir_fd: int | None = None, hard_links: bool = False) -> str | None:
    """Why `path` may not be read as a submitted file (from lstat: nothing is opened), or None."""
    try:
        info = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return "file not found"
    except OSError as err:
        return f"cannot be read ({err.strerror or err.__class__.__name__})"
    return what_it_is(info, hard_links=hard_links)


def name_problem(name: str) -> str | None:
    """Why a file or folder name may not be taken in: control characters (terminal escapes) in it."""
    return "has control characters in its name" if printable(name) != name else None


FORMULA_START = ("=", "+", "-", "@")  # what a spreadsheet reads as the start of a formula
NOT_IN_IDS = ",*?[]"  # nbgrader takes student ids as glob patterns (--student) and comma-separated lists


def student_id_problem(name: str) -> str | None:
    """Why a name may not become a student id: name_problem's reasons; a first character that makes a
    spreadsheet opening grades.csv run the id as a formula ('=HYPERLINK(...)' in a folder name); or a
    character nbgrader reads as a pattern or a separator (a student called '*' would be graded as
    everyone, 'a,b' would split make autograde's lists of whom each process leaves out)."""
    if name_problem(name):
        return name_problem(name)
    if name.startswith(FORMULA_START):
        return f"starts with '{name[0]}', which a spreadsheet opening grades.csv would run as a formula"
    special = sorted(set(name) & set(NOT_IN_IDS))
    if special:
        return f"has {' '.join(special)} in it, which nbgrader reads as a pattern or a list"
    return None


def larger_than(limit: int) -> str:
    """The reason for a file over `limit` bytes, in MB where the limit is a whole MB or more."""
    return f"is larger than {limit >> 20} MB" if limit >= 1 << 20 else f"is larger than {limit} bytes"


def is_real_folder(path, *, dir_fd: int | None = None) -> bool:
    """A folder itself, not a link to one."""
    try:
        return stat.S_ISDIR(os.stat(path, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def read_plain(path, *, dir_fd: int | None = None, hard_links: bool = False, limit: int | None = None) -> bytes:
    """The bytes of a regular file of its own; NotPlainFile for anything else (nothing of it is read).

    lstat first, so a device or a pipe is never even opened; then O_NOFOLLOW and fstat on the open
    descriptor, which is what is read, so a file swapped for a link in between is refused too.
    limit: raise NotPlainFile for a file larger than this many bytes, before reading it.
    """
    why = problem(path, dir_fd=dir_fd, hard_links=hard_links)
    if why:
        raise NotPlainFile(path, why)
    try:
        fd = os.open(path, _OPEN, dir_fd=dir_fd)
    except OSError as err:
        raise NotPlainFile(path, "is a symbolic link, not a regular file" if err.errno == errno.ELOOP
                           else f"cannot be read ({err.strerror or err.__class__.__name__})") from None
    try:
        info = os.fstat(fd)
        why = what_it_is(info, hard_links=hard_links)
        if why:
            raise NotPlainFile(path, why)
        if limit is not None and info.st_size > limit:
            raise NotPlainFile(path, larger_than(limit))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def copy_plain_tree(src, dst, *, hard_links: bool = False) -> list[Refused]:
    """Copy the regular files under `src` into `dst` (made, even if empty); what was left out, and why.

    Links (to files or folders), pipes, devices and sockets are never followed or opened; `src`
    itself must be a real folder (a link to one is refused as a whole)."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    if not is_real_folder(src):
        return [Refused(".", problem(src) or "is not a folder")]
    refused, walked = [], False
    for folder, dirs, files, dir_fd in os.fwalk(src, follow_symlinks=False):
        walked = True
        relative = Path(folder).relative_to(src)
        for name in list(dirs):  # os.fwalk lists a link to a folder among the folders: refuse it here
            if len(relative.parts) + 1 > MAX_DEPTH:
                dirs.remove(name)  # not walked: os.fwalk recurses once per level
                refused.append(Refused(str(relative / name), f"is more than {MAX_DEPTH} folders deep"))
            elif name_problem(name):
                dirs.remove(name)
                refused.append(Refused(str(relative / name), name_problem(name)))
            elif is_real_folder(name, dir_fd=dir_fd):
                (dst / relative / name).mkdir(exist_ok=True)
            else:
                dirs.remove(name)
                refused.append(Refused(str(relative / name), problem(name, dir_fd=dir_fd) or "is not a folder"))
        for name in files:
            if name_problem(name):
                refused.append(Refused(str(relative / name), name_problem(name)))
                continue
            try:
                data = read_plain(name, dir_fd=dir_fd, hard_links=hard_links, limit=MAX_FILE_BYTES)
            except NotPlainFile as err:
                refused.append(Refused(str(relative / name), err.why))
                continue
            (dst / relative / name).write_bytes(data)
    if not walked:  # os.fwalk found `src` replaced (by a link) between the check above and its walk
        refused.append(Refused(".", "changed while it was being collected (replaced by a link?)"))
    return sorted(refused, key=lambda item: item.path)


def zip_member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry may not be extracted: a link or other special file, or a path out of the archive."""
    name = PurePosixPath(info.filename.replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts or not name.parts:
        return "has a path that leaves the archive (absolute, or with '..')"
    if name_problem(info.filename):
        return name_problem(info.filename)
    if len(name.parts) > MAX_DEPTH + 1:
        return f"is more than {MAX_DEPTH} folders deep"
    if info.file_size > MAX_FILE_BYTES:
        return larger_than(MAX_FILE_BYTES)
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_IFMT(mode):  # made on Unix: the entry records its file type
        why = what_it_is(os.stat_result((mode, 0, 0, 1, 0, 0, 0, 0, 0, 0)), hard_links=True)
        if why and not (info.is_dir() and stat.S_ISDIR(mode)):
            return why
    return None


def plain_zip_members(archive: zipfile.ZipFile) -> tuple[list[zipfile.ZipInfo], list[Refused]]:
    """The archive's regular files and folders to extract, and the entries refused (links, `..` paths)."""
    members, refused = [], []
    for info in archive.infolist():
        why = zip_member_problem(info)
        if why:
            refused.append(Refused(info.filename, why))
        else:
            members.append(info)
    return members, refused


def extract_plain(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], dst) -> None:
    """Write these members (from plain_zip_members) under `dst` as new regular files and folders."""
    dst = Path(dst)
    for info in members:
        target = dst / PurePosixPath(info.filename.replace("\\", "/"))
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, open(target, "wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
