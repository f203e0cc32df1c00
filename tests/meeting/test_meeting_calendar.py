"""The S&OP calendar: rule grammar, working days, hand-worked dates, stage order, .ics."""

from __future__ import annotations

import datetime as dt

import holidays
import pandas as pd
import pytest
from icalendar import Calendar

from sop_workbook.errors import SopError
from sop_workbook.meeting import (
    EVENT_COLUMNS,
    WorkingDays,
    calendar_to_ics,
    event_uid,
    generate_calendar,
    parse_rule,
)
from sop_workbook.meeting.calendar import DEFAULT_RULES, RULE_COLUMNS

D = dt.date


def rules(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=RULE_COLUMNS)


def one(rule: str, stage: str = "") -> pd.DataFrame:
    return rules(("Meeting", stage, "Facilitator", rule, "10:00", 60, ""))


def dates(frame: pd.DataFrame, event: str = "Meeting") -> dict[str, dt.date]:
    sub = frame[frame["event"] == event]
    return dict(zip(sub["cycle"], sub["date"], strict=True))


# ----------------------------------------------------------------------------- grammar

@pytest.mark.parametrize("text, kind, n, weekday", [
    ("working day 5", "working", 5, None),
    ("  Working  Day 12 ", "working", 12, None),
    ("5th working day", "working", 5, None),
    ("first working day", "working", 1, None),
    ("working day -2", "working", -2, None),
    ("LAST WORKING DAY", "working", -1, None),
    ("2nd tuesday", "weekday", 2, 1),
    ("3rd Thu", "weekday", 3, 3),
    ("last friday", "weekday", -1, 4),
    ("fourth monday", "weekday", 4, 0),
])
def test_rule_grammar(text, kind, n, weekday):
    rule = parse_rule(text)
    assert (rule.kind, rule.n, rule.weekday) == (kind, n, weekday)


@pytest.mark.parametrize("text", ["", "working day 0", "0th working day", "6th tuesday",
                                  "every tuesday", "working day five", "2nd funday",
                                  "day 5"])
def test_bad_rules_are_refused(text):
    with pytest.raises(ValueError):
        parse_rule(text)


def test_a_bad_rule_names_the_table_row_and_the_rule():
    bad = rules(DEFAULT_RULES[0], ("Demand review", "2 Demand", "Demand planner",
                                   "workday 5", "10:00", 90, ""))
    with pytest.raises(SopError) as info:
        generate_calendar(2027, bad, country="US")
    assert "cal_rules row 2" in info.value.detail
    assert "'workday 5'" in info.value.detail
    assert "Demand review" in info.value.detail


def test_bad_time_and_duplicate_event_are_named():
    bad = rules(("Demand review", "2 Demand", "x", "working day 5", "25:00", 90, ""),
                ("Demand review", "2 Demand", "x", "working day 6", "10:00", "long", ""))
    with pytest.raises(SopError) as info:
        generate_calendar(2027, bad, country="US")
    detail = info.value.detail
    assert "cal_rules row 1 (event 'Demand review'), column time" in detail
    assert "cal_rules row 2 (event 'Demand review'), column event: the same event as " \
           "cal_rules row 1" in detail
    assert "column duration_min" in detail


# ----------------------------------------------------------------------------- hand-worked

def test_working_day_5_after_new_year_us_2027():
    # Jan 2027: Fri 1 = New Year's Day, Sat 2/Sun 3 weekend → WD1 = Mon 4 … WD5 = Fri 8
    frame = generate_calendar(2027, one("working day 5"), country="US")
    assert dates(frame)["2027-01"] == D(2027, 1, 8)
    first = generate_calendar(2027, one("1st working day"), country="US")
    assert dates(first)["2027-01"] == D(2027, 1, 4)
    # Feb 2027 starts on a Monday, no holiday before the 15th (Presidents' Day)
    assert dates(frame)["2027-02"] == D(2027, 2, 5)
    # Jul 2027: Thu 1, Fri 2, (Sat 3, Sun 4), Mon 5 = Independence Day observed → Tue 6 = WD3,
    # Wed 7 = WD4, Thu 8 = WD5
    assert dates(frame)["2027-07"] == D(2027, 7, 8)


