"""``sop undo``: the newest backup becomes the workbook again, once it passes the checks
a workbook passes (:mod:`.checks`); the backups are those :func:`.io.atomic_write` keeps."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SopError
from .checks import TemplateBuilder, check_sop_workbook
from .io import _fsync_dir, backup_path, ensure_writable, io_error


def restore_backup(path: Path, template: TemplateBuilder | None = None) -> Path:
    """Undo the last change: the newest backup becomes the workbook again; the current
    file is kept as ``name.undone``; older backups move up one. The backup must pass the
    checks a workbook passes before any command works on it
    (:func:`.checks.check_sop_workbook`, against the template ``template`` builds when
    SOP_Template.xlsm is missing); otherwise nothing changes."""
    path = Path(path)
    newest = backup_path(path, 1)
    if not (newest.exists() or newest.is_symlink()):
        raise SopError(f"no backup of {path} to restore ({newest.name} does not exist)")
    ensure_writable(path)
    try:
        check_sop_workbook(newest, what="backup", template=template)
    except SopError as exc:
        raise SopError(f"the backup {newest.name} cannot be restored: {exc.summary}",
                       "Nothing was changed.") from None
    try:
        if path.exists():
            os.replace(path, path.with_name(path.name + ".undone"))
        os.replace(newest, path)
        n = 2
        while backup_path(path, n).exists():
            os.replace(backup_path(path, n), backup_path(path, n - 1))
            n += 1
    except OSError as exc:
        raise io_error(exc, f"cannot restore {path}") from None
    _fsync_dir(path.parent)
    return path
