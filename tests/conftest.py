"""Shared test helpers: the template, the `sop` command run in-process, a copy of a
workbook to work on, and the demo data refreshed into a copy of the template (the module
fixture ``demo``). Test modules import the plain helpers (``from conftest import …``:
pytest puts this folder on ``sys.path``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sop_workbook import demo_data
from sop_workbook.actions import refresh
from sop_workbook.cli import app
from sop_workbook.workbook.headless import HeadlessWorkbook

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "SOP_Template.xlsm"
runner = CliRunner()


def sop(*args):
    """Run ``sop <args>`` in-process; Click's result (exit code, output)."""
    return runner.invoke(app, [str(a) for a in args])


def copy_book(path: Path, tmp_path: Path) -> Path:
    """A copy of the workbook ``path`` to change (``tmp_path/book.xlsm``)."""
    copy = tmp_path / "book.xlsm"
    shutil.copy(path, copy)
    return copy


def refreshed_demo(folder: Path, name: str = "SOP_Demo.xlsm", *,
                   before: Callable[[HeadlessWorkbook], None] | None = None,
                   **demo_options) -> Path:
    """The demo data (``demo_options`` as :func:`demo_data.write` takes them) written to
    ``folder/data`` and refreshed into a copy of the template ``folder/name``; ``before``
    gets the workbook first (to type planner inputs). Saved without backups."""
    demo_data.write(folder / "data", **demo_options)
    path = folder / name
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    if before is not None:
        before(book)
    refresh(book, str(folder / "data"))
    book.save(backups=0)
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo workbook after Refresh (one per test module)."""
    return refreshed_demo(tmp_path_factory.mktemp("demo"))
