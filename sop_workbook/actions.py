"""The ribbon actions, once, behind both adapters (live Excel and headless).

Each action takes a workbook adapter (:class:`~sop_workbook.workbook.headless.
HeadlessWorkbook` or the xlwings one) and works through its small interface: read and
write Excel tables by name, read and write named cells, recalculate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import plan_history as plan_history_table
from .errors import DamagedWorkbookError, SopError
from .frames import blank, per_unique
from .input_rows import take_typed_rows, write_input_table
from .kpi.options import KpiOptions
from .periods import parse_period, shift_period
from .ports import Workbook
from .review import demand_plan
from .review.cycle import build_stage_tables
from .review.inputs import Inputs, Settings


@dataclass
class RefreshReport:
    source: str
    rows: dict[str, int]
    udf_cells: int
    warnings: list[str]
    taken: list[str] = field(default_factory=list)  # rows typed below input tables, taken in


def config_value(book: Workbook, name: str, default: float | None, low: float, high: float, *,
                 whole: bool = False, label: str = "") -> float | None:
    """A number on the Config sheet (defined name ``name``), range-checked: empty → the
    default; text that is not a number, a fraction where a whole number is needed, or a
    value outside [low, high] is an error naming the cell, e.g. ``Config!B6 (horizon):
    100000000 is outside 1 to 12``."""
    try:
        value = book.get_value(name)
    except SopError:
        return default
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    where = _where(book, name, label)
    if isinstance(value, bool):
        raise SopError(f"{where}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SopError(f"{where}: {value!r} is not a number") from None
    if number != number or not low <= number <= high:
        raise SopError(f"{where}: {value!r} is outside {low:g} to {high:g}")
    if whole and not number.is_integer():
        raise SopError(f"{where}: {value!r} is not a whole number")
    return int(number) if whole else number


def config_choice(book: Workbook, name: str, choices: tuple[str, ...], label: str = "") -> str:
    """A choice on the Config sheet: empty → the first; anything else not listed is an
    error naming the cell."""
    try:
        value = book.get_value(name)
    except SopError:
        return choices[0]
    text = str(value if value is not None else "").strip().lower()
    if not text:
        return choices[0]
    if text not in choices:
        raise SopError(f"{_where(book, name, label)}: {value!r} is not one of "
                       f"{', '.join(choices)}")
    return text


def _where(book: Workbook, name: str, label: str) -> str:
    try:
        cell = book.address(name)
    except Exception:  # an adapter without addresses, or a name pointing nowhere
        cell = "Config"
    return f"{cell} ({label or name.removeprefix('cfg_').replace('_', ' ')})"


def check_config(book: Workbook) -> None:
    """Every setting on the Config sheet range-checked (an error names the cell)."""
    options_from_config(book)
    settings_from_config(book)
    config_choice(book, "cfg_gl_income_sign", ("positive", "negative"))


def options_from_config(book: Workbook) -> KpiOptions:
    """The KPI options set on the Config sheet (names cfg_*), range-checked."""
    return KpiOptions(
        tolerance_days=config_value(book, "cfg_tolerance_days", 0, 0, 365, whole=True),
        fill_basis=config_choice(book, "cfg_fill_basis", ("promised", "requested")),
        days_early=config_value(book, "cfg_days_early", None, 0, 365, whole=True),
        days_late=config_value(book, "cfg_days_late", 0, 0, 365, whole=True),
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


def refresh(book: Workbook, source: str, *, now: dt.datetime | None = None) -> RefreshReport:
    """Load and validate ``source``, write the data and aggregate tables, rebuild every
    review-stage table (demand plan, supply, finance, pre-S&OP, executive lists), recompute
    every KPI cell, stamp time and source. Planner inputs (overrides, events, comments,
    decisions, actions, targets) live in their own tables and are not touched. If the source
    or an input is invalid, nothing in the workbook changes."""
    taken = take_typed_rows(book)
    sign = config_choice(book, "cfg_gl_income_sign", ("positive", "negative"))
    options = options_from_config(book)
    start = None
    if not str(book.get_value("cfg_current_period") or "").strip():
        # a new workbook (Config's current period empty): start where the data ends
        tables, warnings = source_tables(source, options, sign)
        start = start_period(tables["agg_sales"])
        warnings.insert(0, f"Config's current period was empty: set to {start}, the period "
                        "after the data's last one (as `sop new --period` would)")
    settings = settings_from_config(book, start)
    inputs = read_inputs(book, settings.current, snapshots=pd.DataFrame())
    if start is None:
        tables, warnings = source_tables(source, options, sign)
    else:
        book.set_value("cfg_current_period", start)
    # the plan history is read after the source is loaded: their memory peaks do not add up
    inputs.snapshots = review_history(book, settings.current)
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
    warnings.extend(note_coverage(book, tables["agg_sales"], settings.current))
    udf_cells = book.recalculate()
    return RefreshReport(shown, rows, udf_cells, warnings, taken)


def note_coverage(book: Workbook, agg_sales: pd.DataFrame, current: str) -> list[str]:
    """Write Config's *Data loaded through* cell (cfg_data_through; skipped in a workbook
    made before it existed) and return the warning, if any, that the data's last loaded
    period and the workbook's last closed period differ (:mod:`sop_workbook.review.loaded`)."""
    from .review import loaded

    last = loaded.last_loaded_period(agg_sales)
    with contextlib.suppress(SopError):
        book.set_value("cfg_data_through", loaded.loaded_label(last, current))
    warning = loaded.coverage_warning(last, current)
    return [warning] if warning else []


