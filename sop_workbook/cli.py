"""The ``sop`` command line: a thin adapter over the core.

User errors (bad input, bad options) print one line ``error: …`` plus detail on stderr
and exit with code 2; nothing is written in that case.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .cli_console import err, out
from .cli_console import fail as _fail
from .errors import SopError

app = typer.Typer(
    name="sop",
    help="Spreadsheet-native Sales & Operations Planning: KPIs, demo data and the S&OP workbook.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class FillLevel(StrEnum):
    line = "line"
    unit = "unit"
    order = "order"


class FillBasis(StrEnum):
    promised = "promised"
    requested = "requested"


class Sign(StrEnum):
    positive = "positive"
    negative = "negative"


class UnmappedScope(StrEnum):
    period = "period"
    all = "all"


class Dimension(StrEnum):
    item = "item"
    category = "category"
    location = "location"
    customer = "customer"
    vendor = "vendor"
    salesperson = "salesperson"
    work_center = "work_center"


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                    "{task.total}"), TimeElapsedColumn(), console=err, transient=False)


SourceOpt = Annotated[str, typer.Option("--source", "-s", help="Folder of <table>.csv/.parquet, "
                                        "or a database URL (postgresql://…, "
                                        "duckdb:///file.duckdb, any SQLAlchemy URL).")]


@app.command("demo-data")
def demo_data(
    directory: Annotated[Path, typer.Argument(help="Folder to write the CSV tables into.")],
    seed: Annotated[int, typer.Option(help="Random seed (same seed → same files).")] = 7,
    items: Annotated[int, typer.Option(min=1, help="Number of items.")] = 40,
    months: Annotated[int, typer.Option(min=1, help="Months of history.")] = 24,
    end_period: Annotated[str, typer.Option(help="Last closed period of the history.")] = "2026-10",
) -> None:
    """Write a realistic, deterministic demo data set in the source data contract."""
    from . import demo_data as demo
    from .periods import parse_period

    try:
        parse_period(end_period)
        with _progress() as bar:
            task = bar.add_task("writing demo tables", total=len(_tables()))
            counts = demo.write(directory, seed=seed, items=items, months=months,
                                end_period=end_period, progress=lambda _: bar.advance(task))
    except SopError as exc:
        _fail(exc)
    out.print(f"wrote {sum(counts.values()):,} rows in {len(counts)} tables to {directory}")


def _tables() -> list[str]:
    from .contract import TABLES

    return list(TABLES)


@app.command()
def validate(source: SourceOpt) -> None:
    """Check a source (folder or database URL) against the data contract and print the
    report (computes nothing). The same checks and messages as kpis and refresh."""
    from .errors import SourceValidationError
    from .sql.load import validate_source
    from .sql.sources import shown_source

    try:
        problems, warnings = validate_source(source)
    except SopError as exc:
        _fail(exc)
    for w in warnings:
        err.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)
    if problems:
        _fail(SourceValidationError(problems, shown_source(source)))
    out.print(f"{shown_source(source)}: valid — no problems found", markup=False,
              soft_wrap=True)


@app.command()
def kpis(
    source: SourceOpt,
    period: Annotated[str, typer.Option("--period", "-p", help="Period YYYY-MM.")],
    by: Annotated[Dimension | None, typer.Option(help="Cut every KPI by this dimension.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    tolerance_days: Annotated[int, typer.Option(min=0, help="On-time tolerance in days (sales "
                                                "OTD, fill rate).")] = 0,
    fill_level: Annotated[FillLevel, typer.Option(help="Fill rate level.")] = FillLevel.line,
    fill_basis: Annotated[FillBasis, typer.Option(help="Fill rate due-date basis.")] =
        FillBasis.promised,
    days_early: Annotated[int | None, typer.Option(min=0, help="Vendor OTD: days a receipt may "
                                                   "be early (default unlimited).")] = None,
    days_late: Annotated[int, typer.Option(min=0, help="Vendor OTD: days a receipt may be "
                                           "late.")] = 0,
    turns_months: Annotated[int, typer.Option(min=1, help="Inventory turns window (months "
                                              "ending at the period).")] = 1,
    ts_periods: Annotated[int, typer.Option(min=1, help="Tracking signal window (periods).")] = 6,
    lag: Annotated[int, typer.Option(min=0, help="Lag for accuracy at lag / FVA.")] = 1,
    snapshots: Annotated[Path | None, typer.Option(help="Plan snapshots CSV (plan history) for "
                                                    "accuracy at lag and FVA.")] = None,
    gl_income_sign: Annotated[Sign, typer.Option(help="How gl_budget stores income amounts "
                                                 "(negative = Business Central).")] =
        Sign.positive,
    labour_rate: Annotated[float | None, typer.Option(min=0, help="Labour rate per hour for "
                                                      "the over/under-absorbed payroll.")]
        = None,
    unmapped: Annotated[UnmappedScope, typer.Option(help="Unmapped sales-budget lines to "
                                                    "list: of the period, or of all periods.")]
        = UnmappedScope.period,
) -> None:
    """Print every KPI of a period (optionally cut by a dimension) and the budget
    reconciliation of the period."""
    from .kpi import build_facts
    from .kpi.options import KpiOptions
    from .kpi_report import compute_kpis, compute_kpis_by, rows_to_records
    from .loader import load_plan_snapshots
    from .sql.load import load_source_data

    try:
        from .periods import parse_period

        parse_period(period)
        options = KpiOptions(tolerance_days, fill_level.value, fill_basis.value, days_early,
                             days_late, turns_months, ts_periods, lag, labour_rate)
        data = load_source_data(source, gl_income_sign=gl_income_sign.value)
        plan = load_plan_snapshots(snapshots) if snapshots else None
        for w in data.warnings:
            err.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)
        facts = build_facts(data)
        result = compute_kpis(data, period, options, facts=facts, snapshots=plan,
                              unmapped_periods=unmapped.value)
        result["parameters"]["unmapped"] = unmapped.value
        rows = None
        if by is not None:
            rows = compute_kpis_by(data, period, by.value, options, facts=facts,
                                   snapshots=plan)
            result["by"] = by.value
            result["rows"] = rows_to_records(rows)
    except SopError as exc:
        _fail(exc)
    if fmt is Format.json:
        sys.stdout.write(_json(result))
    elif fmt is Format.csv:
        sys.stdout.write(_csv(result, rows))
    else:
        _print_table(result, rows)


def _json(result: dict) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


#: The measures of a budget-variance row written to CSV (one CSV row each).
_VARIANCE_MEASURES = ("sales_budget", "financial_budget", "variance", "variance_pct",
                      "assessment")


def _csv(result: dict, rows) -> str:
    """One long table, whatever the options: ``kpi, label, period, dimension, member,
    gl_account, value``. The period's KPIs (dimension and member empty), with ``--by`` every
    KPI per member, then the budget reconciliation of the period (``kpi`` =
    ``budget_variance.<measure>``, ``label`` = the account's name) and the count of
    unmapped sales-budget lines listed."""
    from .kpi_report import LABELS

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["kpi", "label", "period", "dimension", "member", "gl_account", "value"])

    def text(value) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        return repr(value) if isinstance(value, float) else str(value)

    period = result["period"]
    for key, label in LABELS.items():
        writer.writerow([key, label, period, "", "", "", text(result.get(key))])
    if "tracking_signal_flag" in result:
        writer.writerow(["tracking_signal_flag", "Tracking signal beyond ±4", period, "", "",
                         "", text(result["tracking_signal_flag"])])
    if rows is not None:
        by = result["by"]
        for rec in rows.to_dict(orient="records"):
            for key in rows.columns:
                if key != by:
                    writer.writerow([key, LABELS.get(key, key), period, by, str(rec[by]), "",
                                     text(rec[key])])
    for r in result["budget_variance"]:
        for measure in _VARIANCE_MEASURES:
            writer.writerow([f"budget_variance.{measure}", r["name"] or "", r["period"], "",
                             "", r["gl_account"], text(r[measure])])
    writer.writerow(["unmapped_budget_lines", "Sales-budget lines without a GL account",
                     period, "", "", "", str(len(result["unmapped_budget_lines"]))])
    return buf.getvalue()


def _fmt(key: str, value) -> str:
    from .kpi_report import PERCENT_KPIS

    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if key in PERCENT_KPIS:
        return f"{value:.1%}"
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _print_table(result: dict, rows) -> None:
    from .kpi.options import KpiOptions
    from .kpi.registry import options_notes
    from .kpi_report import LABELS

    p = result["parameters"]
    notes = options_notes(KpiOptions(**{k: p[k] for k in KpiOptions.__dataclass_fields__}))
    table = Table(title=f"S&OP KPIs — {result['period']}")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    table.add_column("basis", style="dim")
    for key, label in LABELS.items():
        table.add_row(label, _fmt(key, result.get(key)), notes.get(key, ""))
    out.print(table)
    _print_reconciliation(result)
    if rows is not None:
        _print_by_table(result["by"], rows)


def _print_reconciliation(result: dict) -> None:
    """The budget reconciliation of the period as a controller reads it: the accounts the
    sales budget feeds (revenue and cost of sales) with variance and assessment, the
    accounts outside the sales budget apart, and the unmapped lines with a title."""
    from .kpi.finance import OUTSIDE

    period = result["period"]
    fed = [r for r in result["budget_variance"] if r["assessment"] != OUTSIDE]
    outside = [r for r in result["budget_variance"] if r["assessment"] == OUTSIDE]
    if fed:
        vt = Table(title=f"Sales budget vs financial budget — {period}")
        for col in ("GL account", "name", "type", "sales budget", "financial budget",
                    "variance", "variance %", "assessment"):
            vt.add_column(col, justify="right" if "budget" in col or "var" in col else "left")
        for r in fed:
            vt.add_row(r["gl_account"], r["name"] or "", r["account_type"] or "",
                       _fmt("", r["sales_budget"]), _fmt("", r["financial_budget"]),
                       _fmt("", r["variance"]),
                       "n/a" if r["variance_pct"] is None else f"{r['variance_pct']:.1%}",
                       r["assessment"])
        out.print(vt, width=max(out.width, 120))
    if outside:
        ot = Table(title=f"Outside the sales budget (no posting-setup row feeds them) — {period}")
        for col in ("GL account", "name", "type", "financial budget"):
            ot.add_column(col, justify="right" if "budget" in col else "left")
        for r in outside:
            ot.add_row(r["gl_account"], r["name"] or "", r["account_type"] or "",
                       _fmt("", r["financial_budget"]))
        out.print(ot, width=max(out.width, 100))
    lines = result["unmapped_budget_lines"]
    if lines:
        scope = "all periods" if result["parameters"].get("unmapped") == "all" else period
        ut = Table(title=f"Sales-budget lines without a GL account — {scope} "
                         f"({len(lines)} of {result['unmapped_budget_lines_all_periods']} "
                         "over all periods; --unmapped all lists every period)")
        for col in ("period", "customer", "item", "location", "missing posting-setup pair",
                    "amount"):
            ut.add_column(col, justify="right" if col == "amount" else "left")
        for r in lines[:50]:
            ut.add_row(r["period"], r["customer_no"], r["item_no"], r["location_code"],
                       f"{r['gen_bus_posting_group']} × {r['gen_prod_posting_group']}",
                       _fmt("", r["amount"]))
        out.print(ut, width=max(out.width, 110))
        if len(lines) > 50:
            out.print(f"… and {len(lines) - 50} more (--format json or csv lists them all)",
                      markup=False)


def _print_by_table(by: str, rows) -> None:
    """KPIs down, dimension values across (few values); one row per value otherwise."""
    from .kpi_report import LABELS

    kpi_cols = [c for c in rows.columns if c != by]
    if len(rows) <= 8:
        bt = Table(title=f"KPIs by {by}")
        bt.add_column("KPI")
        for value in rows[by]:
            bt.add_column(str(value), justify="right")
        for key in kpi_cols:
            bt.add_row(LABELS.get(key, key), *[_fmt(key, v) for v in rows[key]])
    else:
        bt = Table(title=f"KPIs by {by}")
        bt.add_column(by)
        for key in kpi_cols:
            bt.add_column(key, justify="right")
        for rec in rows.to_dict(orient="records"):
            bt.add_row(str(rec[by]), *[_fmt(k, rec[k]) for k in kpi_cols])
    out.print(bt, width=max(out.width, 60 + 12 * min(len(rows), 8)))


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] =
        Path("sop-demo"),
    seed: Annotated[int, typer.Option(help="Demo data seed.")] = 7,
) -> None:
    """The main job on the embedded demo data: data set → workbook → refresh → scorecard."""
    import shutil

    from . import demo_data as demo_mod
    from .actions import export_scorecard, refresh
    from .template.build import build_template, packaged_template
    from .workbook.headless import HeadlessWorkbook

    data_dir = out_dir / "data"
    workbook = out_dir / "SOP_Demo.xlsm"
    template = packaged_template()
    try:
        with _progress() as bar:
            task = bar.add_task("demo data", total=len(_tables()) + 4)
            demo_mod.write(data_dir, seed=seed, end_period="2026-10",
                           progress=lambda _: bar.advance(task))
            bar.update(task, description="workbook")
            if template.is_file():
                shutil.copyfile(template, workbook)
            else:  # installed without the repository file: build it from xl/
                build_template(workbook)
            bar.advance(task)
            bar.update(task, description="refresh")
            book = HeadlessWorkbook(workbook)
            book.set_value("cfg_company_name", demo_mod.COMPANY)
            from .input_rows import write_input_table

            for name, frame in demo_mod.planner_inputs("2026-10").items():
                write_input_table(book, name, frame)
            report = refresh(book, str(data_dir))
            bar.advance(task)
            from .meeting.book import build_calendar, write_calendar

            write_calendar(book, build_calendar(book, 2026), 2026)
            write_calendar(book, build_calendar(book, 2027), 2027)
            book.save(backups=0)
            bar.advance(task)
            bar.update(task, description="scorecard, agenda, minutes")
            files = export_scorecard(HeadlessWorkbook(workbook), out_dir / "scorecard")
            meeting = _meeting_documents(workbook, out_dir / "meeting")
            bar.advance(task)
    except SopError as exc:
        _fail(exc)
    out.print(f"demo data:  {data_dir}/ ({sum(1 for _ in data_dir.glob('*.csv'))} tables)\n"
              f"workbook:   {workbook} (refreshed: {report.udf_cells} KPI cells)\n"
              f"scorecard:  {files['pdf']}\n"
              f"            {files['xlsx']}\n"
              f"charts:     {', '.join(str(p) for k, p in files.items() if k.startswith('sc'))}\n"
              f"meeting:    {', '.join(str(p) for p in meeting)}",
              markup=False)


def _meeting_documents(workbook: Path, folder: Path) -> list[Path]:
    """The executive meeting's agenda and minutes drafts (.md, .html, .eml)."""
    from .meeting import agenda, minutes, to_eml
    from .meeting.book import meeting_pack, recipients
    from .workbook.headless import HeadlessWorkbook

    book = HeadlessWorkbook(workbook)
    pack = meeting_pack(book)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, doc in (("agenda", agenda(pack, 6)), ("minutes", minutes(pack, 6))):
        eml = to_eml(doc.subject, doc.markdown, doc.html, recipients(book), None)
        for ext, data in (("md", doc.markdown.encode()), ("html", doc.html.encode()),
                          ("eml", eml)):
            path = folder / f"{kind}.{ext}"
            path.write_bytes(data)
            written.append(path)
    return written


@app.command("build-template")
def build_template_cmd(
    target: Annotated[Path, typer.Option("--out", "-o", help="Where to write the .xlsm.")] =
        Path("SOP_Template.xlsm"),
    check: Annotated[bool, typer.Option("--check", help="Only compare the sources' build with "
                                        "the file at --out; exit 1 if they differ.")] = False,
) -> None:
    """Build SOP_Template.xlsm from the text sources in xl/ (same sources → same bytes)."""
    from .template.build import build_template, build_template_bytes

    try:
        if check:
            same = target.is_file() and target.read_bytes() == build_template_bytes()
            if not same:
                err.print(f"{target} differs from its sources in xl/: run sop build-template",
                          markup=False)
                raise typer.Exit(1)
            out.print(f"{target}: up to date with xl/", markup=False)
            return
        build_template(target)
    except (ValueError, OSError) as exc:
        _fail(SopError(f"cannot build the template: {exc}"))
    except SopError as exc:
        _fail(exc)
    out.print(f"wrote {target} ({target.stat().st_size:,} bytes)", markup=False)


#: readable=False: an unreadable workbook is the command's one-line error, not a usage error
WorkbookArg = Annotated[Path, typer.Argument(help="The S&OP workbook (.xlsm).", readable=False)]
BackupsOpt = Annotated[int, typer.Option(min=0, help="Previous versions to keep as "
                                         "WORKBOOK.bak1 (newest) … .bakN.")]


@app.command()
def recalc(
    workbook: WorkbookArg,
    target: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of "
                                                "in place.")] = None,
    backups: BackupsOpt = 3,
) -> None:
    """Recompute every UDF (KPI) cell headless and store the values in the file."""
    from .workbook.headless import HeadlessWorkbook
    from .workbook.io import ensure_writable

    try:
        ensure_writable(target or workbook)
        book = HeadlessWorkbook(workbook)
        n = book.recalculate()
        saved = book.save(target, backups=backups)
    except SopError as exc:
        _fail(exc)
    out.print(f"recalculated {n} KPI cells in {saved}", markup=False)


