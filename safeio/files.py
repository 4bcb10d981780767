"""Reading input files safely: regular files only, a size cap, UTF-8 or a clear error."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .limits import check_limit, limit


class InputFileError(ValueError):
    """An input file that cannot be read (missing, not a regular file, too big, not UTF-8)."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_bytes(path: str | os.PathLike[str], what: str = "input",
               error: type[Exception] = InputFileError) -> bytes:
    """The bytes of the regular file ``path`` (symlinks followed), at most the
    ``input_bytes`` limit; anything else raises ``error("PATH: problem")``."""
    name = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error(f"{name}: no such file ({what})") from None
    except PermissionError:
        raise error(f"{name}: permission denied ({what})") from None
    except (OSError, ValueError) as exc:  # ValueError: NUL in the name
        problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else "bad file name"
        raise error(f"{name}: cannot open ({problem}) ({what})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{name}: {_kind(st.st_mode)}, not a regular file ({what})")
        check_limit("input_bytes", st.st_size, f"{name}", error)
        cap = limit("input_bytes")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:  # a file that grows while we read it (or lies about its size)
                check_limit("input_bytes", total, f"{name}", error)
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"{name}: cannot read ({exc.strerror or exc}) ({what})") from None
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike[str], what: str = "input",
              error: type[Exception] = InputFileError) -> str:
    """``read_bytes`` decoded as UTF-8 (a leading BOM dropped); invalid bytes are an error
    naming the offset."""
    data = read_bytes(path, what, error)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{os.fspath(path)}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} "
                    f"at offset {exc.start}) ({what})") from None


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """True for an existing regular file (symlinks followed); never raises."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False
