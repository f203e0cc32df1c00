"""Action log (validation, overdue, restatement) and the agenda, minutes and .eml draft."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from sop_workbook.errors import SopError
from sop_workbook.meeting import (
    KpiRow,
    Meeting,
    MeetingPack,
    TableRef,
    add_action,
    agenda,
    minutes,
    overdue,
    restate,
    set_status,
    to_eml,
    validate_actions,
)
from sop_workbook.meeting.action_log import ACTION_COLUMNS

D = dt.date
HOSTILE = '<script>alert("x")</script> & | *bold* [link](http://evil)'


def log(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=ACTION_COLUMNS)


ACTIONS = log(
    (1, "Fix vendor OTD for V-10", "Supply planning", dt.datetime(2026, 10, 20), "open",
     "3 Supply", "2026-10", ""),                                    # carried, overdue
    (2, "Review safety stock", "Operations leader", "2026-12-15", "in progress", "3 Supply",
     "2026-10", ""),                                                # carried, not due yet
    (3.0, "Close Q3 budget gap", "Finance", D(2026, 11, 5), "done", "4 Finance", "2026-10",
     ""),                                                           # closed (due in window)
    (4, HOSTILE, "Demand planner", D(2026, 11, 30), "open", "2 Demand", "2026-11", ""),  # new
    (5, "Old closed action", "Sales", D(2026, 6, 1), "done", "2 Demand", "2026-06", ""),
    (6, "New, already late", "Finance", D(2026, 11, 20), "Open", "4 Finance", "2026-11", ""),
    (7, "Cancelled this cycle", "Sales", None, "cancelled", "2 Demand", "2026-11", ""),
)


# ----------------------------------------------------------------------------- action log

def test_validation_normalises_the_log():
    v = validate_actions(ACTIONS)
    assert list(v["id"]) == ["1", "2", "3", "4", "5", "6", "7"]
    assert v.loc[0, "due"] == D(2026, 10, 20) and v.loc[1, "due"] == D(2026, 12, 15)
    assert v.loc[5, "status"] == "open" and v.loc[6, "due"] is None


def test_bad_rows_are_named_by_table_and_sheet_row():
    bad = log((1, "ok", "Finance", "2026-11-01", "open", "", "", ""),
              (2, "no owner", "", "2026-11-01", "open", "", "", ""),
              (3, "bad status", "Sales", "2026-11-01", "waiting", "", "", ""),
              (4, "bad due", "Sales", "next week", "open", "", "", ""),
              (5, "no due", "Sales", None, "in progress", "", "", ""),
              (6, "bad cycle", "Sales", "2026-11-01", "open", "", "Nov", ""))
    bad.index = [0, 1, 2, 3, 4, 5]
    with pytest.raises(SopError) as info:
        validate_actions(bad, ref=TableRef("act_log", "Actions", 4))
    lines = info.value.detail.splitlines()
    assert info.value.summary == "the action log (act_log) has 5 problem(s)"
    assert lines == [
        "act_log row 2 (sheet 'Actions', row 6), column owner: the action has no owner",
        "act_log row 3 (sheet 'Actions', row 7), column status: 'waiting' is not one of "
        "open, in progress, done, cancelled",
        "act_log row 4 (sheet 'Actions', row 8), column due: 'next week' is not a date "
        "(YYYY-MM-DD)",
        "act_log row 5 (sheet 'Actions', row 9), column due: an open action needs a due date",
        "act_log row 6 (sheet 'Actions', row 10), column cycle: 'Nov' is not a cycle "
        "(YYYY-MM)",
    ]


def test_overdue_as_of_a_date():
    v = validate_actions(ACTIONS)
    assert list(v.index[overdue(v, D(2026, 11, 25))]) == [0, 5]
    assert list(v.index[overdue(v, D(2026, 11, 20))]) == [0]  # due today is not overdue
    assert not overdue(v, D(2026, 10, 1)).any()


def test_restate_the_log_for_a_cycle():
    r = restate(validate_actions(ACTIONS), "2026-11", as_of=D(2026, 11, 25))
    assert list(r.new["id"]) == ["6", "4"]          # raised in 2026-11, open; by due date
    assert list(r.carried["id"]) == ["1", "2"]      # raised earlier, still open
    assert list(r.closed["id"]) == ["3", "7"]       # 3: due since 2026-10-01; 7: this cycle
    assert list(r.overdue["id"]) == ["1", "6"]
    assert "5" not in set(r.open["id"]) | set(r.closed["id"])  # closed long ago


def test_add_and_update_actions():
    v = validate_actions(ACTIONS)
    more = add_action(v, "Call supplier", "Supply planning", "2026-12-01", stage="3 Supply",
                      cycle="2026-11")
    assert more.iloc[-1]["id"] == "8" and more.iloc[-1]["due"] == D(2026, 12, 1)
    assert len(validate_actions(more)) == 8
    with pytest.raises(SopError) as info:
        add_action(v, "Nobody", "", "2026-12-01")
    assert "column owner: the action has no owner" in info.value.detail
    done = set_status(more, "8", "done", note="closed at the executive meeting")
    assert done.iloc[-1]["status"] == "done"
    assert done.iloc[-1]["notes"] == "closed at the executive meeting"
    with pytest.raises(SopError, match="no action with id 99"):
        set_status(more, 99, "done")
    with pytest.raises(SopError, match="not one of"):
        set_status(more, 8, "finished")


# ----------------------------------------------------------------------------- documents

def pack(**kw) -> MeetingPack:
    meetings = [
        Meeting("Pre-S&OP meeting", "5 Pre-S&OP", D(2026, 11, 17), "10:00", 120, "Facilitator"),
        Meeting("Launch: Widget Pro (1000)", "", D(2026, 11, 18), "", 60, "Marketing"),
        Meeting("Executive S&OP", "6 Executive", D(2026, 11, 20), "09:00", 120,
                "Executive chair"),
        Meeting("Demand review", "2 Demand", D(2026, 11, 6), "10:00", 90, "Demand planner"),
    ]
    nxt = [Meeting("Demand review", "2 Demand", D(2026, 12, 7), "10:00", 90, "Demand planner"),
           Meeting("Executive S&OP", "6 Executive", D(2026, 12, 21), "09:00", 120,
                   "Executive chair")]
    base = dict(
        company="Acme & Sons", cycle="2026-11", meetings=meetings, next_meetings=nxt,
        attendees=["Demand planner", "Operations leader", "Finance", "Executive chair"],
        scorecard=[KpiRow("Sales on-time delivery", "91.0%", "95.0%", "AMBER",
                          "Operations leader"),
                   KpiRow("Fill rate (on time, in full)", "97.0%", "95.0%", "GREEN"),
                   KpiRow("Vendor on-time delivery", "70.0%", "95.0%", "RED",
                          "Supply planning")],
        scorecard_period="2026-10",
        gaps=pd.DataFrame([{"gap": "Capacity short in Dec on WC-2", "stage": "3 Supply",
                            "impact": "-1,200 units", "options": "overtime | outsource",
                            "recommendation": "overtime", "owner": "Operations leader",
                            "decide_by": dt.datetime(2026, 11, 20), "status": "open"},
                           {"gap": "Settled already", "stage": "2 Demand", "impact": "",
                            "options": "", "recommendation": "", "owner": "Sales",
                            "decide_by": None, "status": "done"}]),
        decisions=pd.DataFrame([{"decision": "Approve overtime in December",
                                 "owner": "Operations leader", "due": D(2026, 12, 1),
                                 "status": "approved"},
                                {"decision": "Price increase 3 %", "owner": "Finance",
                                 "due": None, "status": "deferred"}]),
        actions=validate_actions(ACTIONS),
    )
    base.update(kw)
    return MeetingPack(**base)


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def html_parts(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    return p


def test_executive_agenda():
    doc = agenda(pack(), 6)
    md = doc.markdown
    assert doc.subject == "Acme & Sons S&OP 2026-11 — agenda: Executive S&OP, Fri 20 Nov 2026 " \
                          "09:00"
    assert "**When:** Friday 20 November 2026 09:00–11:00" in md
    assert "**Attendees:** Demand planner, Operations leader, Finance, Executive chair" in md
    # timed items: 120 min over weights 1,2,3,3,6,1,2 (18) → boundaries rounded to 5 min
    slots = re.findall(r"^\| (\d\d:\d\d–\d\d:\d\d) \| (\d) \| (.+) \|$", md, re.M)
    assert [s[0] for s in slots] == ["09:00–09:05", "09:05–09:20", "09:20–09:40",
                                     "09:40–10:00", "10:00–10:40", "10:40–10:45",
                                     "10:45–11:00"]
    assert slots[1][2] == "Review of last cycle's actions"
    # KPI exceptions: red first, then amber; green left out
    exc = md.split("Scorecard: KPI exceptions")[2].split("##")[0]
    assert exc.index("Vendor on-time delivery") < exc.index("Sales on-time delivery")
    assert "Fill rate" not in exc
    # actions to review: the open ones, overdue as of the meeting day flagged
    review = md.split("## 2. Review of last cycle")[1].split("##")[0]
    assert "4 open action(s), 1 overdue as of 20 Nov 2026." in review
    assert "| 1 | Fix vendor OTD for V\\-10 |" not in review  # '-' is not escaped
    assert "| 1 | Fix vendor OTD for V-10 | Supply planning | Tue 20 Oct 2026 | OVERDUE |" \
        in review
    # decisions needed: open gaps and proposed decisions, not the settled gap
    needed = md.split("Decisions needed")[2].split("##")[0]
    assert "Capacity short in Dec on WC\\-2" not in needed and "Capacity short" in needed
    assert "overtime \\| outsource" in needed
    assert "Settled already" not in needed
    assert "## Pre-reads" in md and "One-page scorecard of 2026-10" in md


def test_demand_agenda_lists_launches_and_stage_actions():
    doc = agenda(pack(), 2)
    assert "Agenda: Demand review" in doc.markdown
    assert "Fri 06 Nov 2026" in doc.subject
    assert "Wed 18 Nov: Launch: Widget Pro (1000) — Marketing" in doc.markdown
    review = doc.markdown.split("Review of open demand actions")[2].split("##")[0]
    assert "1 open action(s)" in review and "Fix vendor" not in review
    # 90 minutes over 5 items (weights 1,2,4,1,2)
    assert "| 10:00–10:10 | 1 |" in doc.markdown and "| 11:10–11:30 | 5 |" in doc.markdown
    assert "**Attendees:** Demand planner" in doc.markdown
    with pytest.raises(SopError, match="no stage-3 meeting in cycle 2026-11"):
        agenda(pack(), 3)


def test_agenda_without_scorecard_values_says_so():
    doc = agenda(pack(scorecard=[]), 6)
    assert "The scorecard has no values yet: refresh the workbook" in doc.markdown
    doc = agenda(pack(scorecard=[KpiRow("Fill rate", "97%", "95%", "GREEN")]), 6)
    assert "All KPIs of 2026-10 are on target." in doc.markdown


def test_hostile_text_is_escaped_in_html_and_markdown():
    for doc in (agenda(pack(), 6), minutes(pack())):
        assert "<script>" not in doc.html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; |" in doc.html
        parsed = html_parts(doc.html)
        assert "script" not in parsed.tags and "a" not in parsed.tags
        assert any(HOSTILE in t for t in parsed.text)  # shown as typed
        assert "\\<script\\>" in doc.markdown and "<script>" not in doc.markdown
        assert "\\| \\*bold\\* \\[link\\](http://evil)" in doc.markdown
    # company names are escaped too
    assert "Acme &amp; Sons" in agenda(pack(), 6).html


def test_html_layout_is_inline_and_readable():
    html = agenda(pack(), 6).html
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    assert "<style" not in html and "<link" not in html  # inline CSS only (mail clients)
    assert 'style="display:inline-block;' in html and "#c62828" in html  # RED/OVERDUE badge
    parsed = html_parts(html)
    assert parsed.tags.count("table") >= 4 and "h1" in parsed.tags


def test_minutes():
    doc = minutes(pack(as_of=D(2026, 11, 25)))
    md = doc.markdown
    assert doc.subject == "Acme & Sons S&OP 2026-11 — minutes: Executive S&OP of Fri 20 Nov 2026"
    assert "| Approve overtime in December | Operations leader | Tue 01 Dec 2026 | APPROVED |" \
        in md
    assert "| Price increase 3 % | Finance |  | DEFERRED |" in md
    assert "As of 25 Nov 2026: 2 new, 2 carried over, 2 closed, 2 overdue." in md

    def section(title):
        return md.split(f"## {title}")[1].split("\n#")[0]
    assert re.findall(r"^\| (\d) \|", section("New this cycle (2)"), re.M) == ["6", "4"]
    assert re.findall(r"^\| (\d) \|", section("Open, carried over (2)"), re.M) == ["1", "2"]
    assert re.findall(r"^\| (\d) \|", section("Overdue (2)"), re.M) == ["1", "6"]
    assert re.findall(r"^\| (\d) \|", section("Closed this cycle (2)"), re.M) == ["3", "7"]
    assert "| 6 | New, already late | Finance | Fri 20 Nov 2026 | OVERDUE | 4 Finance |" in md
    nxt = section("Next meeting")
    assert "Executive S&OP: Monday 21 December 2026 09:00–11:00." in nxt
    assert "Demand review (2 Demand): Monday 07 December 2026 10:00–11:30" in nxt
    assert "Vendor on-time delivery" in section("KPI exceptions (2026-10)")
    none = minutes(pack(next_meetings=[], decisions=pd.DataFrame()))
    assert "Not in the calendar yet" in none.markdown
    assert "No decisions recorded." in none.markdown


# ----------------------------------------------------------------------------- e-mail

def test_eml_draft_round_trip():
    doc = agenda(pack(), 6)
    data = to_eml(doc.subject, doc.markdown, doc.html,
                  "chair@acme.example; finance@acme.example,", "S&OP <sop@acme.example>",
                  date=dt.datetime(2026, 11, 13, 8, 0, tzinfo=dt.UTC))
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["X-Unsent"] == "1"
    assert msg["Subject"] == doc.subject
    assert msg["To"] == "chair@acme.example, finance@acme.example"
    assert msg["From"] == "S&OP <sop@acme.example>"
    assert msg["Date"] == "Fri, 13 Nov 2026 08:00:00 +0000"
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p for p in msg.iter_parts()}
    assert list(parts) == ["text/plain", "text/html"]
    assert parts["text/plain"].get_content() == doc.markdown
    assert parts["text/html"].get_content() == doc.html
    assert parts["text/html"].get_content_charset() == "utf-8"


def test_eml_without_sender_and_header_injection():
    data = to_eml("Agenda", "text", "<p>text</p>", [], None)
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["From"] is None and msg["To"] is None and msg["X-Unsent"] == "1"
    with pytest.raises(SopError, match="line breaks"):
        to_eml("Agenda\r\nBcc: evil@example.com", "t", "<p>t</p>", [], None)
    with pytest.raises(SopError):
        to_eml("Agenda", "t", "<p>t</p>", ["a@example.com\nBcc: evil@example.com"], None)