def start_period(agg_sales: pd.DataFrame) -> str:
    """The current period of a new workbook whose period is not set: the period after the
    data's last loaded one (so that period is the last closed one)."""
    from .review import loaded

    last = loaded.last_loaded_period(agg_sales)
    if last is None:
        raise SopError("Config!B5 (current period) is empty and the data holds no sales "
                       "actuals to start from: type the current period (YYYY-MM), or make "
                       "the workbook with sop new WORKBOOK --period YYYY-MM")
    return shift_period(last, 1)


def settings_from_config(book: Workbook, current: str | None = None) -> Settings:
    """The planning settings on the Config sheet (names cfg_*), with their defaults,
    range-checked (the horizon is at most the plan columns p01… of plan_demand);
    ``current``: the current period to use instead of Config's."""
    current = current or current_period(book)
    try:
        columns = book.table_columns("plan_demand")
        slots = sum(1 for col in columns if re.fullmatch(r"p\d\d", str(col)))
    except SopError:
        slots = 12
    return Settings(
        current=current,
        horizon=config_value(book, "cfg_horizon", 12, 1, max(1, slots), whole=True),
        safety_days=config_value(book, "cfg_safety_days", 14.0, 0, 3650),
        lookahead=config_value(book, "cfg_dos_lookahead", 3, 1, 24, whole=True,
                               label="days-of-supply lookahead"),
        labour_rate=config_value(book, "cfg_labour_rate", 0.0, 0, 1e7))


def _optional_table(book: Workbook, name: str) -> pd.DataFrame:
    """A table, or an empty frame when the workbook has none of that name (a damaged
    workbook is still an error)."""
    try:
        return book.read_table(name)
    except DamagedWorkbookError:
        raise
    except SopError:
        return pd.DataFrame()


def read_inputs(book: Workbook, current: str, snapshots: pd.DataFrame | None = None) -> Inputs:
    """The planners' inputs, each checked (errors name sheet and cell); ``snapshots``: the
    plan history when the caller holds it already (as read_table would give it)."""
    return Inputs(
        overrides=read_overrides(book, current),
        events=read_events(book),
        snapshots=review_history(book, current) if snapshots is None else snapshots,
        decisions=_optional_table(book, "presop_decisions"),
        actions=_optional_table(book, "act_log"),
    )


def read_events(book: Workbook) -> pd.DataFrame:
    """The marketing events (Demand sheet, table plan_events), rows renumbered from 0;
    ``attrs["offsets"]`` keeps each row's offset below the header for error messages
    (the events are checked against the items when the plan is built)."""
    frame = _optional_table(book, "plan_events")
    offsets = list(frame.index)
    frame = frame.reset_index(drop=True)
    frame.attrs["offsets"] = offsets
    return frame


def build_stages(book: Workbook, tables: dict, inputs: Inputs, settings: Settings
                 ) -> dict[str, pd.DataFrame]:
    """:func:`~sop_workbook.review.cycle.build_stage_tables`, with a planner-input problem
    reported as the sheet!cell to fix."""
    check_override_keys(book, inputs.overrides, tables.get("items"), tables.get("locations"))
    try:
        return build_stage_tables(tables, inputs, settings)
    except demand_plan.TableInputError as exc:
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


