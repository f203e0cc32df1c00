"""Agenda and minutes of an S&OP meeting as Markdown and HTML, and an .eml draft to send
them.

Both documents are built from a :class:`MeetingPack` (plain data the CLI reads from the
workbook) into a small list of blocks, rendered twice: Markdown (also the text/plain part
of the e-mail; user text is backslash-escaped so ``<script>`` or ``|`` cannot break it) and
HTML with inline CSS (every user text HTML-escaped), a one-column layout that survives
forwarding in Outlook and Gmail.
"""

from __future__ import annotations

import datetime as dt
import html as _html
import itertools
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pandas as pd

from ..errors import SopError
from ..frames import blank, cell_text
from .action_log import CLOSED, Restatement, restate
from .calendar import as_date, stage_number

# ----------------------------------------------------------------------------- data


@dataclass
class Meeting:
    """One calendar event (a row of ``cal_events``)."""

    event: str
    stage: str
    date: dt.date
    time: str = ""
    duration_min: int = 60
    owner: str = ""
    notes: str = ""

    @property
    def stage_no(self) -> int | None:
        return stage_number(self.stage)

    def when(self) -> str:
        end = ""
        if self.time:
            h, m = (int(x) for x in self.time.split(":")[:2])
            finish = dt.datetime.combine(self.date, dt.time(h, m)) + dt.timedelta(
                minutes=self.duration_min)
            end = f" {self.time}–{finish:%H:%M}"
        return f"{self.date:%A %d %B %Y}{end}"


@dataclass
class KpiRow:
    """One scorecard line as shown: label, formatted actual and target, RAG status."""

    label: str
    actual: str
    target: str
    rag: str  # GREEN, AMBER, RED or n/a
    owner: str = ""


@dataclass
class MeetingPack:
    """Everything the agenda and the minutes show.

    ``meetings``: this cycle's calendar events (rules and launches); ``next_meetings``: the
    next cycle's; ``gaps``: ``presop_decisions`` rows; ``decisions``: ``exec_decisions``
    rows; ``actions``: the validated ``act_log`` (see :func:`validate_actions`);
    ``as_of``: the date overdue is judged against (default: the meeting's date)."""

    company: str
    cycle: str
    meetings: list[Meeting]
    attendees: list[str] = field(default_factory=list)
    scorecard: list[KpiRow] = field(default_factory=list)
    scorecard_period: str = ""
    gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    actions: pd.DataFrame = field(default_factory=pd.DataFrame)
    next_meetings: list[Meeting] = field(default_factory=list)
    as_of: dt.date | None = None

    def meeting(self, stage: int) -> Meeting:
        for m in self.meetings:
            if m.stage_no == stage:
                return m
        raise SopError(f"the calendar has no stage-{stage} meeting in cycle {self.cycle}",
                       "Run sop calendar (or add the rule on the Calendar sheet, cal_rules).")

    def launches(self) -> list[Meeting]:
        return [m for m in self.meetings if not m.time and m.stage_no is None]


@dataclass
class Document:
    subject: str
    markdown: str
    html: str


# ----------------------------------------------------------------------------- stages

STAGES = {
    1: ("Performance review",
        "Last period against plan and targets: balanced scorecard, quality issues, "
        "engineering/BOM changes, follow-up of last cycle's continuous-improvement actions."),
    2: ("Demand review",
        "Agree the rolling 12-month demand plan by item and category: run-rate history, "
        "statistical baseline, sales overrides, marketing events and opportunity commits → "
        "consensus demand."),
    3: ("Supply review",
        "Can supply meet the consensus demand? Capacity and material constraints, "
        "poor-performing suppliers, projected inventory."),
    4: ("Finance review",
        "Volume → value: revenue, COGS and margin of the plan; sales budget vs financial "
        "budget by GL account and period; cash needed for labour and material."),
    5: ("Pre-S&OP meeting",
        "Dress rehearsal: reconcile the gaps between demand, supply and finance and prepare "
        "the decisions and scenarios for the executive meeting."),
    6: ("Executive S&OP meeting",
        "Approve the plan, take the decisions prepared by the Pre-S&OP meeting and assign "
        "actions."),
}

