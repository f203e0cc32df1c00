"""The S&OP calendar: one date per meeting rule per month, plus product launches.

Rule grammar (case-insensitive, extra spaces ignored; ``N`` is a whole number, ordinals
may be written ``1st``/``2nd``/``3rd``/``4th`` … or ``first`` … ``fifth``)::

    working day N        the N-th working day of the month (N ≥ 1): "working day 5"
    Nth working day      the same: "5th working day", "first working day"
    working day -N       the N-th working day counted from the month end:
                         "working day -1" is the last one, "working day -2" the one before
    last working day     = "working day -1"
    Nth <weekday>        the N-th Monday … Sunday of the month (N = 1..5): "2nd tuesday";
                         weekday names may be abbreviated (tue, thu …)
    last <weekday>       the last such weekday of the month: "last friday"

A weekday rule whose date is not a working day (public holiday, company closure) moves to
the next working day (the note column says so). A working-day rule that asks for more
working days than the month has is an error, as is a "5th <weekday>" in a month with only
four of them.

Working days are Monday–Friday minus the public holidays of the configured country (and
subdivision) from the ``holidays`` package (observed days included) minus the company
closure days (table ``cal_closures``).

Stage order: within a month the events must follow the cycle — a rule of a later stage
(``3 Supply``) may not fall before a rule of an earlier stage (``2 Demand``); same day is
allowed when the time is not earlier. :func:`generate_calendar` raises a :class:`SopError`
naming the month and both events rather than publishing a calendar whose executive meeting
comes before its reviews. Stages are ordered by their leading number; rules with no
number are not checked.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from ..errors import SopError
from ..frames import blank, cell_text
from .tableref import TableRef

RULE_COLUMNS = ["event", "stage", "owner", "rule", "time", "duration_min", "notes"]
LAUNCH_COLUMNS = ["date", "item_no", "launch", "owner", "notes"]
EVENT_COLUMNS = ["cycle", "date", "weekday", "time", "event", "stage", "owner", "notes"]
#: generate_calendar adds this column after EVENT_COLUMNS (the .ics export uses it)
DURATION_COLUMN = "duration_min"
DEFAULT_DURATION = 60

DEFAULT_RULES = [
    ("Data refresh & performance review", "1 Performance", "Demand planner", "working day 3",
     "09:00", 60, ""),
    ("Demand review", "2 Demand", "Demand planner", "working day 5", "10:00", 90, ""),
    ("Supply review", "3 Supply", "Operations leader", "working day 8", "10:00", 90, ""),
    ("Finance review", "4 Finance", "Finance", "working day 10", "14:00", 60, ""),
    ("Pre-S&OP meeting", "5 Pre-S&OP", "Facilitator", "working day 12", "10:00", 120, ""),
    ("Executive S&OP", "6 Executive", "Executive chair", "working day 15", "09:00", 120, ""),
]

GRAMMAR = ('rules: "working day N", "Nth working day", "working day -N", "last working day", '
           '"Nth <weekday>" (N = 1..5), "last <weekday>"')

_WEEKDAYS = {name: i for i, names in enumerate([
    ("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"),
    ("thursday", "thu", "thur", "thurs"), ("friday", "fri"), ("saturday", "sat"),
    ("sunday", "sun")]) for name in names}
_ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
_ORD = r"\d+(?:st|nd|rd|th)?|first|second|third|fourth|fifth"


def _ordinal(text: str) -> int:
    text = text.strip()
    if text in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[text]
    return int(re.match(r"\d+", text).group())


@dataclass(frozen=True)
class Rule:
    """A parsed rule: ``kind`` "working" (n ≠ 0, negative from the end) or "weekday"
    (n = 1..5 or -1 for the last, ``weekday`` 0 = Monday)."""

    kind: str
    n: int
    weekday: int | None = None
    text: str = ""

    def date_in(self, year: int, month: int, days: WorkingDays) -> tuple[dt.date, str]:
        """The rule's date in a month and a note ("" or why the date moved).
        Raises ValueError when the month has no such day."""
        if self.kind == "working":
            working = days.working_days(year, month)
            if abs(self.n) > len(working):
                raise ValueError(f"{year}-{month:02d} has only {len(working)} working days")
            return working[self.n - 1 if self.n > 0 else self.n], ""
        first = dt.date(year, month, 1)
        last = _month_end(first)
        if self.n > 0:
            day = first + dt.timedelta(days=(self.weekday - first.weekday()) % 7
                                       + 7 * (self.n - 1))
            if day > last:
                raise ValueError(f"{year}-{month:02d} has no {_nth(self.n)} "
                                 f"{_day_name(self.weekday)}")
        else:
            day = last - dt.timedelta(days=(last.weekday() - self.weekday) % 7)
        if days.is_working(day):
            return day, ""
        moved = days.next_working(day)
        return moved, f"moved from {day:%a %d %b} ({days.why_not_working(day)})"


def _nth(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _day_name(weekday: int) -> str:
    return ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
            "Sunday"][weekday]


def _month_end(first: dt.date) -> dt.date:
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def parse_rule(text) -> Rule:
    """Parse one rule (grammar in the module docstring); ValueError if it cannot."""
    raw = "" if text is None else str(text)
    s = " ".join(raw.lower().replace(",", " ").split())
    if not s:
        raise ValueError("the rule is empty")
    if s == "last working day":
        return Rule("working", -1, text=raw)
    m = re.fullmatch(r"working day (-?\d+)", s)
    if m:
        n = int(m.group(1))
        if n == 0:
            raise ValueError("working day 0 does not exist (the first is working day 1)")
        return Rule("working", n, text=raw)
    m = re.fullmatch(rf"({_ORD}) working day", s)
    if m:
        n = _ordinal(m.group(1))
        if n < 1:
            raise ValueError("working days are counted from 1")
        return Rule("working", n, text=raw)
    m = re.fullmatch(rf"(last|{_ORD}) ([a-z]+)", s)
    if m and m.group(2) in _WEEKDAYS:
        weekday = _WEEKDAYS[m.group(2)]
        if m.group(1) == "last":
            return Rule("weekday", -1, weekday, raw)
        n = _ordinal(m.group(1))
        if not 1 <= n <= 5:
            raise ValueError(f"a month has at most 5 {_day_name(weekday)}s")
        return Rule("weekday", n, weekday, raw)
    raise ValueError(f"cannot read the rule {raw!r}")


class WorkingDays:
    """Monday–Friday minus public holidays (``holidays`` package) minus closure days.

    ``country`` None or "" → no public holidays (weekends and closures only)."""

    def __init__(self, country: str | None = "US", subdiv: str | None = None,
                 closures: Iterable = ()) -> None:
        import holidays

        self.country = (country or "").strip().upper() or None
        self.subdiv = (subdiv or "").strip() or None
        if self.country:
            try:
                self.holidays = holidays.country_holidays(self.country, subdiv=self.subdiv)
            except NotImplementedError as exc:
                raise SopError(f"no public holidays for country {self.country!r}"
                               + (f" subdivision {self.subdiv!r}" if self.subdiv else ""),
                               f"{exc}. Set cfg_holiday_country to an ISO 3166 code "
                               "(US, GB, DE, FR …) and cfg_holiday_subdiv to one of its "
                               "subdivisions or leave it empty.") from None
        else:
            self.holidays = {}
        self.closures: dict[dt.date, str] = {}
        for item in closures:
            day, reason = item if isinstance(item, tuple) else (item, "")
            self.closures[as_date(day)] = str(reason or "company closure")
        self._months: dict[tuple[int, int], list[dt.date]] = {}

    def why_not_working(self, day: dt.date) -> str:
        if day.weekday() >= 5:
            return "weekend"
        if day in self.closures:
            return self.closures[day]
        if day in self.holidays:
            return str(self.holidays.get(day))
        return ""

    def is_working(self, day: dt.date) -> bool:
        return not self.why_not_working(day)

    def next_working(self, day: dt.date) -> dt.date:
        day += dt.timedelta(days=1)
        while not self.is_working(day):
            day += dt.timedelta(days=1)
        return day

    def working_days(self, year: int, month: int) -> list[dt.date]:
        key = (year, month)
        if key not in self._months:
            first = dt.date(year, month, 1)
            last = _month_end(first)
            days = (first + dt.timedelta(days=i) for i in range((last - first).days + 1))
            self._months[key] = [d for d in days if self.is_working(d)]
        return self._months[key]


# ----------------------------------------------------------------------------- values


def as_date(value) -> dt.date:
    """A cell value as a date (datetime, date, Timestamp or ISO text); ValueError if not."""
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            raise ValueError("no date")
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    raise ValueError("no date" if blank(value) else f"{value!r} is not a date")


def _as_time(value) -> str:
    """A time cell (text "9:00"/"09:00", time, datetime or a day fraction) as "HH:MM"."""
    if blank(value):
        raise ValueError("no time")
    if isinstance(value, dt.datetime):
        value = value.time()
    if isinstance(value, dt.time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1:
        minutes = round(float(value) * 24 * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    m = re.fullmatch(r"(\d{1,2})[:.h](\d{2})(?::\d{2})?", str(value).strip())
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        return f"{int(m.group(1)):02d}:{m.group(2)}"
    raise ValueError(f"{value!r} is not a time (HH:MM)")


def _as_duration(value) -> int:
    if blank(value):
        return DEFAULT_DURATION
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"duration {value!r} is not a number of minutes") from None
    if not math.isfinite(minutes) or minutes <= 0 or minutes > 24 * 60:
        raise ValueError(f"duration {value!r} must be between 1 and 1440 minutes")
    return round(minutes)


def stage_number(stage) -> int | None:
    """1 for "1 Performance" … 6 for "6 Executive"; None for text without a number."""
    m = re.match(r"\s*(\d+)", cell_text(stage))
    return int(m.group(1)) if m else None


def _frame(rows, columns: list[str]) -> pd.DataFrame:
    if rows is None:
        return pd.DataFrame(columns=columns)
    if isinstance(rows, pd.DataFrame):
        return rows
    rows = list(rows)
    if rows and not isinstance(rows[0], dict):
        rows = [dict(zip(columns, r, strict=False)) for r in rows]
    return pd.DataFrame(rows, columns=columns)


def _closure_list(closures, ref: TableRef) -> list[tuple[dt.date, str]]:
    if closures is None:
        return []
    if isinstance(closures, pd.DataFrame):
        out, problems = [], []
        for idx, rec in closures.iterrows():
            try:
                out.append((as_date(rec.get("date")), cell_text(rec.get("reason"))))
            except ValueError as exc:
                problems.append(f"{ref.row(idx)}, column date: {exc}")
        if problems:
            raise SopError(f"{ref.table} has {len(problems)} bad row(s)", "\n".join(problems))
        return out
    return [(c[0], c[1]) if isinstance(c, tuple) else (c, "") for c in closures]


# ----------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class _RuleRow:
    index: object
    event: str
    stage: str
    owner: str
    rule: Rule
    time: str
    duration: int
    notes: str


def _read_rules(rules: pd.DataFrame, ref: TableRef) -> list[_RuleRow]:
    missing = [c for c in ("event", "rule", "time") if c not in rules.columns]
    if missing:
        raise SopError(f"table {ref.table} has no column(s) {', '.join(missing)}",
                       f"expected columns: {', '.join(RULE_COLUMNS)}")
    parsed, problems, seen = [], [], {}
    for idx, rec in rules.iterrows():
        event = cell_text(rec.get("event"))
        where = f"{ref.row(idx)}" + (f" (event {event!r})" if event else "")
        if not event:
            problems.append(f"{where}, column event: the event has no name")
        elif event.lower() in seen:
            problems.append(f"{where}, column event: the same event as "
                            f"{ref.row(seen[event.lower()])}")
        else:
            seen[event.lower()] = idx
        try:
            rule = parse_rule(rec.get("rule"))
        except ValueError as exc:
            problems.append(f"{where}, column rule: {exc} — {GRAMMAR}")
            rule = None
        try:
            time = _as_time(rec.get("time"))
        except ValueError as exc:
            problems.append(f"{where}, column time: {exc}")
            time = None
        try:
            duration = _as_duration(rec.get("duration_min"))
        except ValueError as exc:
            problems.append(f"{where}, column duration_min: {exc}")
            duration = None
        if rule and time and duration and event:
            parsed.append(_RuleRow(idx, event, cell_text(rec.get("stage")),
                                   cell_text(rec.get("owner")),
                                   rule, time, duration, cell_text(rec.get("notes"))))
    if problems:
        raise SopError(f"{ref.table}: {len(problems)} problem(s) in the meeting rules",
                       "\n".join(problems))
    return parsed


def _check_stage_order(month_events: list[dict], cycle: str) -> list[str]:
    numbered = [e for e in month_events if e["_stage_no"] is not None]
    problems = []
    for a in numbered:
        for b in numbered:
            if a["_stage_no"] < b["_stage_no"] and (b["date"], b["time"]) < (a["date"],
                                                                              a["time"]):
                problems.append(
                    f"{cycle}: {b['event']!r} ({b['stage']}) on {b['date']:%a %d %b} "
                    f"{b['time']} comes before {a['event']!r} ({a['stage']}) on "
                    f"{a['date']:%a %d %b} {a['time']}")
    return problems


_RULES, _LAUNCHES, _CLOSURES = (TableRef("cal_rules"), TableRef("cal_launches"),
                               TableRef("cal_closures"))


def generate_calendar(year: int, rules, launches=None, country: str | None = "US",
                      subdiv: str | None = None, closures=(), *,
                      rules_ref: TableRef = _RULES,
                      launches_ref: TableRef = _LAUNCHES,
                      closures_ref: TableRef = _CLOSURES) -> pd.DataFrame:
    """The year's calendar: one row per rule per month plus the launches dated in the year.

    ``rules``: the ``cal_rules`` rows (DataFrame, dicts or tuples in :data:`RULE_COLUMNS`
    order); ``launches``: ``cal_launches`` rows (date, item_no, launch, owner, notes);
    ``closures``: company closure days — dates, (date, reason) pairs or the
    ``cal_closures`` table (date, reason). Returns :data:`EVENT_COLUMNS` plus
    ``duration_min`` (empty for launches, which are all-day), sorted by date and time.
    ``date`` holds ``datetime.date`` values, ``time`` "HH:MM" text ("" for launches).
    Raises :class:`SopError` naming the table row for a bad rule, time, duration or launch
    date, and naming the month and both events if a later stage would come first.
    """
    if not isinstance(year, int) or not 1900 <= year <= 9998:
        raise SopError(f"year {year!r} is out of range")
    days = WorkingDays(country, subdiv, _closure_list(closures, closures_ref))
    parsed = _read_rules(_frame(rules, RULE_COLUMNS), rules_ref)
    rows, problems = [], []
    for month in range(1, 13):
        cycle = f"{year}-{month:02d}"
        month_rows = []
        for r in parsed:
            try:
                day, moved = r.rule.date_in(year, month, days)
            except ValueError as exc:
                problems.append(f"{rules_ref.row(r.index)} (event {r.event!r}), rule "
                                f"{r.rule.text!r}: {exc}")
                continue
            notes = "; ".join(n for n in (r.notes, moved) if n)
            month_rows.append({"cycle": cycle, "date": day, "weekday": f"{day:%a}",
                               "time": r.time, "event": r.event, "stage": r.stage,
                               "owner": r.owner, "notes": notes, DURATION_COLUMN: r.duration,
                               "_stage_no": stage_number(r.stage)})
        problems += _check_stage_order(month_rows, cycle)
        rows += month_rows
    if problems:
        raise SopError(f"the meeting calendar for {year} cannot be built: {len(problems)} "
                       "problem(s)", "\n".join(problems) + "\nFix the rules on the Calendar "
                       "sheet (cal_rules): each stage must come after the previous one.")
    rows += _launch_rows(year, _frame(launches, LAUNCH_COLUMNS), launches_ref)
    frame = pd.DataFrame(rows, columns=[*EVENT_COLUMNS, DURATION_COLUMN, "_stage_no"])
    frame["_order"] = frame["_stage_no"].fillna(0)
    frame = frame.sort_values(["date", "time", "_order", "event"], kind="stable")
    return frame.drop(columns=["_stage_no", "_order"]).reset_index(drop=True)


def _launch_rows(year: int, launches: pd.DataFrame, ref: TableRef) -> list[dict]:
    rows, problems = [], []
    for idx, rec in launches.iterrows():
        name, item = cell_text(rec.get("launch")), cell_text(rec.get("item_no"))
        if not name and not item and blank(rec.get("date")):
            continue
        try:
            day = as_date(rec.get("date"))
        except ValueError as exc:
            problems.append(f"{ref.row(idx)}, column date: {exc}")
            continue
        if not name and not item:
            problems.append(f"{ref.row(idx)}: the launch has neither a name nor an item_no")
            continue
        if day.year != year:
            continue
        title = f"Launch: {name or item}" + (f" ({item})" if name and item else "")
        rows.append({"cycle": f"{day:%Y-%m}", "date": day, "weekday": f"{day:%a}", "time": "",
                     "event": title, "stage": "", "owner": cell_text(rec.get("owner")),
                     "notes": cell_text(rec.get("notes")), DURATION_COLUMN: None,
                     "_stage_no": None})
    if problems:
        raise SopError(f"{ref.table}: {len(problems)} bad launch row(s)", "\n".join(problems))
    return rows