def draw_category_charts(book: Workbook, rollup: pd.DataFrame) -> None:
    """One line chart per category on the Demand sheet: shipped history, baseline and
    consensus (rows of demand_rollup with location (all)). Headless only for now: the live
    adapter's ``replace_charts`` keeps the charts of the last headless refresh."""
    from .charts import category_charts

    sheet, header_row = book.table_position("demand_rollup")
    first_col = book.column_letter("demand_rollup", "h24")
    book.replace_charts("2 Demand", "category", category_charts(
        rollup, sheet, header_row, first_col, label_sheet="2 Demand",
        label_row=header_row - 1, label_first_col="F"))


# --------------------------------------------------------------------------- the plan


def current_period(book: Workbook) -> str:
    value = str(book.get_value("cfg_current_period") or "").strip()
    try:
        parse_period(value)
    except SopError:
        raise SopError(f"{_where(book, 'cfg_current_period', 'current period')}: {value!r} "
                       "is not YYYY-MM") from None
    if not 1900 <= int(value[:4]) <= 2199:
        raise SopError(f"{_where(book, 'cfg_current_period', 'current period')}: {value!r} "
                       "is outside 1900-01 to 2199-12")
    return value


def read_overrides(book: Workbook, current: str | None = None, horizon: int = 12) -> pd.DataFrame:
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
                                f"horizon ({current} to {demand_plan.plan_periods(current)[-1]})")
    if problems:
        raise SopError(f"{len(problems)} invalid override(s) on {sheet}", "\n".join(problems))
    offsets = list(frame.index)
    frame = frame.reset_index(drop=True)
    frame.attrs["offsets"] = offsets  # each row's offset below the header (for errors)
    frame["period"] = frame["period"].astype(str).str.strip()
    frame["quantity"] = frame["quantity"].astype(float)
    return frame


def _reason_codes(book: Workbook) -> list[str]:
    """The reason codes of the Config list (lst_tables, column reason_code); empty if the
    workbook has no such list."""
    lists = _optional_table(book, "lst_tables")
    if "reason_code" not in lists:
        return []
    return [str(v).strip() for v in lists["reason_code"] if not blank(v)]


