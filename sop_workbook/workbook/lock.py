"""One writer at a time: an exclusive OS lock next to the workbook.

Every command that writes a workbook (and the ribbon's *Refresh* and *Roll forward*)
holds :func:`writer_lock` for its whole run — from before it reads the workbook until
after the new file has replaced the old one — so a second writer can never work from a
stale copy and silently undo the first one's change (a lost update). The second writer
waits up to ``wait`` seconds (``SOP_LOCK_WAIT``, default 10) for the lock, then refuses
with one line naming the holder (program, process id, host, since when).

The lock is ``fcntl.flock`` (``msvcrt.locking`` on Windows) on ``.~sop.<name>.lock`` in
the workbook's folder. The OS releases it when the holder ends, however it ends (a killed
process holds nothing), so there is no stale-lock clean-up to get wrong. The file holds
the holder's description and is removed when the lock is released; a waiter that
acquires a file removed meanwhile takes the lock again on the new file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import SopError

DEFAULT_WAIT = 10.0
_POLL = 0.05


def lock_path(workbook: Path) -> Path:
    workbook = Path(workbook)
    return workbook.with_name(f".~sop.{workbook.name}.lock")


def default_wait() -> float:
    try:
        return max(0.0, float(os.environ.get("SOP_LOCK_WAIT", DEFAULT_WAIT)))
    except ValueError:
        return DEFAULT_WAIT


class WorkbookLocked(SopError):
    """Another process holds the workbook's writer lock."""


if os.name == "nt":  # pragma: no cover - Windows (Excel users running the ribbon)
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text.splitlines()[0] if text else "another process"


def _describe(command: str) -> str:
    since = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return f"{command} (pid {os.getpid()} on {socket.gethostname()}, since {since})\n"


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


@contextlib.contextmanager
def writer_lock(workbook: str | Path, *, wait: float | None = None,
                command: str | None = None) -> Iterator[Path]:
    """Hold the exclusive writer lock of ``workbook`` (see the module docstring).

    Raises :class:`WorkbookLocked` (a one-line :class:`SopError`) if another writer still
    holds it after ``wait`` seconds, or SopError if the lock file cannot be created.
    """
    workbook = Path(workbook)
    path = lock_path(workbook)
    wait = default_wait() if wait is None else wait
    command = command or " ".join(["sop", *sys.argv[1:2]])
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SopError(f"cannot lock {workbook}: cannot create {path.name} in "
                           f"{path.parent} ({exc.strerror})", "Nothing was written.") from None
        if _try_lock(fd):
            if _same_file(fd, path):  # not removed by a holder releasing it meanwhile
                break
            _unlock(fd)
        os.close(fd)
        if time.monotonic() >= deadline:
            waited = f" after waiting {wait:g} s" if wait else ""
            raise WorkbookLocked(f"{workbook} is being changed by {_holder(path)}{waited}; "
                                 "try again when it has finished", "Nothing was written.")
        time.sleep(_POLL)
    try:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, _describe(command).encode("utf-8", "replace"))
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # before unlocking: a waiter then sees the file is gone
        _unlock(fd)
        os.close(fd)


def tidy_if_idle(workbook: str | Path) -> None:
    """For commands that only read a workbook: if no writer holds its lock, remove the
    temporary files a killed run left next to it (see :func:`io.remove_temporaries`)."""
    from .io import remove_temporaries

    workbook = Path(workbook)
    if not workbook.parent.is_dir():
        return
    try:
        with writer_lock(workbook, wait=0, command="sop (tidying)"):
            remove_temporaries(workbook)
    except SopError:
        pass  # a writer is at work (its temporaries are its own) or the folder is read-only
