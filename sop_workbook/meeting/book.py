"""Read the meeting cycle's inputs from a workbook and write the calendar back.

Works on the workbook interface (:class:`HeadlessWorkbook` or the live xlwings adapter):
``read_table``, ``write_table``, ``table_columns``, ``table_position``, ``get_value``,
``result_of_name``. Optional tables and names (``cal_launches``, ``cal_closures``,
``cfg_holiday_subdiv``, ``cfg_timezone`` …) may be missing.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pandas as pd

from ..errors import DamagedWorkbookError, SopError
from ..frames import blank, cell_text
from ..ports import Workbook
from .action_log import validate_actions
from .calendar import (
    DEFAULT_DURATION,
    DURATION_COLUMN,
    as_date,
    generate_calendar,
    stage_number,
)
from .documents import KpiRow, Meeting, MeetingPack
from .tableref import TableRef


def optional_value(book: Workbook, name: str, default=None):
    """A defined name's value (a formula's cached result), or ``default`` when the
    workbook has no such name or the cell is empty."""
    try:
        value = book.get_value(name)
        if isinstance(value, str) and value.startswith("="):
            value = book.result_of_name(name)
    except SopError:
        return default
    return default if blank(value) else value


def optional_table(book: Workbook, name: str) -> pd.DataFrame | None:
    """A table, or None when the workbook has none of that name (a damaged workbook is
    still an error)."""
    try:
        return book.read_table(name)
    except DamagedWorkbookError:
        raise
    except SopError:
        return None


def table_ref(book: Workbook, name: str) -> TableRef:
    try:
        sheet, header = book.table_position(name)
    except (SopError, AttributeError):
        return TableRef(name)
    return TableRef(name, sheet, header)


def current_cycle(book: Workbook) -> str:
    period = cell_text(optional_value(book, "cfg_current_period"))
    if not period:
        raise SopError("the workbook has no current period (Config: cfg_current_period)")
    _check_cycle(period)
    return period


def _check_cycle(cycle: str) -> None:
    try:
        dt.date.fromisoformat(f"{cycle}-01")
    except ValueError:
        raise SopError(f"{cycle!r} is not a period (YYYY-MM)") from None


def build_calendar(book: Workbook, year: int) -> pd.DataFrame:
    """The year's calendar from the workbook's rules, launches, closures and holiday
    settings (cfg_holiday_country, default US; cfg_holiday_subdiv)."""
    rules = book.read_table("cal_rules")
    if rules.empty:
        raise SopError("the Calendar sheet has no meeting rules (table cal_rules is empty)")
    return generate_calendar(
        year, rules, optional_table(book, "cal_launches"),
        country=cell_text(optional_value(book, "cfg_holiday_country", "US")),
        subdiv=cell_text(optional_value(book, "cfg_holiday_subdiv", "")) or None,
        closures=optional_table(book, "cal_closures"),
        rules_ref=table_ref(book, "cal_rules"), launches_ref=table_ref(book, "cal_launches"),
        closures_ref=table_ref(book, "cal_closures"))


def write_calendar(book: Workbook, events: pd.DataFrame, year: int | None = None) -> int:
    """Write the events into ``cal_events`` (the columns the table has). With ``year``,
    the table's rows of other years are kept (a calendar per year can be added)."""
    columns = book.table_columns("cal_events")
    frame = events[[c for c in events.columns if c in columns]]
    if year is not None:
        old = book.read_table("cal_events")
        if len(old) and "cycle" in old:
            keep = old[~old["cycle"].map(_cycle_of).str.startswith(f"{year}-")]
            keep = keep[[c for c in keep.columns if c in frame.columns]]
            if len(keep):
                frame = pd.concat([keep, frame], ignore_index=True)
                key = frame["date"].map(lambda d: as_date(d) if not blank(d) else dt.date.max)
                frame = frame.assign(_k=key).sort_values("_k", kind="stable").drop(columns="_k")
    book.write_table("cal_events", frame.reset_index(drop=True))
    return len(events)


