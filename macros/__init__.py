"""Ribbon entry points, called from Excel through xlwings' ``RunPython``
(``xl/vba/Ribbon.bas``): ``import macros; macros.refresh()`` and so on.

Each wraps the calling workbook in the live adapter and runs the same action as the
headless command (``sop refresh``, ``sop roll-forward``, ``sop baseline``,
``sop export-scorecard``). Errors the planner can act on are shown in a message box;
nothing is half-written (the actions validate before they write).
"""

from __future__ import annotations

from pathlib import Path

import xlwings as xw

from sop_workbook import actions
from sop_workbook.errors import SopError
from sop_workbook.workbook.live import LiveWorkbook
from sop_workbook.workbook.lock import writer_lock

TITLE = "S&OP"


def _run(action, *args, writes: bool = True):
    """Run ``action`` on the calling workbook; a writing action holds the workbook's writer
    lock (the one ``sop refresh``/``roll-forward`` take) for its whole run, so a headless
    command on the same file waits or is refused, never overwritten."""
    book = xw.Book.caller()
    try:
        if not writes:
            return book, action(LiveWorkbook(book), *args)
        with writer_lock(Path(book.fullname), command=f"S&OP ribbon ({action.__name__})"):
            return book, action(LiveWorkbook(book), *args)
    except SopError as exc:
        text = exc.summary + (f"\n\n{exc.detail}" if exc.detail else "")
        book.app.alert(text[:1800], title=TITLE)
        return book, None


def refresh() -> None:
    """Refresh: load the source named on Config (cfg_data_source), rewrite the data tables,
    let Excel recompute the KPI cells. With Config's current period empty (a new workbook
    from the template), it is set to the month after the data's last month, as
    ``sop new --period`` would."""
    book = xw.Book.caller()
    source = book.names["cfg_data_source"].refers_to_range.value
    if not source:
        book.app.alert("Set the data source on the Config sheet first.", title=TITLE)
        return
    _, report = _run(actions.refresh, str(source))
    if report is not None:
        taken = "".join(f"\n{note}" for note in report.taken)  # rows typed below tables
        book.app.alert(f"Refreshed from {source}: {sum(report.rows.values()):,} rows.{taken}"
                       + _warnings(report.warnings), title=TITLE)


def _warnings(warnings: list[str]) -> str:
    """The warnings of an action (data not loaded for a closed period, a current period
    set from the data …) under the message, one paragraph each."""
    return "".join(f"\n\nWarning: {w}" for w in warnings)[:1500]


def roll_forward() -> None:
    """Roll forward one period (the ribbon has asked for confirmation already)."""
    book, report = _run(actions.roll_forward)
    if report is not None:
        taken = "".join(f"\n{note}" for note in report.taken)  # rows typed below tables
        book.app.alert(f"Rolled forward from {report.from_period} to {report.to_period}."
                       f"{taken}" + _warnings(report.warnings), title=TITLE)


def baseline() -> None:
    """Re-run the statistical baseline on the history in the workbook (no Refresh)."""
    book, report = _run(actions.rerun_baseline)
    if report is not None:
        book.app.alert(f"Baseline re-run for {report.series:,} item × location series.",
                       title=TITLE)


def export_scorecard() -> None:
    """Export the scorecard next to the workbook, in <workbook name>_scorecard/."""
    book = xw.Book.caller()
    folder = Path(book.fullname).with_name(Path(book.fullname).stem + "_scorecard")
    _, files = _run(actions.export_scorecard, folder, writes=False)
    if files is not None:
        book.app.alert(f"Scorecard written to {folder}", title=TITLE)


def check_setup() -> None:
    """Check setup (ribbon): what ``sop doctor`` checks, run by the interpreter the add-in
    uses, for the calling workbook; the result in a message box."""
    from sop_workbook.doctor import report

    book = xw.Book.caller()
    text, _ = report(Path(book.fullname))
    book.app.alert(text[:1800], title=TITLE + " - Check setup")
