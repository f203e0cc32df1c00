"""``sop calendar``, ``sop agenda``, ``sop minutes``: the meeting cycle on the command line.

A thin adapter: the workbook is read through :mod:`sop_workbook.meeting.book`, the work is
done by the pure functions of :mod:`sop_workbook.meeting`. ``register(app)`` adds the
commands to the ``sop`` Typer app. User errors print ``error: …`` and exit 2 (the helpers
of :mod:`sop_workbook.cli`); nothing is written in that case.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from . import cli_console as console
from .errors import SopError

_Workbook = Annotated[Path, typer.Argument(help="The S&OP workbook (.xlsm).",
                                           readable=False)]  # a clean error when unreadable
_Cycle = Annotated[str | None, typer.Option(help="S&OP cycle YYYY-MM (default: Config's "
                                            "current period).")]
_Out = Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the files "
                                           "(default: the workbook's folder).")]
_From = Annotated[str | None, typer.Option("--from", help="Sender of the e-mail draft (default:"
                                           " none; the mail client fills it in).")]
_AsOf = Annotated[str | None, typer.Option("--as-of", help="Judge overdue actions as of this "
                                           "date YYYY-MM-DD (default: the meeting's date).")]


def _as_of(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SopError(f"--as-of {text!r} is not a date (YYYY-MM-DD)") from None


def _write(files: dict[Path, bytes]) -> None:
    """Write every file only after all were built (an error leaves nothing half-written)."""
    for path, data in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:
            raise SopError(f"cannot write {path}: {exc.strerror or exc}") from None


def calendar_cmd(
    workbook: _Workbook,
    year: Annotated[int | None, typer.Option(min=1900, max=9998, help="Calendar year (default:"
                                             " the year of Config's current period).")] = None,
    ics: Annotated[Path | None, typer.Option("--ics", help="Also write the calendar as an "
                                             ".ics file (Outlook, Google, Apple).")] = None,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Write the events into the "
                                       "workbook (table cal_events).")] = True,
    backups: Annotated[int, typer.Option(min=0, help="Previous versions to keep as "
                                         "WORKBOOK.bak1 … .bakN.")] = 3,
) -> None:
    """Generate the year's S&OP meetings from the Calendar sheet's rules (working days,
    public holidays, closures) plus the launches; store them in cal_events and/or an .ics.

    Rules: "working day N", "Nth working day", "working day -N", "last working day",
    "Nth <weekday>", "last <weekday>" (a weekday on a holiday moves to the next working
    day). Each stage must fall after the previous one.
    """
    from .input_rows import take_typed_rows
    from .meeting import calendar_to_ics
    from .meeting.book import build_calendar, current_cycle, optional_value, write_calendar
    from .workbook.headless import HeadlessWorkbook
    from .workbook.io import ensure_writable

    try:
        if save:
            ensure_writable(workbook)
        book = HeadlessWorkbook(workbook)
        take_typed_rows(book)  # rules, launches, closures typed below their tables
        year = year or int(current_cycle(book)[:4])
        events = build_calendar(book, year)
        data = None
        if ics is not None:
            company = str(optional_value(book, "cfg_company_name", "") or "")
            tzid = optional_value(book, "cfg_timezone")
            data = calendar_to_ics(events, company, tzid=str(tzid) if tzid else None)
        if save:
            write_calendar(book, events, year)
            book.save(backups=backups)
        if data is not None:
            _write({ics: data})
    except SopError as exc:
        console.fail(exc)
    meetings = int((events["time"] != "").sum())
    launches = len(events) - meetings
    if save:
        console.out.print(f"wrote {meetings} meetings and {launches} launches of {year} into "
                      f"{workbook} (cal_events)", markup=False)
    if data is not None:
        console.out.print(f"wrote {ics} ({len(events)} events)", markup=False)
    if not save and data is None:
        console.out.print(events.drop(columns=["duration_min"]).to_string(index=False),
                      markup=False, highlight=False)


def _documents(kind: str, workbook: Path, stage: int, out: Path | None, cycle: str | None,
               from_: str | None, as_of: str | None) -> None:
    from .input_rows import take_typed_rows
    from .meeting import agenda, minutes, to_eml
    from .meeting.book import meeting_pack, recipients
    from .workbook.headless import HeadlessWorkbook

    folder = out if out is not None else workbook.parent
    try:
        book = HeadlessWorkbook(workbook)
        take_typed_rows(book)  # actions and decisions typed below their tables (not saved)
        pack = meeting_pack(book, cycle, _as_of(as_of))
        doc = agenda(pack, stage) if kind == "agenda" else minutes(pack, stage)
        eml = to_eml(doc.subject, doc.markdown, doc.html, recipients(book), from_)
        files = {folder / f"{kind}.md": doc.markdown.encode("utf-8"),
                 folder / f"{kind}.html": doc.html.encode("utf-8"),
                 folder / f"{kind}.eml": eml}
        _write(files)
    except SopError as exc:
        console.fail(exc)
    if not pack.scorecard:
        console.err.print("warning: the scorecard has no values yet (run sop refresh); the "
                      "KPI exceptions are left out", markup=False, highlight=False,
                      soft_wrap=True)
    for path in files:
        console.out.print(f"wrote {path}", markup=False)


def agenda_cmd(
    workbook: _Workbook,
    stage: Annotated[int, typer.Option(min=1, max=6, help="Stage of the meeting: 1 "
                                       "Performance … 5 Pre-S&OP, 6 Executive.")] = 6,
    out: _Out = None,
    cycle: _Cycle = None,
    from_: _From = None,
    as_of: _AsOf = None,
) -> None:
    """Write the agenda of a meeting of the cycle (agenda.md, agenda.html and agenda.eml,
    an e-mail draft to Config's meeting e-mails): date and time from the calendar, timed
    items, last cycle's actions, KPI exceptions, decisions needed, pre-reads."""
    _documents("agenda", workbook, stage, out, cycle, from_, as_of)


def minutes_cmd(
    workbook: _Workbook,
    out: _Out = None,
    cycle: _Cycle = None,
    from_: _From = None,
    as_of: _AsOf = None,
    stage: Annotated[int, typer.Option(min=1, max=6, help="Stage of the meeting (default: the"
                                       " executive meeting).")] = 6,
) -> None:
    """Write the minutes of the cycle's executive meeting (minutes.md, .html, .eml):
    decisions taken, the action log restated (new, carried over, closed, overdue) and the
    next meeting from the calendar."""
    _documents("minutes", workbook, stage, out, cycle, from_, as_of)


def register(app: typer.Typer) -> None:
    """Add ``calendar``, ``agenda`` and ``minutes`` to the ``sop`` app."""
    app.command("calendar")(calendar_cmd)
    app.command("agenda")(agenda_cmd)
    app.command("minutes")(minutes_cmd)