@app.command()
def refresh(
    workbook: WorkbookArg,
    source: Annotated[str, typer.Option("--source", "-s", help="Folder of <table>.csv/"
                                        ".parquet, or a database URL (postgresql://…, "
                                        "duckdb:///file.duckdb, any SQLAlchemy URL).")],
    backups: BackupsOpt = 3,
) -> None:
    """Load and validate SOURCE, rewrite the data tables, recompute every KPI (headless).

    Planner inputs are kept; invalid data leaves the workbook unchanged.
    """
    from .actions import refresh as refresh_action
    from .workbook.headless import HeadlessWorkbook
    from .workbook.io import ensure_writable

    try:
        ensure_writable(workbook)
        # no progress bar: a source that fails the contract must print its error report
        # first (it is checked, in the database, before anything is written)
        book = HeadlessWorkbook(workbook)
        report = refresh_action(book, str(source))
        book.save(backups=backups)
    except SopError as exc:
        _fail(exc)
    for w in report.warnings:
        err.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)
    for note in report.taken:
        out.print(note, markup=False, highlight=False)
    rows = sum(report.rows.values())
    out.print(f"refreshed {workbook} from {report.source}: {rows:,} rows in {len(report.rows)} "
              f"tables, {report.udf_cells} KPI cells recomputed", markup=False)