def _key_text(value) -> str:
    """A key cell as text: 1001.0 (a number as Excel hands it over) reads as 1001."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def check_override_keys(book: Workbook, overrides: pd.DataFrame, items: pd.DataFrame | None,
                        locations: pd.DataFrame | None) -> None:
    """Refuse an override that cannot be applied, naming its sheet and cell: an item not in
    the items table, a location not in the locations table (when those tables have rows),
    a reason code missing or not in Config's list of reason codes. Such an override would
    otherwise silently add nothing to the plan."""
    if overrides is None or overrides.empty:
        return
    sheet, header_row = book.table_position("plan_overrides")
    offsets = overrides.attrs.get("offsets", list(range(len(overrides))))
    known_items = ({_key_text(v) for v in items["item_no"]}
                   if items is not None and "item_no" in items and len(items) else None)
    known_locations = ({_key_text(v) for v in locations["location_code"]}
                       if locations is not None and "location_code" in locations
                       and len(locations) else None)
    reasons = _reason_codes(book)
    problems = []
    for i, rec in enumerate(overrides.to_dict(orient="records")):
        row = header_row + 1 + int(offsets[i] if i < len(offsets) else i)

        def cell(column: str, row=row) -> str:
            return f"{sheet}!{book.column_letter('plan_overrides', column)}{row}"

        item = "" if blank(rec.get("item_no")) else _key_text(rec.get("item_no"))
        if not item:
            problems.append(f"{cell('item_no')}: item_no is empty")
        elif known_items is not None and item not in known_items:
            problems.append(f"{cell('item_no')}: item {item!r} is not in the items table")
        location = rec.get("location_code")
        if blank(location):
            problems.append(f"{cell('location_code')}: location_code is empty")
        elif known_locations is not None and _key_text(location) not in known_locations:
            problems.append(f"{cell('location_code')}: location {_key_text(location)!r} is "
                            "not in the locations table")
        reason = rec.get("reason_code")
        if reasons and (blank(reason) or str(reason).strip() not in reasons):
            shown = "empty" if blank(reason) else repr(str(reason).strip())
            problems.append(f"{cell('reason_code')}: reason code {shown} is not one of "
                            f"Config's reason codes ({', '.join(reasons)})")
    if problems:
        raise SopError(f"{len(problems)} override(s) on {sheet} cannot be applied",
                       "\n".join(problems) + "\nThe workbook was not changed.")


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
    periods = demand_plan.plan_periods(current, 12)
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
    warnings: list[str] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)  # rows typed below input tables, taken in

    @property
    def changed(self) -> bool:
        return self.from_period != self.to_period


def roll_forward(book: Workbook, to_period: str | None = None) -> RollReport:
    """Roll the plan forward (domain.md): archive a snapshot of the plan in plan_history,
    advance the current period, keep overrides on periods that stay, reseed the horizon
    from the baseline, recompute. Rolling to the current period changes nothing."""
    check_config(book)  # the KPI cells are recomputed with these settings too
    taken = take_typed_rows(book)
    current = current_period(book)
    grid = book.read_table("plan_demand")
    plan = plan_from_grid(grid, current)
    overrides = read_overrides(book, current)
    check_override_keys(book, overrides, _optional_table(book, "items"),
                        _optional_table(book, "locations"))
    try:
        result = demand_plan.roll_forward(plan, overrides, current, to_period)
    except ValueError as exc:
        raise SopError(str(exc)) from None
    if result.rolled == 0:
        return RollReport(current, current, 0, 0, taken=taken)
    archived = plan_history_table.to_table(result.snapshot)
    snapshots = archive_plan(book, archived, result.current_period)
    write_input_table(book, "plan_overrides", result.overrides)
    book.set_value("cfg_current_period", result.current_period)
    agg = stage_sources(book)
    rebuild_stages(book, agg, snapshots=snapshots)
    warnings = note_coverage(book, agg["agg_sales"], result.current_period)
    udf_cells = book.recalculate()
    return RollReport(current, result.current_period, len(result.snapshot), udf_cells,
                      warnings, taken)


def archive_plan(book: Workbook, archived: pd.DataFrame, current: str) -> pd.DataFrame:
    """Add the archived plan (rows of table plan_history) to the plan history, its
    snapshot periods checked first (an error names the cell), and return what the demand
    review of ``current`` reads of the history with it (:func:`review_snapshots`).

    When every archived plan in the workbook is older than this one, in order (as roll
    forward leaves them), only the snapshot periods are read, the plan is appended below
    (:meth:`append_rows`: the rows of years are not read or written again) and the review
    reads the plans of its window; otherwise the history is read whole, joined and
    written, as before."""
    periods = book.read_table_from("plan_history", "snapshot_period", lambda v: True,
                                   ["snapshot_period"])
    check_history_periods(book, periods)  # before anything changes
    months = plan_history_table.snapshot_months(periods)
    newest = plan_history_table.snapshot_months(archived)
    if len(newest) and (not len(months) or (
            (np.diff(months) >= 0).all() and months[-1] < newest.min())):
        review = review_history(book, current)
        book.append_rows("plan_history", archived)
        recent = review_snapshots(archived, current)
        return pd.concat([review, recent], ignore_index=True) if len(review) else recent
    history = book.read_table("plan_history")
    history = pd.concat([history.reset_index(drop=True), archived], ignore_index=True) \
        if len(history) else archived
    book.write_table("plan_history", history)
    # the history just written, not read back
    return review_snapshots(history, current)


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


def stage_sources(book: Workbook) -> dict[str, pd.DataFrame]:
    """The aggregates already in the workbook that the review stages are computed from."""
    return {name: _typed(_optional_table(book, name)) for name in STAGE_SOURCES}


def rebuild_stages(book: Workbook, agg: dict[str, pd.DataFrame] | None = None,
                   snapshots: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Recompute every review-stage table from the aggregates already in the workbook
    (used by Roll forward, which must not need the source) and write them
    (``snapshots``: the plan history, when the caller has it already)."""
    settings = settings_from_config(book)
    inputs = read_inputs(book, settings.current, snapshots)
    agg = stage_sources(book) if agg is None else agg
    tables = build_stages(book, agg, inputs, settings)
    for name, frame in tables.items():
        book.write_table(name, frame)
    draw_category_charts(book, tables["demand_rollup"])
    return tables


