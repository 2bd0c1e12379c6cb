"""Reading a file of the project safely: only a regular file, at most a given size, opened without blocking and
checked on the open descriptor (a FIFO named uv.lock, a symlink to /dev/zero, a file swapped after a check cannot
make a read wait or run on), and every refusal said as a ProjectFileError with the file, the reason and the place.
Every reader of the project's files (pyproject.toml, uv.lock, requirements, Dockerfiles, the documented commands)
reads through here.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from torchdoctor.snapshot import ProjectFileError


class FileProblem(Exception):
    """Internal: carries a ProjectFileError out of a reader."""

    def __init__(self, error: ProjectFileError):
        super().__init__(error.message)
        self.error = error


def read_text(path: Path, limit: int) -> str:
    """The file's text, or a FileProblem that says exactly why it cannot be used.

    Only a regular file is read, and at most `limit` bytes of it: the file is opened without blocking (a FIFO
    named uv.lock would otherwise wait forever for a writer) and checked on the open descriptor, so a symlink to
    /dev/zero or a file swapped after a check cannot make the read endless."""
    data = read_regular_file(path, limit)
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = position_of(data, nul)
        raise FileProblem(ProjectFileError(str(path), "binary", "it contains a NUL byte: this is binary, not TOML text", line, column))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = position_of(data, error.start)
        raise FileProblem(
            ProjectFileError(str(path), "binary", f"byte 0x{data[error.start]:02x} is not valid UTF-8 text", line, column)
        ) from None
    if not text.strip():
        raise FileProblem(ProjectFileError(str(path), "empty", "the file is empty", 1, 1))
    return text.removeprefix("\ufeff")


def read_regular_file(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file, or a FileProblem saying why not."""
    def problem(kind: str, message: str) -> FileProblem:
        return FileProblem(ProjectFileError(str(path), kind, message))

    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise problem("unreadable", f"cannot read it: {error.strerror}") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(status.st_mode) else "a device" if stat.S_ISCHR(status.st_mode) or
                    stat.S_ISBLK(status.st_mode) else "a socket" if stat.S_ISSOCK(status.st_mode) else "a folder"
                    if stat.S_ISDIR(status.st_mode) else "not a regular file")
            raise problem("not-a-file", f"it is {kind}, not a regular file: torchdoctor does not read it")
        if status.st_size > limit:
            raise problem("too-large", f"it is {status.st_size / 1048576:.1f} MiB, more than the {limit / 1048576:.0f} MiB "
                                       "torchdoctor reads; it is probably not the file it is named after")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise problem("too-large", f"it grew past the {limit / 1048576:.0f} MiB torchdoctor reads while it was read")
        return b"".join(chunks)
    except OSError as error:
        raise problem("unreadable", f"cannot read it: {error.strerror}") from None
    finally:
        os.close(descriptor)


def position_of(data: bytes | str, offset: int) -> tuple[int, int]:
    """1-based line and column of an offset."""
    if isinstance(data, bytes):
        line, last = data.count(b"\n", 0, offset), data.rfind(b"\n", 0, offset)
    else:
        line, last = data.count("\n", 0, offset), data.rfind("\n", 0, offset)
    return line + 1, offset - (last + 1) + 1