def test_working_day_15_with_a_holiday_inside_the_count():
    # Jan 2027 working days: 4-8 (5), 11-15 (10), 18 = MLK day, 19-22 (14), 25 → WD15
    frame = generate_calendar(2027, one("working day 15"), country="US")
    assert dates(frame)["2027-01"] == D(2027, 1, 25)


def test_last_working_day():
    frame = generate_calendar(2027, one("last working day"), country="US")
    got = dates(frame)
    # Mon 31 May 2027 is Memorial Day → Fri 28 May
    assert got["2027-05"] == D(2027, 5, 28)
    # Fri 31 Dec 2027 is New Year's Day (observed) → Thu 30 Dec
    assert got["2027-12"] == D(2027, 12, 30)
    # Oct 2027 ends on a Sunday → Fri 29 Oct
    assert got["2027-10"] == D(2027, 10, 29)
    second_last = generate_calendar(2027, one("working day -2"), country="US")
    assert dates(second_last)["2027-05"] == D(2027, 5, 27)


def test_nth_weekday_on_a_holiday_moves_to_the_next_working_day():
    # Nov 2025: Tuesdays 4, 11 … ; Tue 11 Nov = Veterans Day → Wed 12 Nov
    frame = generate_calendar(2025, one("2nd tuesday"), country="US")
    assert dates(frame)["2025-11"] == D(2025, 11, 12)
    note = frame[frame["cycle"] == "2025-11"]["notes"].iloc[0]
    assert "moved from Tue 11 Nov (Veterans Day)" in note
    assert dates(frame)["2025-12"] == D(2025, 12, 9)  # not a holiday: stays
    # a company closure on the 2nd Tuesday of March 2025 (11th) and the day after
    closed = generate_calendar(2025, one("2nd tuesday"), country="US",
                               closures=[(D(2025, 3, 11), "Stocktake"), D(2025, 3, 12)])
    assert dates(closed)["2025-03"] == D(2025, 3, 13)
    last_monday = generate_calendar(2027, one("last monday"), country="US")
    # Mon 31 May 2027 = Memorial Day → Tue 1 Jun (it may leave the month; cycle stays May)
    assert dates(last_monday)["2027-05"] == D(2027, 6, 1)


def test_fifth_weekday_missing_in_a_month_is_an_error():
    with pytest.raises(SopError) as info:
        generate_calendar(2027, one("5th friday"), country="US")
    assert "2027-02 has no 5th Friday" in info.value.detail


def test_subdivision_and_no_country():
    # 2027-02-15 Presidents' Day nationally; 2027-03-31 Cesar Chavez Day in California
    ca = WorkingDays("US", "CA")
    assert not ca.is_working(D(2027, 3, 31))
    assert WorkingDays("US").is_working(D(2027, 3, 31))
    none = WorkingDays(None)
    assert none.is_working(D(2027, 1, 1)) and not none.is_working(D(2027, 1, 2))
    with pytest.raises(SopError, match="no public holidays for country 'XX'"):
        WorkingDays("XX")


@pytest.mark.parametrize("country, subdiv", [("US", None), ("GB", "ENG"), ("DE", "BY"),
                                             ("FR", None)])
def test_every_generated_meeting_is_a_working_day(country, subdiv):
    closures = pd.DataFrame({"date": [dt.datetime(2027, 3, 3), "2027-08-04"],
                             "reason": ["Stocktake", "Summer shutdown"]})
    frame = generate_calendar(2027, [
        *DEFAULT_RULES,
        ("Month end", "", "Finance", "last working day", "16:00", 30, ""),
        ("Ops huddle", "", "Operations leader", "2nd tuesday", "08:30", 30, "")],
        country=country, subdiv=subdiv, closures=closures)
    public = holidays.country_holidays(country, subdiv=subdiv, years=[2027, 2028])
    assert len(frame) == 12 * 8
    for day in frame["date"]:
        assert day.weekday() < 5
        assert day not in public
        assert day not in (D(2027, 3, 3), D(2027, 8, 4))
    assert list(frame.columns[:len(EVENT_COLUMNS)]) == EVENT_COLUMNS