def _meetings(frame: pd.DataFrame, durations: dict[str, int]) -> list[Meeting]:
    out = []
    for r in frame.to_dict("records"):
        event = cell_text(r.get("event"))
        if not event or blank(r.get("date")):
            continue
        duration = r.get(DURATION_COLUMN)
        minutes = int(float(duration)) if not blank(duration) else durations.get(
            event.lower(), DEFAULT_DURATION)
        time = r.get("time")
        if isinstance(time, (dt.time, dt.datetime)):
            time = f"{time.hour:02d}:{time.minute:02d}"
        out.append(Meeting(event, cell_text(r.get("stage")), as_date(r.get("date")),
                           cell_text(time), minutes, cell_text(r.get("owner")),
                           cell_text(r.get("notes"))))
    return out


def cycle_meetings(book: Workbook, cycle: str, calendars: dict[int, pd.DataFrame] | None = None
                   ) -> list[Meeting]:
    """The cycle's events: the rows of ``cal_events`` for it (as the planner may have
    moved them), or, when the table has none, the calendar generated from the rules."""
    _check_cycle(cycle)
    rules = optional_table(book, "cal_rules")
    durations = {}
    if rules is not None and len(rules):
        for r in rules.to_dict("records"):
            if cell_text(r.get("event")) and not blank(r.get("duration_min")):
                with contextlib.suppress(TypeError, ValueError):
                    durations[cell_text(r["event"]).lower()] = int(float(r["duration_min"]))
    stored = optional_table(book, "cal_events")
    if stored is not None and len(stored) and "cycle" in stored:
        rows = stored[stored["cycle"].map(_cycle_of) == cycle]
        if len(rows):
            return _meetings(rows, durations)
    calendars = {} if calendars is None else calendars
    year = int(cycle[:4])
    if year not in calendars:
        calendars[year] = build_calendar(book, year)
    frame = calendars[year]
    return _meetings(frame[frame["cycle"] == cycle], durations)


def _cycle_of(value) -> str:
    """A cycle cell as "YYYY-MM" (Excel may have turned typed text into a date)."""
    if isinstance(value, (dt.date, pd.Timestamp)):
        return f"{value:%Y-%m}"
    return cell_text(value)


def next_cycle(cycle: str) -> str:
    year, month = int(cycle[:4]), int(cycle[5:7])
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def _scorecard(book: Workbook) -> tuple[list[KpiRow], str]:
    from ..scorecard_export import collect_scorecard

    try:
        card = collect_scorecard(book)
    except SopError:
        return [], ""
    return [KpiRow(k.label, k.fmt(k.value), k.fmt(k.target), k.status, k.owner)
            for k in card.kpis], card.period


def meeting_pack(book: Workbook, cycle: str | None = None, as_of: dt.date | None = None
                 ) -> MeetingPack:
    """Everything the agenda and minutes need, read from the workbook."""
    cycle = cycle or current_cycle(book)
    _check_cycle(cycle)
    calendars: dict[int, pd.DataFrame] = {}
    meetings = cycle_meetings(book, cycle, calendars)
    try:
        following = cycle_meetings(book, next_cycle(cycle), calendars)
    except SopError:  # e.g. a rule impossible next year: the minutes say "not yet known"
        following = []
    rules = optional_table(book, "cal_rules")
    attendees = []
    if rules is not None and "owner" in rules:
        ordered = sorted(rules.to_dict("records"),
                         key=lambda r: stage_number(r.get("stage")) or 99)
        for r in ordered:
            owner = cell_text(r.get("owner"))
            if owner and owner not in attendees:
                attendees.append(owner)
    scorecard, period = _scorecard(book)
    actions = book.read_table("act_log")
    return MeetingPack(
        company=cell_text(optional_value(book, "cfg_company_name", "")), cycle=cycle,
        meetings=meetings, next_meetings=following, attendees=attendees,
        scorecard=scorecard, scorecard_period=period,
        gaps=optional_table(book, "presop_decisions"),
        decisions=optional_table(book, "exec_decisions"),
        actions=validate_actions(actions, ref=table_ref(book, "act_log")),
        as_of=as_of)


def recipients(book: Workbook) -> list[str]:
    text = cell_text(optional_value(book, "cfg_meeting_emails", ""))
    return [a.strip() for a in text.replace(";", ",").split(",") if a.strip()]