# (title, weight, content) — content: actions, kpis, gaps, launches or None
_ITEMS = {
    1: [("Welcome and objectives", 1, None),
        ("Review of last cycle's actions", 3, "actions"),
        ("KPI exceptions (red and amber)", 4, "kpis"),
        ("Quality issues, engineering and BOM changes", 2, None),
        ("Improvement actions: owners and due dates", 2, None)],
    2: [("Review of open demand actions", 1, "actions"),
        ("Forecast accuracy, bias and KPI exceptions", 2, "kpis"),
        ("Demand plan: baseline, overrides, marketing events, commits", 4, None),
        ("Product launches this cycle", 1, "launches"),
        ("Agree the consensus demand and its assumptions", 2, None)],
    3: [("Review of open supply actions", 1, "actions"),
        ("Supply KPI exceptions", 2, "kpis"),
        ("Capacity vs load, material constraints", 3, None),
        ("Supplier performance and projected inventory", 2, None),
        ("Gaps to take to the Pre-S&OP meeting", 2, None)],
    4: [("Review of open finance actions", 1, "actions"),
        ("Plan in value: revenue, COGS, margin", 3, None),
        ("Sales budget vs financial budget by GL account", 3, None),
        ("Cash needed for labour and material", 1, None),
        ("Gaps to take to the Pre-S&OP meeting", 2, None)],
    5: [("Review of last cycle's actions", 2, "actions"),
        ("KPI exceptions (red and amber)", 2, "kpis"),
        ("Gaps and options: decisions needed", 6, "gaps"),
        ("Scenario comparison", 2, None),
        ("Recommendations and the executive agenda", 2, None)],
    6: [("Opening: objectives of the meeting", 1, None),
        ("Review of last cycle's actions", 2, "actions"),
        ("Scorecard: KPI exceptions (red and amber)", 3, "kpis"),
        ("Demand, supply and finance summary", 3, None),
        ("Decisions needed", 6, "gaps"),
        ("Approve the plan", 1, None),
        ("Actions restated and wrap-up", 2, None)],
}

_PRE_READS = {
    1: ["Scorecard sheet: KPIs of {period} against target", "1 Performance sheet: trends",
        "Actions sheet: open actions"],
    2: ["2 Demand sheet: plan, overrides (reason codes) and forecast accuracy",
        "Calendar sheet: product launches", "Actions sheet: open actions"],
    3: ["3 Supply sheet: capacity load, projected inventory, vendor performance",
        "Consensus demand from the demand review", "Actions sheet: open actions"],
    4: ["4 Finance sheet: budget variance by GL account and unmapped budget lines",
        "Actions sheet: open actions"],
    5: ["Scorecard of {period}", "5 Pre-S&OP sheet: gaps, options, recommendations",
        "Sheets 2 Demand, 3 Supply and 4 Finance", "Actions sheet: open actions"],
    6: ["One-page scorecard of {period} (sop export-scorecard)",
        "5 Pre-S&OP sheet: decisions needed with options and recommendations",
        "Actions sheet: open and overdue actions"],
}

# ----------------------------------------------------------------------------- blocks


class Badge(str):
    """A status shown as a coloured label in HTML (plain text in Markdown)."""


_BADGE = {"GREEN": "#2e7d32", "AMBER": "#b26a00", "RED": "#c62828", "OVERDUE": "#c62828",
          "APPROVED": "#2e7d32", "REJECTED": "#c62828", "DEFERRED": "#b26a00"}


@dataclass
class _Block:
    kind: str  # h1, h2, h3, p, meta, table, list, note
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


def _cell(value) -> str:
    if isinstance(value, Badge):
        return value
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, dt.date):
        return f"{value:%Y-%m-%d}"
    return cell_text(value)


def _due(value) -> str:
    if blank(value):
        return ""
    try:
        return f"{as_date(value):%a %d %b %Y}"
    except ValueError:
        return cell_text(value)


# ----------------------------------------------------------------------------- render

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~])")