@app.command("new")
def new_cmd(
    workbook: Annotated[Path, typer.Argument(help="The workbook to create (.xlsm); must not "
                                             "exist yet.")],
    period: Annotated[str, typer.Option("--period", "-p", help="Current period YYYY-MM: the "
                                        "first month of the rolling plan (the month after "
                                        "your data's last closed month).")],
    company: Annotated[str | None, typer.Option(help="Company name (agenda, minutes, "
                                                "calendar).")] = None,
    source: Annotated[str | None, typer.Option("--source", "-s", help="Refresh from this "
                                               "folder or database URL right away.")] = None,
) -> None:
    """Make a new S&OP workbook from the template at your current period.

    Never overwrites an existing file. With --source it is refreshed at once (as
    `sop refresh`); otherwise set the data source on Config, or run `sop refresh`.
    """
    from .actions import new_workbook

    try:
        report = new_workbook(workbook, period, company=company, source=source)
    except SopError as exc:
        _fail(exc)
    if report.refreshed is not None:
        for w in report.refreshed.warnings:
            err.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)
    done = (f"refreshed from {report.refreshed.source}" if report.refreshed is not None
            else f"next: sop refresh {workbook} --source DIR|URL")
    out.print(f"created {workbook} at current period {report.period}"
              + (f" for {report.company}" if report.company else "") + f"; {done}",
              markup=False)


