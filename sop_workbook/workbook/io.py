"""Saving a workbook without ever leaving a broken or half-written file behind.

:func:`atomic_write` writes to a temporary file in the same folder, flushes it to disk,
checks it (a zip whose parts include the VBA project and ribbon when the original had
them, every worksheet present), keeps a backup of the previous file, then replaces the
original in one ``os.replace``. A crash at any point leaves either the old file or the
new one.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import zipfile
from pathlib import Path

from ..errors import SopError

DEFAULT_BACKUPS = 3
#: Limits for reading a workbook someone else made (zip bombs): parts, total size, ratio.
MAX_PARTS = 5_000
MAX_UNCOMPRESSED = 1 << 30  # 1 GiB
MAX_RATIO = 200


def check_zip_limits(path: Path) -> None:
    """Refuse a workbook whose zip would expand beyond sane limits, before parsing it."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise SopError(f"{path} is not a workbook (.xlsx/.xlsm is a zip file): {exc}") \
            from None
    if len(infos) > MAX_PARTS:
        raise SopError(f"{path}: {len(infos):,} parts in the file; refusing to open it")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        raise SopError(f"{path}: would expand to {total / 2**30:.1f} GiB; refusing to open it")
    for info in infos:
        ratio = info.file_size / max(1, info.compress_size)
        if ratio > MAX_RATIO and info.file_size > 10 * 2**20:
            raise SopError(f"{path}: part {info.filename} expands {ratio:.0f}× (a zip bomb?); "
                           "refusing to open it")


def check_workbook_bytes(data: bytes | Path, required: set[str] = frozenset(),
                         verified: frozenset[str] = frozenset()) -> None:
    """Raise SopError unless ``data`` (bytes, or a file) is a readable workbook zip holding
    ``required`` parts whose checksums match (parts in ``verified`` had theirs computed
    from their content as they were written, so only their presence is checked)."""
    try:
        with zipfile.ZipFile(data if isinstance(data, Path) else io.BytesIO(data)) as z:
            names = set(z.namelist())
            bad = None
            for info in z.infolist():
                if info.filename in verified:
                    continue
                with z.open(info) as fh:  # reads the part through: checks its CRC
                    while fh.read(1 << 20):
                        pass
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):
            raise SopError(f"the new workbook is damaged ({exc})") from None
        raise SopError(f"the new workbook is not a valid file: {exc}") from None
    if bad is not None:
        raise SopError(f"the new workbook is damaged (part {bad})")
    missing = sorted(required - names)
    if missing:
        raise SopError(f"the new workbook lacks {', '.join(missing)}")


def key_parts(path: Path) -> set[str]:
    """The parts a save must keep: workbook, VBA project, ribbon, worksheets."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, FileNotFoundError):
        return set()
    keep = {"xl/workbook.xml", "xl/vbaProject.bin", "customUI/customUI.xml"}
    return {n for n in names if n in keep or n.startswith("xl/worksheets/sheet")}


def lock_files(path: Path) -> list[Path]:
    """Lock files that Excel (``~$name``) or LibreOffice (``.~lock.name#``) keep next to a
    workbook while it is open."""
    candidates = [path.with_name("~$" + path.name), path.with_name(f".~lock.{path.name}#")]
    return [p for p in candidates if p.exists()]


def ensure_writable(path: Path) -> None:
    """Refuse, before any work, to write a workbook that is open elsewhere or read-only."""
    path = Path(path)
    locks = lock_files(path)
    if locks:
        raise SopError(f"{path} is open in another program ({locks[0].name} exists)",
                       "Close it there first; nothing was written.")
    if path.exists() and (not os.access(path, os.W_OK)
                          or not path.stat().st_mode & 0o222):  # no write bit: read-only,
        raise SopError(f"{path} is read-only", "Nothing was written.")  # even for root
    if not os.access(path.parent if str(path.parent) else Path("."), os.W_OK):
        raise SopError(f"cannot write in the folder {path.parent}", "Nothing was written.")


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files left by a process that was killed mid-save (never the original)."""
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:-4]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def temporaries(path: Path) -> list[Path]:
    """The temporary files a save of ``path`` makes (``.name.<pid>.tmp``, ``name.bakN.tmp``)
    that are there now."""
    path = Path(path)
    name = glob_escape(path.name)
    found = list(path.parent.glob(f".{name}.*.tmp")) + list(path.parent.glob(f"{name}.bak*.tmp"))
    return [p for p in found if p.is_file() or p.is_symlink()]