@dataclass
class NewReport:
    path: Path
    period: str
    company: str
    refreshed: RefreshReport | None


def new_workbook(target, period: str, *, company: str | None = None,
                 source: str | None = None, now: dt.datetime | None = None) -> NewReport:
    """A new S&OP workbook at ``target`` from the template (``sop new``): Config's current
    period set to ``period``, its company to ``company``, and — given a ``source`` —
    refreshed from it. Never overwrites: an existing ``target`` is refused before any work,
    and nothing is written if a step fails."""
    from .template.build import build_template, packaged_template
    from .workbook.headless import HeadlessWorkbook
    from .workbook.io import ensure_writable

    target = Path(target)
    try:
        parse_period(str(period).strip())
    except SopError:
        raise SopError(f"--period {period!r} is not a period YYYY-MM") from None
    period = str(period).strip()
    if target.suffix.lower() != ".xlsm":
        raise SopError(f"{target}: the workbook must be an .xlsm file (it carries the "
                       "macros of the ribbon)")
    if target.exists() or target.is_symlink():
        raise SopError(f"{target} already exists: sop new never overwrites a workbook "
                       "(choose another name, or move the old one away first)")
    if not target.parent.is_dir():
        raise SopError(f"{target.parent} is not a folder")
    ensure_writable(target)
    template = packaged_template()
    if not template.is_file():  # installed without the repository file: build it
        template = build_template(target.with_name(f".{target.name}.template.tmp"))
    try:
        book = HeadlessWorkbook(template)
        book.set_value("cfg_current_period", period)
        if company:
            book.set_value("cfg_company_name", str(company).strip())
        report = refresh(book, str(source), now=now) if source else None
        if target.exists():  # appeared while we worked
            raise SopError(f"{target} already exists: sop new never overwrites a workbook")
        book.save(target, backups=0)
    finally:
        if template.name.endswith(".template.tmp"):
            template.unlink(missing_ok=True)
    return NewReport(target, period, str(company or ""), report)


#: The columns of an exported plan history: the plan-snapshot file `sop kpis --snapshots`
#: reads (:data:`sop_workbook.contract.PLAN_SNAPSHOTS`).
HISTORY_COLUMNS = plan_history_table.LONG_COLUMNS


def plan_history(book: Workbook) -> pd.DataFrame:
    """The plan history (table plan_history: one archived plan per *Roll forward*) in the
    form of a plan-snapshot file — columns :data:`HISTORY_COLUMNS`, periods as
    ``YYYY-MM`` text, quantities as numbers, sorted by snapshot, period, item and location
    (:func:`sop_workbook.plan_history.to_long`)."""
    return history_long(_optional_table(book, "plan_history"), book=book)


def history_long(table: pd.DataFrame, lags=None, book=None) -> pd.DataFrame:
    """Table plan_history's rows in the long form (``lags``: only those), a malformed
    table reported as the workbook error it is — a period cell that is not one with its
    sheet, cell and column when ``book`` (the workbook ``table`` was read from, its index
    as read_table gives it) is given."""
    try:
        return plan_history_table.to_long(table, lags)
    except plan_history_table.PeriodError as exc:
        if book is None:
            raise SopError(f"table plan_history: {exc}") from None
        raise _history_cell_error(book, exc) from None
    except (ValueError, SopError) as exc:
        raise SopError(f"table plan_history: {exc}") from None


def check_history_periods(book: Workbook, table: pd.DataFrame) -> None:
    """Every snapshot period of table plan_history (as read_table gave it) a period, or
    an error naming the first cell that is not."""
    try:
        plan_history_table.check_periods(table)
    except plan_history_table.PeriodError as exc:
        raise _history_cell_error(book, exc) from None


def _history_cell_error(book: Workbook, exc) -> SopError:
    """A bad period cell of table plan_history as the other input errors are reported:
    sheet and cell, the column's name, what is wrong and how to mend it."""
    sheet, header_row = book.table_position("plan_history")
    col = book.column_letter("plan_history", exc.column)
    row = header_row + 1 + int(exc.offset)
    return SopError(f"{sheet}!{col}{row}: {exc.column} {exc.value!r} in table plan_history "
                    "is not a period (YYYY-MM)",
                    "Type the period as YYYY-MM text (e.g. 2026-10), or undo the edit; "
                    "the workbook was not changed.")