@app.command("roll-forward")
def roll_forward_cmd(
    workbook: WorkbookArg,
    to: Annotated[str | None, typer.Option("--to", help="Roll until this period (YYYY-MM); "
                                           "default: one period.")] = None,
    backups: BackupsOpt = 3,
) -> None:
    """Archive the plan, advance the current period, reseed the horizon, recompute.

    Rolling to the period the workbook is already at changes nothing. A backup of the
    previous file is kept (WORKBOOK.bak1).
    """
    from .actions import roll_forward
    from .workbook.headless import HeadlessWorkbook
    from .workbook.io import ensure_writable

    try:
        ensure_writable(workbook)
        book = HeadlessWorkbook(workbook)
        report = roll_forward(book, to)
        if report.changed:
            book.save(backups=backups)
    except SopError as exc:
        _fail(exc)
    for note in report.taken if report.changed else ():
        out.print(note, markup=False, highlight=False)
    for w in report.warnings:
        err.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)
    if report.changed:
        out.print(f"rolled {workbook} from {report.from_period} to {report.to_period}: "
                  f"{report.snapshot_rows:,} plan rows archived, {report.udf_cells} KPI cells "
                  "recomputed", markup=False)
    else:
        out.print(f"{workbook} is already at {report.to_period}: nothing changed", markup=False)