# ----------------------------------------------------------------------------- stage order

def test_stages_follow_the_cycle_every_month():
    frame = generate_calendar(2027, DEFAULT_RULES, country="US")
    for cycle, month in frame.groupby("cycle"):
        stages = [int(s[0]) for s in month["stage"]]
        assert stages == [1, 2, 3, 4, 5, 6], cycle
        assert month["date"].is_monotonic_increasing
    # the default rules in January 2027, by hand: WD3 6, WD5 8, WD8 13, WD10 15, WD12 20
    # (18 = MLK day), WD15 25
    jan = frame[frame["cycle"] == "2027-01"]
    assert list(jan["date"]) == [D(2027, 1, d) for d in (6, 8, 13, 15, 20, 25)]
    assert list(jan["weekday"]) == ["Wed", "Fri", "Wed", "Fri", "Wed", "Mon"]


def test_a_later_stage_before_an_earlier_one_is_an_error():
    bad = rules(("Demand review", "2 Demand", "x", "working day 5", "10:00", 90, ""),
                ("Supply review", "3 Supply", "x", "working day 4", "10:00", 90, ""))
    with pytest.raises(SopError) as info:
        generate_calendar(2027, bad, country="US")
    assert "'Supply review' (3 Supply) on Thu 07 Jan 10:00 comes before 'Demand review' " \
           "(2 Demand) on Fri 08 Jan 10:00" in info.value.detail
    # a weekday rule that collides only in some months is reported for those months
    mixed = rules(("Demand review", "2 Demand", "x", "working day 5", "10:00", 90, ""),
                  ("Supply review", "3 Supply", "x", "1st monday", "10:00", 90, ""))
    with pytest.raises(SopError) as info:
        generate_calendar(2027, mixed, country="US")
    detail = info.value.detail
    # Feb 2027 starts on a Monday: 1st Monday = Mon 1, working day 5 = Fri 5 → clash
    assert "2027-02: 'Supply review' (3 Supply) on Mon 01 Feb 10:00 comes before " \
           "'Demand review' (2 Demand) on Fri 05 Feb 10:00" in detail
    # Jun 2027 starts on a Tuesday: working day 5 = 1st Monday = Mon 7, same time → allowed
    assert "2027-06" not in detail


def test_same_day_later_time_is_fine_and_earlier_time_is_not():
    ok = rules(("Pre", "5 Pre-S&OP", "x", "working day 5", "09:00", 60, ""),
               ("Exec", "6 Executive", "x", "working day 5", "14:00", 60, ""))
    assert len(generate_calendar(2027, ok, country="US")) == 24
    bad = rules(("Pre", "5 Pre-S&OP", "x", "working day 5", "14:00", 60, ""),
                ("Exec", "6 Executive", "x", "working day 5", "09:00", 60, ""))
    with pytest.raises(SopError, match="cannot be built"):
        generate_calendar(2027, bad, country="US")


# ----------------------------------------------------------------------------- launches

def test_launches_are_listed_on_their_date_and_sorted_in():
    launches = pd.DataFrame([
        {"date": dt.datetime(2027, 1, 7), "item_no": "1000", "launch": "Widget Pro",
         "owner": "Marketing", "notes": "EMEA first"},
        {"date": "2027-01-09", "item_no": "1001", "launch": "", "owner": "", "notes": ""},
        {"date": "2028-01-03", "item_no": "1002", "launch": "Next year", "owner": "",
         "notes": ""}])
    frame = generate_calendar(2027, DEFAULT_RULES, launches, country="US")
    jan = frame[frame["cycle"] == "2027-01"]
    assert list(jan["event"]) == ["Data refresh & performance review",
                                  "Launch: Widget Pro (1000)", "Demand review",
                                  "Launch: 1001", "Supply review", "Finance review",
                                  "Pre-S&OP meeting", "Executive S&OP"]
    launch = jan[jan["event"] == "Launch: 1001"].iloc[0]
    assert launch["date"] == D(2027, 1, 9) and launch["time"] == ""  # a Saturday: kept
    assert not frame["event"].str.contains("Next year").any()
    with pytest.raises(SopError) as info:
        generate_calendar(2027, DEFAULT_RULES, pd.DataFrame(
            [{"date": "soon", "item_no": "1", "launch": "X", "owner": "", "notes": ""}]))
    assert "cal_launches row 1, column date: 'soon' is not a date" in info.value.detail


