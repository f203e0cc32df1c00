"""Export the executive scorecard: a one-page PDF, the charts as PNG, a values-only XLSX.

:func:`collect_scorecard` reads what the workbook shows (through the adapter interface:
named cells, tables, cell results) into plain data; :func:`write_scorecard` renders it
(matplotlib for the PDF and PNGs, openpyxl for the XLSX). The status of each KPI follows
the Scorecard sheet's rule: direction *higher* — green at or above target, amber at or
above the amber threshold, else red; *lower* — the mirror; *band* — on |value|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import SopError
from .kpi.registry import KPIS
from .ports import Workbook

STATUS_COLOURS = {"GREEN": "#2e7d32", "AMBER": "#f9a825", "RED": "#c62828", "n/a": "#9e9e9e"}
#: The Scorecard rows shown as percentages (KPI registry).
PERCENT_KEYS = {key for key, entry in KPIS.items() if entry.percent and entry.cell}


@dataclass
class KpiLine:
    key: str
    label: str
    value: float | None
    target: float | None
    amber: float | None
    direction: str
    owner: str
    trend: list[float | None] = field(default_factory=list)

    @property
    def status(self) -> str:
        return rag_status(self.value, self.target, self.amber, self.direction)

    def fmt(self, value: float | None) -> str:
        """As the workbook shows it: a ratio 0.0 %, another figure with 2 decimals, a
        whole target (8 turns, 45 days) whole."""
        if value is None:
            return "n/a"
        if self.key in PERCENT_KEYS:
            return f"{value:.1%}"
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"

    @property
    def number_format(self) -> str:
        return "0.0%" if self.key in PERCENT_KEYS else "#,##0.00"


@dataclass
class Scorecard:
    period: str
    kpis: list[KpiLine]
    trend_periods: list[str]
    decisions: pd.DataFrame
    actions: pd.DataFrame


def rag_status(value, target, amber, direction: str) -> str:
    if value is None or target is None or amber is None:
        return "n/a"
    if direction == "higher":
        return "GREEN" if value >= target else "AMBER" if value >= amber else "RED"
    if direction == "lower":
        return "GREEN" if value <= target else "AMBER" if value <= amber else "RED"
    v = abs(value)
    return "GREEN" if v <= target else "AMBER" if v <= amber else "RED"


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and not math.isfinite(value) else float(value)
    return None  # "#N/A" and other error texts: no value


def collect_scorecard(book: Workbook) -> Scorecard:
    """The scorecard as the workbook shows it (values computed by the last recalc)."""
    period = book.result_of_name("kpi_period")
    if not period:
        raise SopError("the scorecard has no period: run Refresh (sop refresh) first")
    targets = book.read_table("cfg_targets")
    trend_sheet = "1 Performance"
    labels = {}
    for row in range(6, 40):
        label = book.result_at(trend_sheet, f"A{row}")
        if label:
            labels[str(label)] = row
    trend_periods = [str(book.result_at(trend_sheet, f"{c}5") or "") for c in "FGHIJK"]
    kpis = []
    for rec in targets.to_dict("records"):
        key = str(rec["kpi"])
        line = KpiLine(key, str(rec["label"]), _number(book.result_of_name(f"kpi_{key}")),
                       _number(rec["target"]), _number(rec["amber"]),
                       str(rec["direction"] or "higher"), str(rec["owner"] or ""))
        row = labels.get(line.label)
        if row:
            line.trend = [_number(book.result_at(trend_sheet, f"{c}{row}")) for c in "FGHIJK"]
        kpis.append(line)
    if kpis and all(k.value is None for k in kpis):  # a template never refreshed: its
        # cells carry cached results (#N/A), but no figure
        raise SopError("the scorecard has no values yet: run Refresh (sop refresh) first")
    decisions = book.read_table("exec_decisions")
    actions = book.read_table("act_log")
    if len(actions) and "status" in actions:
        actions = actions[~actions["status"].astype(str).str.lower().isin(["done",
                                                                           "cancelled"])]
    return Scorecard(str(period), kpis, trend_periods, decisions, actions)


# --------------------------------------------------------------------------- rendering


#: characters of a decision or action line in the right-hand column of the scorecard page
BULLET_WIDTH = 44


def _bullet(fig, x: float, y: float, text: str) -> float:
    """One bullet point, wrapped (never cut) to the column's width; the next line's y."""
    import textwrap

    lines = textwrap.wrap(text, BULLET_WIDTH) or [""]
    for i, line in enumerate(lines):
        fig.text(x + (0 if i == 0 else 0.008), y, ("• " if i == 0 else "") + line,
                 fontsize=8.5)
        y -= 0.022
    return y - 0.008


def _charts(card: Scorecard, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {name: [key for key, entry in KPIS.items() if entry.export_chart == name]
              for name in ("delivery", "forecast")}
    paths = []
    for name, keys in groups.items():
        fig, ax = plt.subplots(figsize=(6, 3), dpi=120)
        for k in card.kpis:
            if k.key in keys and any(v is not None for v in k.trend):
                ax.plot(card.trend_periods, [math.nan if v is None else v for v in k.trend],
                        marker="o", label=k.label)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.set_title(f"{'Delivery' if name == 'delivery' else 'Forecast'} — last 6 periods")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = out / f"scorecard_{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def _pdf(card: Scorecard, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    fig = plt.figure(figsize=(11.69, 8.27))  # A4 landscape, one page
    fig.text(0.04, 0.95, "Executive S&OP scorecard", fontsize=20, weight="bold",
             color="#1f3864")
    fig.text(0.04, 0.915, f"Period {card.period} (last closed) — KPIs against targets",
             fontsize=11, style="italic", color="#595959")
    top, row_h = 0.87, 0.047
    headers = [("KPI", 0.04), ("Actual", 0.33), ("Target", 0.41), ("Status", 0.49),
               ("Trend (6 periods)", 0.57)]
    for text, x in headers:
        fig.text(x, top, text, fontsize=10, weight="bold", color="#1f3864")
    for i, k in enumerate(card.kpis):
        y = top - (i + 1) * row_h
        fig.text(0.04, y, k.label, fontsize=10)
        fig.text(0.33, y, k.fmt(k.value), fontsize=10, weight="bold")
        fig.text(0.41, y, k.fmt(k.target), fontsize=10)
        status = k.status
        fig.text(0.49, y, f" {status} ", fontsize=9, weight="bold", color="white",
                 bbox={"facecolor": STATUS_COLOURS[status], "edgecolor": "none",
                       "boxstyle": "round,pad=0.25"})
        ax = fig.add_axes([0.57, y - 0.008, 0.12, row_h * 0.75])
        values = [math.nan if v is None else v for v in k.trend]
        if any(not math.isnan(v) for v in values):
            ax.plot(range(len(values)), values, color="#2f5597", linewidth=1.4)
            last = values[-1]
            if not math.isnan(last):
                ax.plot([len(values) - 1], [last], "o", color=STATUS_COLOURS[status],
                        markersize=4, clip_on=False)  # whole, also at the top or bottom
        ax.axis("off")
    x0 = 0.72
    fig.text(x0, top, "Decisions", fontsize=12, weight="bold", color="#1f3864")
    y = top - 0.04
    for rec in card.decisions.to_dict("records")[:8]:
        text = str(rec.get("decision") or "").strip()
        if text:
            owner = rec.get("owner") or ""
            y = _bullet(fig, x0, y, text + (f" — {owner}" if owner else ""))
    if y == top - 0.04:
        fig.text(x0, y, "none recorded", fontsize=8.5, style="italic", color="#7f7f7f")
        y -= 0.03
    y -= 0.03
    fig.text(x0, y, "Open actions", fontsize=12, weight="bold", color="#1f3864")
    y -= 0.04
    start = y
    for rec in card.actions.to_dict("records")[:10]:
        text = str(rec.get("action") or "").strip()
        if text:
            due = rec.get("due")
            due = f", due {pd.Timestamp(due):%Y-%m-%d}" if due not in (None, "") else ""
            y = _bullet(fig, x0, y, f"{text} ({rec.get('owner') or 'no owner'}{due})")
    if y == start:
        fig.text(x0, y, "none open", fontsize=8.5, style="italic", color="#7f7f7f")
    fig.text(0.04, 0.03, "Status: green at or better than target, amber within the amber "
             "threshold, red beyond it (targets on the Config sheet).", fontsize=8,
             color="#7f7f7f")
    with PdfPages(path) as pdf:
        pdf.savefig(fig)
    plt.close(fig)


def _xlsx(card: Scorecard, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from .workbook.col_widths import fit_sheet

    wb = Workbook()
    ws = wb.active
    ws.title = "Scorecard"
    ws.append([f"Executive S&OP scorecard — {card.period}"])
    ws["A1"].font = Font(name="Calibri", bold=True, size=14)
    ws.append([])
    ws.append(["KPI", "Actual", "Target", "Amber at", "Direction", "Status", "Owner",
               *card.trend_periods])
    for cell in ws[3]:
        cell.font = Font(name="Calibri", bold=True)
    for k in card.kpis:
        ws.append([k.label, k.value, k.target, k.amber, k.direction, k.status, k.owner,
                   *k.trend])
    for name, frame in (("Decisions", card.decisions), ("Actions", card.actions)):
        sheet = wb.create_sheet(name)
        sheet.append(list(frame.columns))
        for rec in frame.itertuples(index=False):
            sheet.append([None if (isinstance(v, float) and math.isnan(v)) else v
                          for v in rec])
    for k, row in zip(card.kpis, ws.iter_rows(min_row=4), strict=False):
        for cell in (row[1], row[2], row[3], *row[7:]):
            cell.number_format = k.number_format  # as the workbook shows the figures
    for sheet in wb.worksheets:  # values only: text is text, never a formula
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        fit_sheet(sheet)  # columns as wide as their headers and values
    wb.save(path)


def write_scorecard(card: Scorecard, out_dir: Path) -> dict[str, Path]:
    """Write scorecard.pdf (one page), scorecard_*.png and scorecard_values.xlsx."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf = out_dir / "scorecard.pdf"
    _pdf(card, pdf)
    charts = _charts(card, out_dir)
    xlsx = out_dir / "scorecard_values.xlsx"
    _xlsx(card, xlsx)
    return {"pdf": pdf, "xlsx": xlsx, **{p.stem: p for p in charts}}
