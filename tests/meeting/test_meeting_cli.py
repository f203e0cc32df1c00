"""sop calendar / agenda / minutes on a copy of SOP_Template.xlsm (the real template, which
carries cal_rules, cal_launches, cal_closures, cal_events and the Config names)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
from icalendar import Calendar

from sop_workbook.meeting import EVENT_COLUMNS, agenda, event_uid
from sop_workbook.meeting.book import meeting_pack
from sop_workbook.workbook.headless import HeadlessWorkbook

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"
D = dt.date

# the commands on an app of their own (the lead wires register(app) into sop's app)
RUNNER = """
import sys, typer
from sop_workbook.cli_meeting import register
app = typer.Typer(pretty_exceptions_enable=False, rich_markup_mode=None)
app.callback()(lambda: None)
register(app)
app(sys.argv[1:], prog_name="sop")
"""


def sop(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUNNER, *map(str, args)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "200"},
                          cwd=ROOT)


@pytest.fixture
def book_path(tmp_path) -> Path:
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    edit(path, cfg_company_name="Harbor & Pine")  # the template names no company
    return path


def edit(path: Path, **tables: pd.DataFrame) -> None:
    book = HeadlessWorkbook(path)
    for name, frame in tables.items():
        if name.startswith("cfg_"):
            book.set_value(name, frame)
        else:
            book.write_table(name, frame)
    book.save(backups=0)


def test_template_carries_the_meeting_tables():
    book = HeadlessWorkbook(TEMPLATE)
    assert book.table_columns("cal_events") == EVENT_COLUMNS
    assert book.table_columns("cal_rules") == ["event", "stage", "owner", "rule", "time",
                                               "duration_min", "notes"]
    assert book.get_value("cfg_holiday_country") == "US"


def test_calendar_writes_the_events_and_an_ics(book_path, tmp_path):
    edit(book_path,
         cal_launches=pd.DataFrame([{"date": dt.datetime(2026, 11, 12), "item_no": "1000",
                                     "launch": "Widget <Pro>", "owner": "Marketing",
                                     "notes": ""}]),
         cal_closures=pd.DataFrame([{"date": dt.datetime(2026, 11, 23),
                                     "reason": "Inventory count"}]))
    ics = tmp_path / "out" / "sop.ics"
    result = sop("calendar", book_path, "--year", 2026, "--ics", ics)
    assert result.returncode == 0, result.stderr
    assert "wrote 72 meetings and 1 launches of 2026" in result.stdout
    assert (tmp_path / "wb.xlsm.bak1").is_file()  # saved with the backup mechanism
    events = HeadlessWorkbook(book_path).read_table("cal_events")
    assert len(events) == 73
    nov = events[events["cycle"] == "2026-11"]
    # Nov 2026: Sun 1; WD 2-6 (5), 9-10 (7), Wed 11 Veterans Day, 12-13 (9), 16-20 (14),
    # Mon 23 closed (inventory count) → WD15 = Tue 24; Thu 26 Thanksgiving
    got = dict(zip(nov["event"], nov["date"], strict=True))
    assert got["Data refresh & performance review"] == dt.datetime(2026, 11, 4)
    assert got["Demand review"] == dt.datetime(2026, 11, 6)
    assert got["Supply review"] == dt.datetime(2026, 11, 12)
    assert got["Pre-S&OP meeting"] == dt.datetime(2026, 11, 18)
    assert got["Executive S&OP"] == dt.datetime(2026, 11, 24)
    assert got["Launch: Widget <Pro> (1000)"] == dt.datetime(2026, 11, 12)
    row = nov[nov["event"] == "Executive S&OP"].iloc[0]
    assert (row["weekday"], row["time"], row["owner"]) == ("Tue", "09:00", "Executive chair")
    cal = Calendar.from_ical(ics.read_bytes())
    vevents = cal.walk("VEVENT")
    assert len(vevents) == 73
    assert str(cal["X-WR-CALNAME"]) == "Harbor & Pine S&OP calendar"
    by_uid = {str(e["UID"]): e for e in vevents}
    exec_nov = by_uid[event_uid("2026-11", "Executive S&OP")]
    assert exec_nov.decoded("DTSTART") == dt.datetime(2026, 11, 24, 9, 0)
    assert exec_nov.decoded("DTEND") == dt.datetime(2026, 11, 24, 11, 0)
    assert str(exec_nov["SUMMARY"]) == "Harbor & Pine: Executive S&OP"
    launch = next(e for e in vevents if "Widget" in str(e["SUMMARY"]))
    assert launch.decoded("DTSTART") == D(2026, 11, 12)  # all-day


def test_calendar_for_another_year_keeps_this_year(book_path):
    assert sop("calendar", book_path).returncode == 0  # the current period's year: 2026
    assert sop("calendar", book_path, "--year", 2027).returncode == 0
    events = HeadlessWorkbook(book_path).read_table("cal_events")
    assert len(events) == 144
    assert events["cycle"].str[:4].value_counts().to_dict() == {"2026": 72, "2027": 72}
    again = sop("calendar", book_path, "--year", 2027)
    assert again.returncode == 0
    assert len(HeadlessWorkbook(book_path).read_table("cal_events")) == 144


def test_a_bad_rule_exits_2_and_changes_nothing(book_path, tmp_path):
    book = HeadlessWorkbook(book_path)
    rules = book.read_table("cal_rules")
    rules.loc[1, "rule"] = "working dya 5"
    book.write_table("cal_rules", rules)
    book.save(backups=0)
    before = book_path.read_bytes()
    result = sop("calendar", book_path, "--ics", tmp_path / "x.ics")
    assert result.returncode == 2
    assert result.stderr.startswith("error: cal_rules: 1 problem(s) in the meeting rules")
    assert ("cal_rules row 2 (sheet 'Calendar', row 6) (event 'Demand review'), column rule: "
            "cannot read the rule 'working dya 5'") in result.stderr
    assert book_path.read_bytes() == before
    assert not (tmp_path / "x.ics").exists()


def test_preview_without_saving(book_path):
    before = book_path.read_bytes()
    result = sop("calendar", book_path, "--no-save", "--year", 2027)
    assert result.returncode == 0
    assert re.search(r"2027-01 2027-01-25 +Mon 09:00 +Executive S&OP +6 Executive", result.stdout)
    assert book_path.read_bytes() == before


# ----------------------------------------------------------------------------- documents

HOSTILE = "<script>alert(1)</script> check & fix"


@pytest.fixture(scope="module")
def meeting_book(tmp_path_factory) -> Path:
    """The template with actions, gaps, decisions and meeting e-mails (not refreshed: the
    scorecard has no values; ScoredBook below supplies them)."""
    path = tmp_path_factory.mktemp("meeting") / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    book.write_table("act_log", pd.DataFrame([
        {"id": 1, "action": "Chase vendor V-10", "owner": "Supply planning",
         "due": dt.datetime(2026, 10, 30), "status": "open", "stage": "3 Supply",
         "cycle": "2026-10"},
        {"id": 2, "action": HOSTILE, "owner": "Demand planner",
         "due": dt.datetime(2026, 12, 4), "status": "open", "stage": "2 Demand",
         "cycle": "2026-11"},
        {"id": 3, "action": "Fix BOM of item 1003", "owner": "Operations leader",
         "due": dt.datetime(2026, 11, 10), "status": "done", "stage": "1 Performance",
         "cycle": "2026-10"}]))
    book.write_table("presop_decisions", pd.DataFrame([
        {"gap": "December capacity short on WC-2", "stage": "3 Supply",
         "impact": "1,200 units late", "options": "overtime; outsource",
         "recommendation": "overtime", "owner": "Operations leader",
         "decide_by": dt.datetime(2026, 11, 23), "status": "open"}]))
    book.write_table("exec_decisions", pd.DataFrame([
        {"decision": "Approve December overtime", "owner": "Operations leader",
         "due": dt.datetime(2026, 12, 1), "status": "approved"}]))
    book.set_value("cfg_meeting_emails", "chair@harbor.example, finance@harbor.example")
    book.set_value("cfg_company_name", "Harbor & Pine")  # the template names no company
    book.save(backups=0)
    return path


class ScoredBook(HeadlessWorkbook):
    """The workbook as it reads after a refresh: KPI cells with computed results."""

    KPIS: ClassVar[dict] = {"kpi_period": "2026-10", "kpi_sales_otd": 0.80, "kpi_fill_rate": 0.97,
            "kpi_vendor_otd": 0.88}

    def result_of_name(self, name):
        if name.startswith("kpi_"):
            return self.KPIS.get(name)
        return super().result_of_name(name)

    def result_at(self, sheet, coord):
        value = self.wb[sheet][coord.replace("$", "")].value
        return None if isinstance(value, str) and value.startswith("=") else value


def test_the_scorecard_exceptions_come_from_the_workbook(meeting_book):
    pack = meeting_pack(ScoredBook(meeting_book))
    assert pack.scorecard_period == "2026-10"
    rows = {k.label: k for k in pack.scorecard}
    # Config targets: sales OTD 95 % (amber 90 %), vendor OTD 95 % (amber 85 %), fill 95 %
    assert (rows["Sales on-time delivery"].actual, rows["Sales on-time delivery"].target,
            rows["Sales on-time delivery"].rag) == ("80.0%", "95.0%", "RED")
    assert rows["Vendor on-time delivery"].rag == "AMBER"
    assert rows["Fill rate (on time, in full)"].rag == "GREEN"
    md = agenda(pack, 6).markdown
    exceptions = md.split("## 3. Scorecard: KPI exceptions (red and amber)")[1].split("\n## ")[0]
    assert "KPIs of 2026-10 off target:" in exceptions
    assert exceptions.index("| Sales on-time delivery | 80.0% | 95.0% | RED |") < \
        exceptions.index("| Vendor on-time delivery | 88.0% | 95.0% | AMBER |")
    assert "Fill rate" not in exceptions
    assert pack.attendees == ["Demand planner", "Operations leader", "Finance", "Facilitator",
                              "Executive chair"]


def read_eml(path: Path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_agenda_files(meeting_book, tmp_path):
    result = sop("agenda", meeting_book, "--out", tmp_path, "--from", "sop@harbor.example")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("warning: the scorecard has no values yet (run sop "
                                    "refresh)")
    md = (tmp_path / "agenda.md").read_text()
    html = (tmp_path / "agenda.html").read_text()
    assert "**When:** Monday 23 November 2026 09:00–11:00" in md  # WD15 of Nov 2026
    assert "**Company:** Harbor & Pine" in md and "Harbor &amp; Pine" in html
    assert "| 1 | Chase vendor V-10 | Supply planning | Fri 30 Oct 2026 | OVERDUE |" in md
    assert "December capacity short on WC-2" in md
    assert "The scorecard has no values yet: refresh the workbook" in md
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    msg = read_eml(tmp_path / "agenda.eml")
    assert msg["X-Unsent"] == "1"
    assert msg["To"] == "chair@harbor.example, finance@harbor.example"
    assert msg["From"] == "sop@harbor.example"
    assert msg["Subject"] == "Harbor & Pine S&OP 2026-11 — agenda: Executive S&OP, " \
                             "Mon 23 Nov 2026 09:00"
    body = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    assert body["text/plain"] == md and body["text/html"] == html


def test_agenda_of_the_demand_review(meeting_book, tmp_path):
    result = sop("agenda", meeting_book, "--stage", 2, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "agenda.md").read_text()
    assert "# Agenda: Demand review" in md
    assert "**When:** Friday 06 November 2026 10:00–11:30" in md
    assert "Chase vendor" not in md  # a supply action is not on the demand agenda
    assert "\\<script\\>alert(1)\\</script\\> check & fix" in md


def test_minutes_files(meeting_book, tmp_path):
    result = sop("minutes", meeting_book, "--out", tmp_path, "--as-of", "2026-11-23")
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "minutes.md").read_text()
    assert "| Approve December overtime | Operations leader | Tue 01 Dec 2026 | APPROVED |" in md
    assert "As of 23 Nov 2026: 1 new, 1 carried over, 1 closed, 1 overdue." in md
    closed = md.split("### Closed this cycle (1)")[1]
    assert "| 3 | Fix BOM of item 1003 | Operations leader | Tue 10 Nov 2026 | done |" in closed
    # next executive meeting: Dec 2026 WD15 = Mon 21 Dec (1-4, 7-11, 14-18, 21)
    assert "Executive S&OP: Monday 21 December 2026 09:00–11:00." in md
    msg = read_eml(tmp_path / "minutes.eml")
    assert msg["From"] is None and msg["X-Unsent"] == "1"
    assert msg.get_content_type() == "multipart/alternative"


def test_bad_action_row_exits_2_naming_the_sheet_row(book_path, tmp_path):
    edit(book_path, act_log=pd.DataFrame([
        {"id": 1, "action": "ok", "owner": "Finance", "due": dt.datetime(2026, 12, 1),
         "status": "open"},
        {"id": 2, "action": "who?", "owner": None, "due": "soon", "status": "later"}]))
    result = sop("minutes", book_path, "--out", tmp_path / "docs")
    assert result.returncode == 2
    assert result.stderr.startswith("error: the action log (act_log) has 3 problem(s)")
    assert "act_log row 2 (sheet 'Actions', row 6), column status: 'later' is not one of" \
        in result.stderr
    assert "act_log row 2 (sheet 'Actions', row 6), column due: 'soon' is not a date" \
        in result.stderr
    assert not (tmp_path / "docs").exists()


def test_user_errors_exit_2(book_path, tmp_path):
    cases = [
        (("agenda", book_path, "--as-of", "tomorrow"), "error: --as-of 'tomorrow' is not a date"),
        (("agenda", book_path, "--cycle", "2026-13"), "error: '2026-13' is not a period"),
        (("agenda", tmp_path / "missing.xlsm"), "error: workbook not found"),
    ]
    for args, message in cases:
        result = sop(*args, "--out", tmp_path / "docs")
        assert result.returncode == 2, args
        assert result.stderr.startswith(message), result.stderr
    edit(book_path, cfg_holiday_country="XX")
    result = sop("calendar", book_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no public holidays for country 'XX'")
    assert not (tmp_path / "docs").exists()