# ----------------------------------------------------------------------------- .ics

def parse(data: bytes) -> list:
    return Calendar.from_ical(data).walk("VEVENT")


def test_ics_round_trip_floating_times_and_all_day_launches():
    launches = pd.DataFrame([{"date": D(2027, 3, 10), "item_no": "A1", "launch": "Widget 2",
                              "owner": "Marketing", "notes": ""}])
    frame = generate_calendar(2027, DEFAULT_RULES, launches, country="US")
    events = parse(calendar_to_ics(frame, "Acme <Corp>"))
    assert len(events) == 73
    assert len({str(e["UID"]) for e in events}) == 73
    first = events[0]
    assert str(first["SUMMARY"]) == "Acme <Corp>: Data refresh & performance review"
    assert first.decoded("DTSTART") == dt.datetime(2027, 1, 6, 9, 0)  # floating: no tzinfo
    assert first.decoded("DTEND") == dt.datetime(2027, 1, 6, 10, 0)
    exec_jan = next(e for e in events if str(e["SUMMARY"]).endswith("Executive S&OP"))
    assert exec_jan.decoded("DTSTART") == dt.datetime(2027, 1, 25, 9, 0)
    assert exec_jan.decoded("DTEND") - exec_jan.decoded("DTSTART") == dt.timedelta(hours=2)
    assert str(exec_jan["UID"]) == event_uid("2027-01", "Executive S&OP")
    launch = next(e for e in events if "Widget 2" in str(e["SUMMARY"]))
    assert launch.decoded("DTSTART") == D(2027, 3, 10)
    assert launch.decoded("DTEND") == D(2027, 3, 11)
    assert "Owner: Marketing" in str(launch["DESCRIPTION"])


def test_ics_uids_are_stable_when_the_dates_change():
    early = generate_calendar(2027, DEFAULT_RULES, country="US")
    moved = [list(r) for r in DEFAULT_RULES]
    moved[5][3] = "working day 16"
    late = generate_calendar(2027, moved, country="US")
    a = {str(e["UID"]): e for e in parse(calendar_to_ics(early, "Acme"))}
    b = {str(e["UID"]): e for e in parse(calendar_to_ics(late, "Acme"))}
    assert a.keys() == b.keys()
    uid = event_uid("2027-01", "Executive S&OP")
    assert a[uid].decoded("DTSTART").date() == D(2027, 1, 25)
    assert b[uid].decoded("DTSTART").date() == D(2027, 1, 26)
    stamp1, stamp2 = (dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                      dt.datetime(2026, 11, 2, tzinfo=dt.UTC))
    s1 = parse(calendar_to_ics(early, "Acme", stamp=stamp1))[0]["SEQUENCE"]
    s2 = parse(calendar_to_ics(early, "Acme", stamp=stamp2))[0]["SEQUENCE"]
    assert s2 > s1  # a newer export supersedes the older one


def test_ics_with_a_time_zone():
    frame = generate_calendar(2027, DEFAULT_RULES, country="US")
    data = calendar_to_ics(frame, "Acme", tzid="Europe/Berlin")
    cal = Calendar.from_ical(data)
    assert [str(t["TZID"]) for t in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    start = cal.walk("VEVENT")[0].decoded("DTSTART")
    assert start.utcoffset() == dt.timedelta(hours=1)  # CET in January
    assert b"DTSTART;TZID=Europe/Berlin:20270106T090000" in data
    with pytest.raises(SopError, match="unknown time zone"):
        calendar_to_ics(frame, "Acme", tzid="Mars/Olympus")