def review_history(book: Workbook, current: str) -> pd.DataFrame:
    """What the demand review reads of the workbook's plan history: the archived plans
    from ``current`` − (its window + its longest lag) on — read from there only, so a
    history of years costs a refresh what its last plans cost — at its lags, long form
    (only the columns of those lags are converted)."""
    from .review.demand_accuracy import LAGS

    earliest = _review_earliest(current)

    def starts(value) -> bool:
        try:
            return parse_period(plan_history_table.period_text(value)) >= earliest
        except SopError:
            return False

    try:
        table = book.read_table_from("plan_history", "snapshot_period", starts,
                                     plan_history_table.columns_for(LAGS))
    except SopError:
        table = pd.DataFrame()
    return review_snapshots(table, book=book)


def _review_earliest(current: str) -> int:
    """The month index of the oldest archived plan the demand review of ``current``
    reads (its window + its longest lag before ``current``)."""
    from .review.demand_accuracy import LAGS, WINDOW

    return parse_period(current) - WINDOW - max(LAGS)


def review_snapshots(table: pd.DataFrame, current: str | None = None,
                     book=None) -> pd.DataFrame:
    """The part of the plan history the demand review reads: the lags its accuracy and
    FVA figures use (:data:`sop_workbook.review.demand_accuracy.LAGS`), in the long form;
    ``current``: only the plans :func:`review_history` would read for that period (a
    history of years unfolded no further than its last plans); ``book``: the workbook
    ``table`` was read from, for errors naming a cell (:func:`history_long`)."""
    from .review.demand_accuracy import LAGS

    if current is not None and table is not None and len(table) \
            and "snapshot_period" in table:
        earliest = _review_earliest(current)
        recent = per_unique(table["snapshot_period"].reset_index(drop=True), lambda s: s.map(
            lambda v: _not_before(v, earliest)))
        table = table[np.asarray(recent, dtype=bool)]
    return history_long(table, LAGS, book)


def _not_before(value, earliest: int) -> bool:
    """Whether a snapshot period cell is ``earliest`` or later; true for a cell that is not
    a period (kept for :func:`history_long` to report or skip, as before the cut)."""
    try:
        return parse_period(plan_history_table.period_text(value)) >= earliest
    except SopError:
        return True


def export_plan_history(book: Workbook, target) -> int:
    """Write :func:`plan_history` to ``target`` — CSV, or Parquet for a ``.parquet``
    name — through a temporary file renamed into place; returns the number of rows."""
    target = Path(target)
    frame = plan_history(book)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise SopError(f"{target}: write the plan history to a .csv or .parquet file")
    if not target.parent.is_dir():
        raise SopError(f"{target.parent} is not a folder")
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
        else:
            import duckdb

            con = duckdb.connect(":memory:")
            try:
                con.register("plan_history", frame)
                con.execute(f"COPY plan_history TO '{tmp.as_posix()}' (FORMAT parquet)")
            finally:
                con.close()
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SopError(f"cannot write {target}: {exc}") from None
    return len(frame)


@dataclass
class BaselineReport:
    series: int
    models: Counter
    udf_cells: int


def rerun_baseline(book: Workbook) -> BaselineReport:
    """Re-run the statistical baseline without a Refresh: the history already in the
    workbook (agg_sales) is forecast again and every review-stage table built on the plan
    is rewritten (:func:`rebuild_stages`); inputs are kept, the KPI cells recomputed.
    ``models`` counts the model (or pair of models) per item × location."""
    tables = rebuild_stages(book)
    grid = tables["plan_demand"]
    notes = grid.loc[grid["layer"].eq("baseline"), "note"].dropna().astype(str)
    models = Counter(n.split(" · ")[0].removeprefix("model: ") for n in notes)
    return BaselineReport(len(notes), models, book.recalculate())


def export_scorecard(book: Workbook, out_dir) -> dict:
    """Write the executive scorecard (one-page PDF, chart PNGs, values-only XLSX)."""
    from .scorecard_export import collect_scorecard, write_scorecard

    return write_scorecard(collect_scorecard(book), out_dir)