@app.command()
def undo(workbook: WorkbookArg) -> None:
    """Restore the workbook from its newest backup (WORKBOOK.bak1), undoing the last
    refresh, roll forward or recalc; the current file is kept as WORKBOOK.undone."""
    from .workbook.undo import restore_backup

    try:
        restore_backup(workbook, template=_template_bytes)
    except SopError as exc:
        _fail(exc)
    out.print(f"restored {workbook} from its last backup", markup=False)


@app.command("export-scorecard")
def export_scorecard_cmd(
    workbook: WorkbookArg,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the files.")],
) -> None:
    """Write the executive scorecard: one-page PDF, chart PNGs, values-only XLSX."""
    from .actions import export_scorecard
    from .workbook.headless import HeadlessWorkbook

    try:
        files = export_scorecard(HeadlessWorkbook(workbook), out_dir)
    except SopError as exc:
        _fail(exc)
    for path in files.values():
        out.print(f"wrote {path}", markup=False)


@app.command("history")
def history_cmd(
    workbook: WorkbookArg,
    target: Annotated[Path, typer.Option("--out", "-o", help="File to write: .csv, or "
                                         ".parquet.")],
) -> None:
    """Export the plan history (one plan per roll forward) as the plan-snapshot file that
    `sop kpis --snapshots FILE` reads: snapshot_period, period, item_no, location_code,
    quantity (consensus), baseline_quantity."""
    from .actions import export_plan_history
    from .workbook.headless import HeadlessWorkbook

    try:
        rows = export_plan_history(HeadlessWorkbook(workbook), target)
    except SopError as exc:
        _fail(exc)
    out.print(f"wrote {target}: {rows:,} plan rows", markup=False)


