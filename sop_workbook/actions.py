"""The ribbon actions, once, behind both adapters (live Excel and headless).

Each action takes a workbook adapter (:class:`~sop_workbook.workbook.headless.
HeadlessWorkbook` or the xlwings one) and works through its small interface: read and
write Excel tables by name, read and write named cells, recalculate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from . import plan as planning
from . import stages
from .errors import SopError
from .periods import parse_period
from .scorecard import KpiOptions


@dataclass
class RefreshReport:
    source: str
    rows: dict[str, int]
    udf_cells: int
    warnings: list[str]


def _int(value, default: int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def options_from_config(book) -> KpiOptions:
    """The KPI options set on the Config sheet (names cfg_*)."""
    early = book.get_value("cfg_days_early")
    basis = str(book.get_value("cfg_fill_basis") or "promised").strip().lower()
    return KpiOptions(
        tolerance_days=_int(book.get_value("cfg_tolerance_days"), 0),
        fill_basis=basis if basis in ("promised", "requested") else "promised",
        days_early=None if early in (None, "") else _int(early, 0),
        days_late=_int(book.get_value("cfg_days_late"), 0),
    )


def source_tables(source: str, options: KpiOptions, sign: str) -> tuple[dict, list[str]]:
    """Every table *Refresh* lands from ``source`` — master tables, KPI aggregates, planning
    inputs and the sales-budget → GL reconciliation — validated and computed **in the
    database** (:mod:`sop_workbook.sql`: embedded DuckDB for a folder of CSV/Parquet files,
    the database itself for a SQLAlchemy URL); only aggregates reach Python."""
    from .sql import load_aggregates

    result = load_aggregates(str(source), options, sign)
    return result.tables, list(result.warnings)


def display_source(source: str) -> str:
    """The source as written into the workbook: a database URL without its password."""
    text = str(source)
    if "://" not in text:
        return text
    try:
        from sqlalchemy.engine import make_url

        return make_url(text).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy understands: keep the scheme only
        return text.split("://", 1)[0] + "://…"


def refresh(book, source: str, *, now: dt.datetime | None = None) -> RefreshReport:
    """Load and validate ``source``, write the data and aggregate tables, rebuild every
    review-stage table (demand plan, supply, finance, pre-S&OP, executive lists), recompute
    every KPI cell, stamp time and source. Planner inputs (overrides, events, comments,
    decisions, actions, targets) live in their own tables and are not touched. If the source
    or an input is invalid, nothing in the workbook changes."""
    sign = str(book.get_value("cfg_gl_income_sign") or "positive").strip().lower()
    sign = sign if sign in ("positive", "negative") else "positive"
    options = options_from_config(book)
    settings = settings_from_config(book)
    inputs = read_inputs(book, settings.current, snapshots=pd.DataFrame())
    tables, warnings = source_tables(source, options, sign)
    # the plan history is read after the source is loaded: their memory peaks do not add up
    inputs.snapshots = _optional_table(book, "plan_history")
    tables.update(build_stages(book, tables, inputs, settings))
    rows = {}
    for name, frame in tables.items():
        book.write_table(name, frame)
        rows[name] = len(frame)
    draw_category_charts(book, tables["demand_rollup"])
    stamp = (now or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    shown = display_source(source)
    book.set_value("cfg_data_source", shown)
    book.set_value("cfg_last_refresh", f"{stamp} from {shown}")
    udf_cells = book.recalculate()
    return RefreshReport(shown, rows, udf_cells, warnings)


def settings_from_config(book) -> stages.Settings:
    """The planning settings on the Config sheet (names cfg_*), with their defaults."""
    def number(name: str, default: float) -> float:
        try:
            value = book.get_value(name)
        except SopError:
            return default
        try:
            return float(value) if value not in (None, "") else default
        except (TypeError, ValueError):
            raise SopError(f"Config {name}: {value!r} is not a number") from None

    return stages.Settings(current=current_period(book),
                           horizon=int(number("cfg_horizon", 12)) or 12,
                           safety_days=number("cfg_safety_days", 14.0),
                           lookahead=max(1, int(number("cfg_dos_lookahead", 3))),
                           labour_rate=number("cfg_labour_rate", 0.0))


def _optional_table(book, name: str) -> pd.DataFrame:
    try:
        return book.read_table(name)
    except SopError:
        return pd.DataFrame()


def read_inputs(book, current: str, snapshots: pd.DataFrame | None = None) -> stages.Inputs:
    """The planners' inputs, each checked (errors name sheet and cell); ``snapshots``: the
    plan history when the caller holds it already (as read_table would give it)."""
    return stages.Inputs(
        overrides=read_overrides(book, current),
        events=read_events(book),
        snapshots=_optional_table(book, "plan_history") if snapshots is None else snapshots,
        decisions=_optional_table(book, "presop_decisions"),
        actions=_optional_table(book, "act_log"),
    )


def read_events(book) -> pd.DataFrame:
    """The marketing events (Demand sheet, table plan_events), rows renumbered from 0;
    ``attrs["offsets"]`` keeps each row's offset below the header for error messages
    (the events are checked against the items when the plan is built)."""
    frame = _optional_table(book, "plan_events")
    offsets = list(frame.index)
    frame = frame.reset_index(drop=True)
    frame.attrs["offsets"] = offsets
    return frame


def build_stages(book, tables: dict, inputs: stages.Inputs, settings: stages.Settings
                 ) -> dict[str, pd.DataFrame]:
    """:func:`stages.build_stage_tables`, with a planner-input problem reported as the
    sheet!cell to fix."""
    try:
        return stages.build_stage_tables(tables, inputs, settings)
    except planning.TableInputError as exc:
        offsets = inputs.events.attrs.get("offsets", [])
        sheet, header_row = book.table_position("plan_events")
        lines = []
        for problem in exc.problems:
            where = sheet
            if problem.row is not None and problem.row - 1 < len(offsets):
                row = header_row + 1 + int(offsets[problem.row - 1])
                col = (book.column_letter("plan_events", problem.column)
                       if problem.column in book.table_columns("plan_events") else "")
                where = f"{sheet}!{col}{row}" if col else f"{sheet} row {row}"
            lines.append(f"{where}: {problem.column or ''} {problem.message}")
        raise SopError(f"{len(lines)} invalid marketing event(s) on {sheet}",
                       "\n".join(lines)) from None


def draw_category_charts(book, rollup: pd.DataFrame) -> None:
    """One line chart per category on the Demand sheet: shipped history, baseline and
    consensus (rows of demand_rollup with location (all)). Headless only for now: the live
    adapter keeps the charts of the last headless refresh."""
    if not hasattr(book, "replace_charts"):
        return
    from .charts import category_charts

    sheet, header_row = book.table_position("demand_rollup")
    first_col = book.column_letter("demand_rollup", "h24")
    book.replace_charts("2 Demand", "category", category_charts(
        rollup, sheet, header_row, first_col, label_sheet="2 Demand",
        label_row=header_row - 1, label_first_col="F"))


# --------------------------------------------------------------------------- the plan


def current_period(book) -> str:
    value = str(book.get_value("cfg_current_period") or "").strip()
    try:
        parse_period(value)
    except SopError:
        raise SopError(f"Config!B5 (current period): {value!r} is not YYYY-MM") from None
    return value


def read_overrides(book, current: str | None = None, horizon: int = 12) -> pd.DataFrame:
    """The planners' overrides (Demand sheet, table plan_overrides), checked: a quantity
    that is not a number, a period that is not YYYY-MM, or (given ``current``) a period
    outside the plan horizon is reported with its sheet and cell — never ignored or zeroed."""
    frame = book.read_table("plan_overrides")
    if frame.empty:
        return pd.DataFrame(columns=["item_no", "location_code", "period", "quantity",
                                     "reason_code", "comment", "entered_by"])
    problems = []
    sheet, header_row = book.table_position("plan_overrides")
    for i, rec in frame.iterrows():  # the index is the row's offset below the header
        row = header_row + 1 + int(i)
        qty = rec.get("quantity")
        if qty in (None, "") or isinstance(qty, bool) or not _is_number(qty):
            col = book.column_letter("plan_overrides", "quantity")
            problems.append(f"{sheet}!{col}{row}: quantity {qty!r} is not a number")
        period = str(rec.get("period") or "").strip()
        col = book.column_letter("plan_overrides", "period")
        try:
            month = parse_period(period)
        except SopError:
            problems.append(f"{sheet}!{col}{row}: period {period!r} is not YYYY-MM")
            continue
        if current is not None:
            first = parse_period(current)
            if not first <= month < first + horizon:
                problems.append(f"{sheet}!{col}{row}: period {period} is outside the plan "
                                f"horizon ({current} to {planning.plan_periods(current)[-1]})")
    if problems:
        raise SopError(f"{len(problems)} invalid override(s) on {sheet}", "\n".join(problems))
    frame = frame.reset_index(drop=True)
    frame["period"] = frame["period"].astype(str).str.strip()
    frame["quantity"] = frame["quantity"].astype(float)
    return frame


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def plan_from_grid(grid: pd.DataFrame, current: str) -> pd.DataFrame:
    """The plan table of the Demand sheet back in long form (baseline, consensus)."""
    if grid.empty:
        return pd.DataFrame(columns=["item_no", "location_code", "period", "baseline",
                                     "consensus"])
    periods = planning.plan_periods(current, 12)
    cols = [f"p{i + 1:02d}" for i in range(12)]
    long = grid.melt(id_vars=["item_no", "location_code", "layer"], value_vars=cols,
                     var_name="slot", value_name="quantity")
    long["period"] = long["slot"].map(dict(zip(cols, periods, strict=True)))
    long["quantity"] = pd.to_numeric(long["quantity"], errors="coerce").fillna(0.0)
    wide = long.pivot_table(index=["item_no", "location_code", "period"], columns="layer",
                            values="quantity", aggfunc="sum").reset_index()
    for layer in ("baseline", "consensus"):
        if layer not in wide:
            wide[layer] = 0.0
    return wide[["item_no", "location_code", "period", "baseline", "consensus"]]


@dataclass
class RollReport:
    from_period: str
    to_period: str
    snapshot_rows: int
    udf_cells: int

    @property
    def changed(self) -> bool:
        return self.from_period != self.to_period


def roll_forward(book, to_period: str | None = None) -> RollReport:
    """Roll the plan forward (domain.md): archive a snapshot of the plan in plan_history,
    advance the current period, keep overrides on periods that stay, reseed the horizon
    from the baseline, recompute. Rolling to the current period changes nothing."""
    current = current_period(book)
    grid = book.read_table("plan_demand")
    plan = plan_from_grid(grid, current)
    overrides = read_overrides(book, current)
    try:
        result = planning.roll_forward(plan, overrides, current, to_period)
    except ValueError as exc:
        raise SopError(str(exc)) from None
    if result.rolled == 0:
        return RollReport(current, current, 0, 0)
    history = book.read_table("plan_history")
    snapshot = pd.concat([history, result.snapshot], ignore_index=True) if len(history) \
        else result.snapshot
    book.write_table("plan_history", snapshot)
    book.write_table("plan_overrides", result.overrides)
    book.set_value("cfg_current_period", result.current_period)
    rebuild_stages(book, snapshots=snapshot)  # the history just written, not read back
    udf_cells = book.recalculate()
    return RollReport(current, result.current_period, len(result.snapshot), udf_cells)


#: The workbook tables the review stages are computed from (written by Refresh).
STAGE_SOURCES = ("items", "locations", "gl_accounts", "posting_setup", "agg_sales",
                 "agg_pipeline", "agg_supply_open", "agg_item_mix", "routings", "capacity")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells read back from a sheet as typed columns: a column whose values are all
    numbers becomes float, the others stay as they are."""
    out = frame.copy()
    for col in out.columns:
        kind = out[col].dtype.kind
        if kind in "iuf":  # numbers already (every value an int or float)
            out[col] = out[col].astype(float)
            continue
        if kind == "b":
            continue
        values = out[col].dropna()
        if len(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in values):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out.reset_index(drop=True)


def rebuild_stages(book, snapshots: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Recompute every review-stage table from the aggregates already in the workbook
    (used by Roll forward, which must not need the source) and write them."""
    settings = settings_from_config(book)
    inputs = read_inputs(book, settings.current, snapshots)
    agg = {name: _typed(_optional_table(book, name)) for name in STAGE_SOURCES}
    tables = build_stages(book, agg, inputs, settings)
    for name, frame in tables.items():
        book.write_table(name, frame)
    draw_category_charts(book, tables["demand_rollup"])
    return tables


def export_scorecard(book, out_dir) -> dict:
    """Write the executive scorecard (one-page PDF, chart PNGs, values-only XLSX)."""
    from .export import collect_scorecard, write_scorecard

    return write_scorecard(collect_scorecard(book), out_dir)
