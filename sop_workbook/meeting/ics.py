"""The calendar as an iCalendar file (RFC 5545) for Outlook, Google Calendar, Apple.

* One VEVENT per row. Meetings are timed events at the rule's time for ``duration_min``
  minutes (60 when missing); launches (no time) are all-day events.
* Times are *floating* local times (the same wall-clock time wherever the file is opened)
  unless a time zone is given (``tzid``, an IANA name such as ``Europe/Berlin``, e.g. from
  a ``cfg_timezone`` cell): then DTSTART/DTEND carry TZID and the file a VTIMEZONE.
* UID = a hash of (cycle, event) — stable, so importing the file again after the rules
  changed updates the events instead of duplicating them. SEQUENCE grows with the export
  time (minutes since 2024-01-01) so that clients take the newer version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pandas as pd

from ..errors import SopError
from ..frames import cell_text
from .calendar import DEFAULT_DURATION, DURATION_COLUMN

UID_DOMAIN = "sop-workbook"
_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def event_uid(cycle: str, event: str) -> str:
    """The stable UID of an event: a hash of its cycle and name."""
    key = f"{str(cycle).strip()}\x1f{str(event).strip().lower()}"
    return f"{uuid.UUID(hashlib.sha256(key.encode()).hexdigest()[:32])}@{UID_DOMAIN}"


def _date(value) -> dt.date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def calendar_to_ics(events: pd.DataFrame, company: str = "", *, tzid: str | None = None,
                    stamp: dt.datetime | None = None) -> bytes:
    """The ``cal_events`` rows (as :func:`generate_calendar` returns them, or read back
    from the workbook) as the bytes of an .ics file."""
    from icalendar import Calendar, Event

    tz = None
    if tzid:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            tz = ZoneInfo(str(tzid).strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise SopError(f"unknown time zone {tzid!r}",
                           "Use an IANA name such as Europe/Berlin or America/New_York, "
                           "or leave it empty for floating local times.") from None
    stamp = (stamp or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    sequence = max(0, int((stamp - _EPOCH).total_seconds() // 60))
    company = cell_text(company)
    cal = Calendar()
    cal.add("prodid", "-//sop-workbook//S&OP calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    name = f"{company} S&OP calendar" if company else "S&OP calendar"
    cal.add("x-wr-calname", name)
    if tz is not None:
        cal.add("x-wr-timezone", str(tzid).strip())
    seen: dict[str, int] = {}
    for rec in events.to_dict("records"):
        title, cycle = cell_text(rec.get("event")), cell_text(rec.get("cycle"))
        if not title:
            continue
        day = _date(rec.get("date"))
        if not cycle:
            cycle = f"{day:%Y-%m}"
        key = (cycle, title.lower())
        n = seen.get(str(key), 0)
        seen[str(key)] = n + 1
        uid = event_uid(cycle, title if n == 0 else f"{title}#{n + 1}")
        ev = Event()
        ev.add("uid", uid)
        ev.add("dtstamp", stamp)
        ev.add("sequence", sequence)
        ev.add("summary", f"{company}: {title}" if company else title)
        time = cell_text(rec.get("time"))
        if time:
            hour, minute = (int(x) for x in time.split(":")[:2])
            start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)
            duration = rec.get(DURATION_COLUMN)
            minutes = DEFAULT_DURATION if cell_text(duration) == "" else int(float(duration))
            ev.add("dtstart", start)
            ev.add("dtend", start + dt.timedelta(minutes=minutes))
            ev.add("transp", "OPAQUE")
        else:
            ev.add("dtstart", day)
            ev.add("dtend", day + dt.timedelta(days=1))
            ev.add("transp", "TRANSPARENT")
        stage, owner, notes = (cell_text(rec.get(k)) for k in ("stage", "owner", "notes"))
        lines = [f"S&OP cycle {cycle}"]
        if stage:
            lines.append(f"Stage: {stage}")
            ev.add("categories", [stage])
        if owner:
            lines.append(f"Owner: {owner}")
        if notes:
            lines.append(notes)
        ev.add("description", "\n".join(lines))
        cal.add_component(ev)
    if tz is not None:
        cal.add_missing_timezones()
    return cal.to_ical()
