"""Ribbon entry points, called from Excel through xlwings' ``RunPython``
(``xl/vba/Ribbon.bas``): ``import macros; macros.refresh()`` and so on.

Each wraps the calling workbook in the live adapter and runs the same action as the
headless command (``sop refresh``, ``sop roll-forward``, ``sop export-scorecard``). Errors
the planner can act on are shown in a message box; nothing is half-written (the actions
validate before they write).
"""

from __future__ import annotations

from pathlib import Path

import xlwings as xw

from sop_workbook import actions
from sop_workbook.errors import SopError
from sop_workbook.workbook.live import LiveWorkbook

TITLE = "S&OP"


def _run(action, *args):
    book = xw.Book.caller()
    try:
        return book, action(LiveWorkbook(book), *args)
    except SopError as exc:
        text = exc.summary + (f"\n\n{exc.detail}" if exc.detail else "")
        book.app.alert(text[:1800], title=TITLE)
        return book, None


def refresh() -> None:
    """Refresh: load the source named on Config (cfg_data_source), rewrite the data tables,
    let Excel recompute the KPI cells."""
    book = xw.Book.caller()
    source = book.names["cfg_data_source"].refers_to_range.value
    if not source:
        book.app.alert("Set the data source on the Config sheet first.", title=TITLE)
        return
    _, report = _run(actions.refresh, str(source))
    if report is not None:
        book.app.alert(f"Refreshed from {source}: {sum(report.rows.values()):,} rows.",
                       title=TITLE)


def roll_forward() -> None:
    """Roll forward one period (the ribbon has asked for confirmation already)."""
    book, report = _run(actions.roll_forward)
    if report is not None:
        book.app.alert(f"Rolled forward from {report.from_period} to {report.to_period}.",
                       title=TITLE)


def export_scorecard() -> None:
    """Export the scorecard next to the workbook, in <workbook name>_scorecard/."""
    book = xw.Book.caller()
    folder = Path(book.fullname).with_name(Path(book.fullname).stem + "_scorecard")
    _, files = _run(actions.export_scorecard, folder)
    if files is not None:
        book.app.alert(f"Scorecard written to {folder}", title=TITLE)


def check_setup() -> None:
    """Check setup (ribbon): what ``sop doctor`` checks, run by the interpreter the add-in
    uses, for the calling workbook; the result in a message box."""
    from sop_workbook.doctor import report

    book = xw.Book.caller()
    text, _ = report(Path(book.fullname))
    book.app.alert(text[:1800], title=TITLE + " - Check setup")