@app.command()
def forecast(
    history: Annotated[Path, typer.Argument(help="CSV with columns series,period,quantity "
                                            "(period YYYY-MM, every month of a series "
                                            "present).")],
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="Months to "
                                         "forecast past each series' last month.")] = 12,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write the CSV here "
                                                  "(default: standard output).")] = None,
) -> None:
    """Forecast any monthly history with the workbook's statistical baseline.

    Writes series,period,forecast,model. Gaps, duplicate months and non-numbers are
    reported with their row and column; nothing is written then.
    """
    from .forecast_csv import forecast_history, read_history, write_forecast

    try:
        frame = forecast_history(read_history(history), horizon)
        text = write_forecast(frame, out_file)
    except SopError as exc:
        _fail(exc)
    if text is not None:
        sys.stdout.write(text)
    else:
        n = frame["series"].nunique()
        err.print(f"wrote {len(frame):,} rows ({n:,} series × {horizon} months) to "
                  f"{out_file}", markup=False, highlight=False)


@app.command()
def baseline(workbook: WorkbookArg, backups: BackupsOpt = 3) -> None:
    """Re-run the statistical baseline on the history already in WORKBOOK (no Refresh,
    no source needed): the plan, its model and backtest notes and every stage built on it
    are recomputed; overrides and other inputs are kept. A backup is kept."""
    from .actions import rerun_baseline
    from .workbook.headless import HeadlessWorkbook
    from .workbook.io import ensure_writable

    try:
        ensure_writable(workbook)
        book = HeadlessWorkbook(workbook)
        report = rerun_baseline(book)
        book.save(backups=backups)
    except SopError as exc:
        _fail(exc)
    models = ", ".join(f"{m} {c}" for m, c in report.models.most_common(5))
    out.print(f"baseline of {workbook} re-run: {report.series:,} item × location series "
              f"({models}), {report.udf_cells} KPI cells recomputed", markup=False,
              soft_wrap=True)


