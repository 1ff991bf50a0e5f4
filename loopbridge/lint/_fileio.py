"""Reading and writing the files the lint touches, safely against hostile file-system entries.

Only regular files are read: a FIFO, a socket or a device named ``*.py`` (or
``pyproject.toml``, or a baseline) is refused at once instead of hanging the run on ``open``.
The file is opened non-blocking and checked with ``fstat`` on the open descriptor, so an entry
swapped for a FIFO between the directory walk and the read is refused too. Writes keep file
names that are not valid UTF-8 (``surrogateescape``), as the file system gave them.
"""

from __future__ import annotations

import json
import os
import stat

__all__ = ["NotRegularFile", "is_regular", "json_text", "read_bytes", "write_text"]


class NotRegularFile(OSError):
    """The path names something other than a regular file (a FIFO, socket, device, directory)."""


def is_regular(path: str) -> bool:
    """Whether ``path`` is a regular file (symbolic links followed), without opening it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def read_bytes(path: str, max_bytes: int = -1) -> bytes:
    """Read up to ``max_bytes`` (all if negative) of a regular file.

    Raises:
        NotRegularFile: ``path`` is not a regular file.
        OSError: it cannot be opened or read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except ValueError as exc:  # an embedded NUL byte in the path
        raise OSError(f"invalid path: {exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(0, "not a regular file (a FIFO, socket or device is not read)",
                                 path)
        return handle.read() if max_bytes < 0 else handle.read(max_bytes)


def json_text(document: object) -> str:
    """Indented JSON for ``document``: readable UTF-8, or ASCII escapes when a string holds a
    file name that is not valid UTF-8 (JSON reads the escapes back to the same name)."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(document, indent=2, ensure_ascii=True) + "\n"
    return text


def write_text(path: str, text: str) -> None:
    """Write ``text`` as UTF-8 (undecodable file names kept as their original bytes)."""
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(text)