def remove_temporaries(path: Path) -> list[Path]:
    """Remove every temporary file of a save of ``path`` — call only while holding its
    writer lock (:mod:`.lock`): then no other save is using them, so they are what a
    killed run left behind. Returns what was removed."""
    removed = []
    for tmp in temporaries(path):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed


def glob_escape(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write(path: Path, data, *, backups: int = DEFAULT_BACKUPS,
                 verified: frozenset[str] = frozenset()) -> None:
    """Replace ``path`` with ``data`` (bytes, or a list of pieces of bytes written one
    after the other) atomically, keeping ``backups`` previous versions (``name.bak1``
    newest). ``data`` is written and flushed to a temporary file, which is read back and
    must equal ``data`` and be a workbook zip whose parts' checksums match (all but those
    in ``verified``, whose checksums were computed as they were written) before it
    replaces ``path``."""
    path = Path(path)
    pieces = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    ensure_writable(path)
    try:
        _remove_stale_temporaries(path)
        required = key_parts(path)
    except OSError as exc:
        raise io_error(exc, f"cannot read {path}", "The workbook was not changed.") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            for piece in pieces:
                fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
        if not _reads_back_as(tmp, pieces):
            raise SopError(f"writing {path} failed: the file on disk differs from what was "
                           "written", "The workbook was not changed.")
        check_workbook_bytes(tmp, required, verified)
        if path.exists() and backups > 0:
            _rotate_backups(path, backups)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise io_error(exc, f"cannot write {path}", "The workbook was not changed.") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _reads_back_as(path: Path, pieces, chunk: int = 1 << 20) -> bool:
    """Whether the file at ``path`` holds exactly ``pieces`` one after the other — read
    back a megabyte at a time (a workbook of 60 MB is not held twice in memory)."""
    with open(path, "rb") as fh:
        for piece in pieces:
            view = memoryview(piece).cast("B")
            for pos in range(0, len(view), chunk):
                part = view[pos:pos + chunk]
                if fh.read(len(part)) != part:
                    return False
        return fh.read(1) == b""


def io_error(exc: OSError, what: str, detail: str = "") -> SopError:
    """An OSError as a one-line error the user can act on (disk full, permission, I/O)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EFBIG: "the file is larger than this system allows",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EROFS: "the file system is read-only", errno.EIO: "an input/output error",
            }.get(exc.errno)
    text = f"{what}: {hint} ({reason})" if hint and hint.lower() != reason.lower() \
        else f"{what}: {reason}"
    if exc.filename and str(exc.filename) not in what:
        text += f" [{exc.filename}]"
    return SopError(text, detail)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def backup_path(path: Path, n: int = 1) -> Path:
    return path.with_name(f"{path.name}.bak{n}")


def _rotate_backups(path: Path, backups: int) -> None:
    """Move ``.bak1`` … up one and make the current file ``.bak1``: a hard link to it where
    the file system has them (no copy: it cannot fail for lack of space, and the rename
    of the new file leaves the link holding the old content), else a flushed copy."""
    target = backup_path(path, 1)
    tmp = target.with_name(target.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(path, tmp)
    except OSError:
        try:
            with open(path, "rb") as src, open(tmp, "wb") as fh:
                while chunk := src.read(1 << 22):
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
    try:
        for n in range(backups, 1, -1):
            older = backup_path(path, n - 1)
            if older.exists() or older.is_symlink():
                os.replace(older, backup_path(path, n))
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