@app.command()
def doctor(
    workbook: Annotated[Path | None, typer.Argument(
        help="The S&OP workbook to check too (its xlwings.conf sheet, Mark of the Web).")
    ] = None,
) -> None:
    """Check this machine's Excel setup: the xlwings add-in and its version, the interpreter
    it will use, that udfs and macros import there, the UDF server setting, macro security
    and Mark of the Web. One line per problem with its fix; exit 1 if any."""
    from .doctor import report

    text, code = report(workbook)
    typer.echo(text)  # one line per problem, unwrapped
    raise typer.Exit(code)


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)


from .cli_meeting import register as _register_meeting  # noqa: E402 (commands below)

_register_meeting(app)


# --------------------------------------------------------------------------- guards
# Around every command (issue 20): a writing command holds the workbook's writer lock for
# its whole run and first removes what a killed run left; every command on a workbook
# refuses a file that is not a usable S&OP workbook before any work; an OSError is a
# one-line error (exit 2); anything unexpected is one line naming a log file (exit 3).

#: commands that write a workbook: the parameter holding the file they write
_WRITES = {"recalc": "target", "refresh": "workbook", "roll-forward": "workbook",
           "undo": "workbook", "calendar": "workbook", "baseline": "workbook",
           "new": "workbook"}
#: commands whose workbook is not (yet) an S&OP workbook to check: ``new`` makes it (and
#: refuses an existing file), ``doctor`` reports what is wrong with it instead of refusing
_NOT_CHECKED = {"undo", "new", "doctor"}


def _template_bytes() -> bytes:
    """The template built from xl/: what a workbook is checked against when no
    SOP_Template.xlsm is at hand (the builder is imported only then)."""
    from .template.build import build_template_bytes

    return build_template_bytes()


def _guarded(name: str, callback):
    import contextlib
    import functools

    @functools.wraps(callback)
    def run(*args, **kwargs):
        from .workbook.checks import check_sop_workbook
        from .workbook.io import io_error, remove_temporaries
        from .workbook.lock import tidy_if_idle, writer_lock

        # a generator or file closed during clean-up after an I/O error (openpyxl's writer
        # after a full disk) must not print a traceback after the one-line error
        sys.unraisablehook = lambda unraisable: None
        try:
            with contextlib.ExitStack() as stack:
                workbook = kwargs.get("workbook")
                if isinstance(workbook, Path):
                    written = kwargs.get(_WRITES[name]) or workbook if name in _WRITES \
                        else None
                    if written is not None and (name != "calendar" or kwargs.get("save")):
                        stack.enter_context(writer_lock(written))
                        remove_temporaries(written)
                    else:
                        tidy_if_idle(workbook)
                    if name not in _NOT_CHECKED:  # undo checks the backup it restores
                        check_sop_workbook(workbook, template=_template_bytes)
                return callback(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except SopError as exc:
            _fail(exc)
        except OSError as exc:
            _fail(io_error(exc, f"sop {name}: cannot read or write a file",
                           "The workbook was not changed."))
        except MemoryError:
            _fail(SopError(f"sop {name}: out of memory", "The workbook was not changed."))
        except Exception as exc:
            # lxml reports a failed write (full disk, file-size limit) as its own error
            if type(exc).__name__ == "SerialisationError" and str(exc).startswith("IO_"):
                _fail(SopError(f"sop {name}: cannot write a file ({exc})",
                               "The workbook was not changed."))
            _unexpected(name)

    return run


def _unexpected(name: str) -> None:
    """One line naming a log file with the traceback; exit code 3."""
    import datetime as dt
    import os
    import tempfile
    import traceback

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = traceback.format_exc()
    last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
    log = None
    folder = Path(os.environ.get("SOP_LOG_DIR") or Path(tempfile.gettempdir()) / "sop-workbook")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / f"error-{stamp}-{os.getpid()}.log"
        log.write_text(f"sop {name} {' '.join(sys.argv[2:])}\nversion {__version__}\n\n{text}",
                       encoding="utf-8")
    except OSError:
        log = None
    where = f"details in {log}" if log else "no log could be written"
    err.print(f"error: sop {name} failed unexpectedly ({last}); {where}. Please report it.",
              markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(3)


for _info in app.registered_commands:
    _info.callback = _guarded(_info.name or _info.callback.__name__.replace("_", "-"),
                              _info.callback)


def main() -> None:
    try:
        app()
    except SopError as exc:  # pragma: no cover - commands handle their own
        err.print(f"error: {exc.summary}", markup=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
