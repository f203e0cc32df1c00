"""Saving a workbook without ever leaving a broken or half-written file behind.

:func:`atomic_write` writes to a temporary file in the same folder, flushes it to disk,
checks it (a zip whose parts include the VBA project and ribbon when the original had
them, every worksheet present), keeps a backup of the previous file, then replaces the
original in one ``os.replace``. A crash at any point leaves either the old file or the
new one.
"""

from __future__ import annotations

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


def check_workbook_bytes(data: bytes, required: set[str] = frozenset()) -> None:
    """Raise SopError unless ``data`` is a readable workbook zip holding ``required`` parts."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            bad = z.testzip()
    except zipfile.BadZipFile as exc:
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


def atomic_write(path: Path, data: bytes, *, backups: int = DEFAULT_BACKUPS) -> None:
    """Replace ``path`` with ``data`` atomically, keeping ``backups`` previous versions
    (``name.bak1`` newest)."""
    path = Path(path)
    check_workbook_bytes(data, key_parts(path))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        check_workbook_bytes(tmp.read_bytes(), key_parts(path))
        if path.exists() and backups > 0:
            _rotate_backups(path, backups)
        os.replace(tmp, path)
    except PermissionError as exc:
        raise SopError(f"cannot write {path}: {exc.strerror}",
                       "Is the workbook open in another program, or read-only?") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def backup_path(path: Path, n: int = 1) -> Path:
    return path.with_name(f"{path.name}.bak{n}")


def _rotate_backups(path: Path, backups: int) -> None:
    for n in range(backups, 1, -1):
        older = backup_path(path, n - 1)
        if older.exists():
            os.replace(older, backup_path(path, n))
    data = path.read_bytes()
    target = backup_path(path, 1)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