def _md(text) -> str:
    """User text safe in Markdown: specials backslash-escaped, one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(_cell(text).split()))


def to_markdown(blocks: list[_Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind == "h1":
            out += [f"# {_md(b.text)}", ""]
        elif b.kind in ("h2", "h3"):
            out += [f"{'#' * int(b.kind[1])} {_md(b.text)}", ""]
        elif b.kind in ("p", "note"):
            out += [_md(b.text) if b.kind == "p" else f"_{_md(b.text)}_", ""]
        elif b.kind == "meta":
            out += [f"**{_md(k)}:** {_md(v)}  " for k, v in b.rows] + [""]
        elif b.kind == "list":
            out += [f"- {_md(i)}" for i in b.items] + [""]
        elif b.kind == "table":
            out.append("| " + " | ".join(_md(h) for h in b.headers) + " |")
            out.append("|" + "|".join("---" for _ in b.headers) + "|")
            out += ["| " + " | ".join(_md(c) for c in r) + " |" for r in b.rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


_FONT = "font-family:Segoe UI,Helvetica,Arial,sans-serif;"
_CSS = {
    "body": f"margin:0;padding:0;background:#f3f4f6;{_FONT}color:#1f2937;",
    "card": "max-width:760px;margin:0 auto;padding:24px 28px;background:#ffffff;",
    "h1": f"{_FONT}font-size:22px;margin:0 0 4px 0;color:#1f3864;",
    "h2": f"{_FONT}font-size:16px;margin:22px 0 8px 0;padding-bottom:4px;color:#1f3864;"
          "border-bottom:2px solid #dbe3f0;",
    "h3": f"{_FONT}font-size:14px;margin:16px 0 6px 0;color:#374151;",
    "p": f"{_FONT}font-size:14px;line-height:1.5;margin:0 0 10px 0;",
    "note": f"{_FONT}font-size:13px;color:#6b7280;margin:0 0 10px 0;",
    "meta_k": f"{_FONT}font-size:14px;padding:2px 12px 2px 0;color:#6b7280;"
              "vertical-align:top;white-space:nowrap;",
    "meta_v": f"{_FONT}font-size:14px;padding:2px 0;vertical-align:top;",
    "table": "border-collapse:collapse;width:100%;margin:0 0 10px 0;",
    "th": f"{_FONT}font-size:13px;text-align:left;padding:6px 8px;background:#1f3864;"
          "color:#ffffff;font-weight:600;",
    "td": f"{_FONT}font-size:13px;padding:6px 8px;border-bottom:1px solid #e5e7eb;"
          "vertical-align:top;",
    "li": f"{_FONT}font-size:14px;line-height:1.5;",
    "badge": "display:inline-block;padding:1px 8px;border-radius:10px;color:#ffffff;"
             "font-size:12px;font-weight:600;background:{colour};",
}


def _h(text) -> str:
    return _html.escape(_cell(text), quote=True)


def _html_cell(value) -> str:
    if isinstance(value, Badge) and str(value).upper() in _BADGE:
        colour = _BADGE[str(value).upper()]
        return f'<span style="{_CSS["badge"].format(colour=colour)}">{_h(value)}</span>'
    return _h(value)


def to_html(blocks: list[_Block], title: str) -> str:
    parts = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_h(title)}</title>", "</head>", f'<body style="{_CSS["body"]}">',
             f'<div style="{_CSS["card"]}">']
    for b in blocks:
        if b.kind in ("h1", "h2", "h3", "p", "note"):
            tag = {"note": "p"}.get(b.kind, b.kind)
            parts.append(f'<{tag} style="{_CSS[b.kind]}">{_h(b.text)}</{tag}>')
        elif b.kind == "meta":
            parts.append(f'<table role="presentation" style="{_CSS["table"]}">')
            parts += [f'<tr><td style="{_CSS["meta_k"]}">{_h(k)}</td>'
                      f'<td style="{_CSS["meta_v"]}">{_h(v)}</td></tr>' for k, v in b.rows]
            parts.append("</table>")
        elif b.kind == "list":
            parts.append('<ul style="margin:0 0 10px 0;padding-left:20px;">')
            parts += [f'<li style="{_CSS["li"]}">{_h(i)}</li>' for i in b.items]
            parts.append("</ul>")
        elif b.kind == "table":
            parts.append(f'<table style="{_CSS["table"]}">')
            parts.append("<tr>" + "".join(f'<th style="{_CSS["th"]}">{_h(h)}</th>'
                                          for h in b.headers) + "</tr>")
            parts += ["<tr>" + "".join(f'<td style="{_CSS["td"]}">{_html_cell(c)}</td>'
                                       for c in r) + "</tr>" for r in b.rows]
            parts.append("</table>")
    parts += ["</div>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- content


def _open_rows(pack: MeetingPack, frame: pd.DataFrame, stage: int | None) -> pd.DataFrame:
    if stage is not None and stage <= 4 and len(frame):
        frame = frame[frame["stage"].map(stage_number) == stage]
    return frame


def _action_rows(frame: pd.DataFrame, late_ids: set, with_status: bool = True) -> list[list]:
    rows = []
    for idx, r in frame.iterrows():
        status = cell_text(r.get("status"))
        flag = Badge("OVERDUE") if idx in late_ids else status
        row = [r.get("id"), r.get("action"), r.get("owner"), _due(r.get("due"))]
        if with_status:
            row.append(flag)
        row.append(r.get("stage"))
        rows.append(row)
    return rows


_ACTION_HEADERS = ["id", "action", "owner", "due", "status", "stage"]


def _restated(pack: MeetingPack, as_of: dt.date) -> Restatement:
    return restate(pack.actions, pack.cycle, as_of)


def _exceptions(pack: MeetingPack) -> list[KpiRow]:
    order = {"RED": 0, "AMBER": 1}
    rows = [k for k in pack.scorecard if str(k.rag).upper() in order]
    return sorted(rows, key=lambda k: order[str(k.rag).upper()])


def _gap_rows(pack: MeetingPack) -> list[list]:
    rows = []
    gaps = pack.gaps if pack.gaps is not None else pd.DataFrame()
    for r in gaps.to_dict("records"):
        if cell_text(r.get("status")).lower() in CLOSED or not cell_text(r.get("gap")):
            continue
        rows.append([r.get("gap"), r.get("stage"), r.get("impact"), r.get("options"),
                     r.get("recommendation"), r.get("owner"), _due(r.get("decide_by"))])
    decisions = pack.decisions if pack.decisions is not None else pd.DataFrame()
    for r in decisions.to_dict("records"):
        if cell_text(r.get("status")).lower() in ("proposed", "") and cell_text(r.get("decision")):
            rows.append([r.get("decision"), "6 Executive", "", "", "proposed", r.get("owner"),
                         _due(r.get("due"))])
    return rows


def _schedule(duration: int, weights: list[int], start: dt.datetime | None) -> list[str]:
    total = sum(weights)
    bounds, acc = [0], 0
    for w in weights:
        acc += w
        bounds.append(int(5 * round(duration * acc / total / 5)))
    bounds[-1] = duration
    slots = []
    for a, b in itertools.pairwise(bounds):
        if start is None:
            slots.append(f"{b - a} min")
        else:
            s, e = start + dt.timedelta(minutes=a), start + dt.timedelta(minutes=b)
            slots.append(f"{s:%H:%M}–{e:%H:%M}")
    return slots


def _attendees(pack: MeetingPack, stage: int, meeting: Meeting) -> list[str]:
    if stage >= 5 or not pack.attendees:
        names = list(pack.attendees) or [meeting.owner]
    else:
        names = [meeting.owner]
        for frame, col in ((pack.actions, "stage"), (pack.gaps, "stage")):
            if frame is not None and len(frame) and col in frame:
                names += [cell_text(o) for o, s in zip(frame.get("owner", []), frame[col],
                                                        strict=False)
                          if stage_number(s) == stage]
    seen, out = set(), []
    for n in names:
        if n and n.lower() not in seen:
            seen.add(n.lower())
            out.append(n)
    return out


def agenda(pack: MeetingPack, stage: int = 6) -> Document:
    """The agenda of the cycle's stage-``stage`` meeting (1–6), to send ahead."""
    if stage not in STAGES:
        raise SopError(f"stage {stage!r} is not 1–6")
    meeting = pack.meeting(stage)
    name, purpose = STAGES[stage]
    as_of = pack.as_of or meeting.date
    period = pack.scorecard_period or "the last closed period"
    company = pack.company or "S&OP"
    title = f"{company} — {meeting.event}, cycle {pack.cycle}"
    blocks = [_Block("h1", f"Agenda: {meeting.event}"),
              _Block("meta", rows=[("Company", company), ("S&OP cycle", pack.cycle),
                                   ("Meeting", f"{name} (stage {meeting.stage})"),
                                   ("When", meeting.when()),
                                   ("Owner", meeting.owner or "—"),
                                   ("Attendees", ", ".join(_attendees(pack, stage, meeting))
                                    or "—")]),
              _Block("h2", "Purpose"), _Block("p", purpose)]
    if meeting.notes:
        blocks.append(_Block("note", meeting.notes))
    items = _ITEMS[stage]
    start = None
    if meeting.time:
        h, m = (int(x) for x in meeting.time.split(":")[:2])
        start = dt.datetime.combine(meeting.date, dt.time(h, m))
    slots = _schedule(meeting.duration_min, [w for _, w, _ in items], start)
    blocks += [_Block("h2", "Agenda"),
               _Block("table", headers=["time", "no.", "item"],
                      rows=[[slot, str(i), t] for i, (slot, (t, _, _)) in
                            enumerate(zip(slots, items, strict=True), 1)])]
    restated = _restated(pack, as_of)
    late = set(restated.overdue.index)
    for i, (title_i, _, content) in enumerate(items, 1):
        if content == "actions":
            frame = _open_rows(pack, restated.open, stage)
            blocks.append(_Block("h2", f"{i}. {title_i}"))
            if len(frame):
                n_late = sum(idx in late for idx in frame.index)
                blocks.append(_Block("p", f"{len(frame)} open action(s), {n_late} overdue as "
                                     f"of {as_of:%d %b %Y}."))
                blocks.append(_Block("table", headers=_ACTION_HEADERS,
                                     rows=_action_rows(frame, late)))
            else:
                blocks.append(_Block("p", "No open actions."))
        elif content == "kpis":
            blocks.append(_Block("h2", f"{i}. {title_i}"))
            if not pack.scorecard:
                blocks.append(_Block("p", "The scorecard has no values yet: refresh the "
                                     "workbook (sop refresh) before the meeting."))
            elif exc := _exceptions(pack):
                blocks.append(_Block("p", f"KPIs of {period} off target:"))
                blocks.append(_Block("table", headers=["KPI", "actual", "target", "status",
                                                       "owner"],
                                     rows=[[k.label, k.actual, k.target, Badge(k.rag), k.owner]
                                           for k in exc]))
            else:
                blocks.append(_Block("p", f"All KPIs of {period} are on target."))
        elif content == "gaps":
            blocks.append(_Block("h2", f"{i}. {title_i}"))
            rows = _gap_rows(pack)
            if rows:
                blocks.append(_Block("table", headers=["gap / decision", "stage", "impact",
                                                       "options", "recommendation", "owner",
                                                       "decide by"], rows=rows))
            else:
                blocks.append(_Block("p", "No open gaps or proposed decisions."))
        elif content == "launches":
            blocks.append(_Block("h2", f"{i}. {title_i}"))
            launches = pack.launches()
            blocks.append(_Block("list", items=[f"{m.date:%a %d %b}: {m.event}"
                                                + (f" — {m.owner}" if m.owner else "")
                                                for m in launches])
                          if launches else _Block("p", "No product launches this cycle."))
    blocks += [_Block("h2", "Pre-reads"),
               _Block("list", items=[p.format(period=period) for p in _PRE_READS[stage]])]
    subject = f"{company} S&OP {pack.cycle} — agenda: {meeting.event}, " \
              f"{meeting.date:%a %d %b %Y}" + (f" {meeting.time}" if meeting.time else "")
    return Document(subject, to_markdown(blocks), to_html(blocks, title))


def minutes(pack: MeetingPack, stage: int = 6) -> Document:
    """The minutes of the cycle's stage-``stage`` meeting (default the executive one):
    decisions taken, actions restated (new, carried over, closed, overdue), next meeting."""
    if stage not in STAGES:
        raise SopError(f"stage {stage!r} is not 1–6")
    meeting = pack.meeting(stage)
    as_of = pack.as_of or meeting.date
    company = pack.company or "S&OP"
    title = f"{company} — minutes of the {meeting.event}, cycle {pack.cycle}"
    blocks = [_Block("h1", f"Minutes: {meeting.event}"),
              _Block("meta", rows=[("Company", company), ("S&OP cycle", pack.cycle),
                                   ("Held", meeting.when()),
                                   ("Chair", meeting.owner or "—"),
                                   ("Attendees", ", ".join(_attendees(pack, stage, meeting))
                                    or "—")])]
    exc = _exceptions(pack)
    if exc:
        blocks += [_Block("h2", f"KPI exceptions ({pack.scorecard_period or 'last period'})"),
                   _Block("table", headers=["KPI", "actual", "target", "status", "owner"],
                          rows=[[k.label, k.actual, k.target, Badge(k.rag), k.owner]
                                for k in exc])]
    blocks.append(_Block("h2", "Decisions"))
    decisions = pack.decisions if pack.decisions is not None else pd.DataFrame()
    taken = [r for r in decisions.to_dict("records") if cell_text(r.get("decision"))]
    if taken:
        blocks.append(_Block("table", headers=["decision", "owner", "due", "status"],
                             rows=[[r.get("decision"), r.get("owner"), _due(r.get("due")),
                                    Badge(cell_text(r.get("status")).upper())
                                    if cell_text(r.get("status")).upper() in _BADGE
                                    else cell_text(r.get("status"))] for r in taken]))
    else:
        blocks.append(_Block("p", "No decisions recorded."))
    restated = _restated(pack, as_of)
    late = set(restated.overdue.index)
    blocks.append(_Block("h2", "Actions restated"))
    blocks.append(_Block("p", f"As of {as_of:%d %b %Y}: {len(restated.new)} new, "
                         f"{len(restated.carried)} carried over, {len(restated.closed)} "
                         f"closed, {len(restated.overdue)} overdue."))
    for label, frame in (("New this cycle", restated.new),
                         ("Open, carried over", restated.carried),
                         ("Overdue", restated.overdue),
                         ("Closed this cycle", restated.closed)):
        blocks.append(_Block("h3", f"{label} ({len(frame)})"))
        if len(frame):
            blocks.append(_Block("table", headers=_ACTION_HEADERS,
                                 rows=_action_rows(frame, late)))
        else:
            blocks.append(_Block("p", "None."))
    blocks.append(_Block("h2", "Next meeting"))
    nxt = [m for m in pack.next_meetings if m.stage_no == stage]
    if nxt:
        blocks.append(_Block("p", f"{nxt[0].event}: {nxt[0].when()}."))
        others = [m for m in pack.next_meetings if m.time and m is not nxt[0]]
        if others:
            blocks.append(_Block("list", items=[f"{m.event} ({m.stage}): {m.when()}"
                                                for m in others]))
    else:
        blocks.append(_Block("p", "Not in the calendar yet: run sop calendar for the next "
                             "year."))
    subject = f"{company} S&OP {pack.cycle} — minutes: {meeting.event} of " \
              f"{meeting.date:%a %d %b %Y}"
    return Document(subject, to_markdown(blocks), to_html(blocks, title))


# ----------------------------------------------------------------------------- e-mail


def _addresses(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = re.split(r"[;,]", value)
    return [a.strip() for a in value if a and a.strip()]


def to_eml(subject: str, markdown: str, html: str, to=(), from_: str | None = None, *,
           date: dt.datetime | None = None) -> bytes:
    """An RFC 5322 message (multipart/alternative: the Markdown as text/plain, the HTML)
    marked ``X-Unsent: 1`` so Outlook opens it as a draft to review and send.

    ``to``: addresses (list, or one text separated by commas/semicolons); ``from_``:
    the sender — when omitted the From header is left out and the mail client fills in
    the account that sends the draft."""
    msg = EmailMessage()
    for label, value in (("subject", subject), ("from", from_ or "")):
        if "\n" in value or "\r" in value:
            raise SopError(f"the e-mail {label} may not contain line breaks")
    recipients = _addresses(to)
    for a in recipients:
        if "\n" in a or "\r" in a:
            raise SopError(f"bad e-mail address {a!r}")
    msg["Subject"] = subject
    if from_:
        msg["From"] = from_
    if recipients:
        msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(date or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid(domain="sop-workbook.invalid")
    msg["X-Unsent"] = "1"
    msg.set_content(markdown)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()
