"""The review-stage tables of the workbook, computed from its aggregate tables.

One pure function per stage turns the aggregates *Refresh* wrote (or the ones already in
the workbook, for *Roll forward*) plus the planners' inputs (overrides, events, decisions,
actions, settings) into the tables the stage sheets show. No workbook access here: the
actions (:mod:`sop_workbook.actions`) read inputs and write results through an adapter.

Stage → tables:

- 2 Demand: ``plan_demand`` (per item × location: shipped and invoiced history h24…h01,
  then baseline, override, events, commits and consensus p01…p12), ``demand_rollup``
  (the same by category × location, and category total ``(all)``), ``demand_accuracy``
  (accuracy and bias at lag 1 and 3, FVA per closed period), ``demand_fva`` (FVA per item).
- 3 Supply: ``supply_capacity``, ``supply_projection``, ``supply_exceptions``.
- 4 Finance: ``fin_plan_value``, ``fin_cash_need``, ``fin_value_summary``,
  ``fin_actual_vs_budget``, ``fin_value_issues``.
- 5 Pre-S&OP: ``presop_scenarios``, ``presop_scenario_periods``, ``presop_gaps``.
- 6 Executive / 1 Performance: ``exec_needed``, ``exec_actions``, ``perf_actions``.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import demand_review, finance_plan, loaded, scenarios, supply_plan
from . import plan as planning
from .periods import format_period, parse_period

KEYS = ["item_no", "location_code"]
HISTORY_MONTHS = 24
PLAN_LAYERS = ["baseline", "override", "events", "commits", "consensus"]
HISTORY_LAYERS = ["shipped", "invoiced"]
CLOSED_STATUSES = {"done", "cancelled", "closed", "approved", "rejected"}


@dataclass
class Settings:
    """The Config sheet's planning settings."""

    current: str
    horizon: int = 12
    safety_days: float = 14.0
    lookahead: int = 3
    labour_rate: float = 0.0


@dataclass
class Inputs:
    """The planners' inputs, read from the workbook (empty frames when none)."""

    overrides: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    snapshots: pd.DataFrame = field(default_factory=pd.DataFrame)
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    actions: pd.DataFrame = field(default_factory=pd.DataFrame)


def _num(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(0.0, index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce").fillna(0.0)


def history_columns(current: str, months: int = HISTORY_MONTHS) -> dict[str, str]:
    """Period → history column name: h01 is the last closed period, h24 the oldest."""
    first = parse_period(current)
    return {format_period(first - k): f"h{k:02d}" for k in range(months, 0, -1)}


def plan_columns(current: str, horizon: int = 12) -> dict[str, str]:
    return {p: f"p{i + 1:02d}" for i, p in enumerate(planning.plan_periods(current, horizon))}


def sales_history(agg_sales: pd.DataFrame) -> pd.DataFrame:
    """Shipped and invoiced quantity per item × location × period (from agg_sales)."""
    if agg_sales.empty:
        return pd.DataFrame(columns=[*KEYS, "period", "shipped_qty", "invoiced_qty"])
    frame = pd.DataFrame({
        "item_no": agg_sales["item_no"].astype(str), "location_code":
        agg_sales["location_code"].astype(str), "period": agg_sales["period"].astype(str),
        "shipped_qty": _num(agg_sales, "shipped_qty"),
        "invoiced_qty": _num(agg_sales, "invoiced_qty")})
    return frame.groupby([*KEYS, "period"], as_index=False, sort=True).sum()


def main_locations(history: pd.DataFrame, items: pd.DataFrame,
                   locations: pd.DataFrame) -> pd.Series:
    """item_no → the location with the largest invoiced quantity (ties: alphabetical);
    items without sales: the first location of the locations table."""
    default = str(locations["location_code"].iloc[0]) if len(locations) else "(none)"
    out = pd.Series(default, index=items["item_no"].astype(str).tolist(), dtype=object)
    if len(history):
        totals = history.groupby(KEYS)["invoiced_qty"].sum().reset_index()
        totals = totals.sort_values(["item_no", "invoiced_qty", "location_code"],
                                    ascending=[True, False, True])
        best = totals.drop_duplicates("item_no").set_index("item_no")["location_code"]
        out.loc[best.index.intersection(out.index)] = best
    return out


# --------------------------------------------------------------------------- demand


@dataclass
class DemandResult:
    plan: pd.DataFrame  # long: item_no, location_code, period, baseline … consensus
    tables: dict[str, pd.DataFrame]


def demand_stage(agg: dict[str, pd.DataFrame], inputs: Inputs, settings: Settings
                 ) -> DemandResult:
    """The Demand sheet's tables (module docstring)."""
    current, horizon = settings.current, settings.horizon
    items = agg["items"]
    history = sales_history(agg["agg_sales"])
    last_loaded = loaded.last_loaded_period(agg["agg_sales"])
    # closed periods with actuals only: a period not loaded yet is never zero demand
    past = history[(history["period"] < current)
                   & (history["period"] <= (last_loaded or ""))]
    invoiced = past.rename(columns={"invoiced_qty": "quantity"})[
        [*KEYS, "period", "quantity"]]
    baseline = baseline_from(invoiced, current, horizon, last_loaded)
    periods = planning.plan_periods(current, horizon)
    events = inputs.events
    if events.empty:
        events = pd.DataFrame(columns=planning.EVENT_COLUMNS)
    else:
        events = events.reindex(columns=list(dict.fromkeys([*planning.EVENT_COLUMNS,
                                                             *events.columns])))
    events = planning.event_uplift(baseline, events, items)
    commits = planning.opportunity_commits(
        agg.get("agg_pipeline", pd.DataFrame(columns=["period", "item_no", "commit_qty",
                                                      "weighted_qty"])),
        main_locations(past, items, agg["locations"]), periods)
    plan = planning.consensus(baseline, inputs.overrides, events, commits)
    models = baseline_notes(baseline)
    grid = demand_grid(plan, past, items, current, horizon, models)
    actuals = past.rename(columns={"invoiced_qty": "quantity"})[[*KEYS, "period", "quantity"]]
    closed = [format_period(parse_period(current) - k)
              for k in range(demand_review.WINDOW, 0, -1)]
    snapshots = inputs.snapshots
    if snapshots.empty:
        snapshots = pd.DataFrame(columns=["snapshot_period", "period", *KEYS, "quantity",
                                          "baseline_quantity"])
    judged = [p for p in closed[-3:] if loaded.is_loaded(p, last_loaded)]
    tables = {
        "plan_demand": mark_not_loaded(grid, current, last_loaded),
        "demand_rollup": mark_not_loaded(demand_rollup(plan, past, items, current, horizon),
                                         current, last_loaded),
        "demand_accuracy": accuracy_table(demand_review.accuracy_trend(
            actuals, snapshots, closed), last_loaded),
        "demand_fva": fva_table(demand_review.accuracy_by_item(
            actuals, snapshots, judged, lag=1, items=items)),
    }
    return DemandResult(plan, tables)


def not_loaded_columns(current: str, last_loaded: str | None) -> list[str]:
    """The history columns (h24…h01) of closed periods whose actuals are not loaded."""
    return [col for period, col in history_columns(current).items()
            if not loaded.is_loaded(period, last_loaded)]


def mark_not_loaded(grid: pd.DataFrame, current: str, last_loaded: str | None
                    ) -> pd.DataFrame:
    """History cells of not-loaded periods blank (never 0; charts leave a gap), and on
    ``plan_demand`` the invoiced row's note names them: "2026-11 not loaded: Refresh"."""
    cols = not_loaded_columns(current, last_loaded)
    if not cols or grid.empty:
        return grid
    grid = grid.copy()
    history = grid["layer"].isin(HISTORY_LAYERS).to_numpy()
    grid.loc[history, cols] = np.nan
    if "note" in grid:
        periods = [p for p, c in history_columns(current).items() if c in cols]
        span = periods[0] if len(periods) == 1 else f"{periods[0]}…{periods[-1]}"
        grid.loc[grid["layer"].eq("invoiced").to_numpy(), "note"] = \
            f"{span} {loaded.NOT_LOADED}"
    return grid


def accuracy_table(trend: pd.DataFrame, last_loaded: str | None) -> pd.DataFrame:
    """``demand_accuracy``: the last 6 closed periods; a period whose actuals are not
    loaded shows "not loaded: Refresh" as its actual and no accuracy (never a 0 actual)."""
    out = trend[["period", "actual", "accuracy_lag1", "bias_lag1", "accuracy_lag3",
                 "baseline_accuracy_lag1", "fva_lag1"]].copy()
    out["actual"] = out["actual"].astype(object)
    missing = [not loaded.is_loaded(p, last_loaded) for p in out["period"]]
    for col in out.columns[1:]:
        out.loc[missing, col] = None
    out.loc[missing, "actual"] = loaded.NOT_LOADED
    return out


def fva_table(by_item: pd.DataFrame) -> pd.DataFrame:
    """``demand_fva``: per item (and TOTAL) over the last 3 closed periods at lag 1; the
    ``worse`` column reads "worse" where the overrides, events and commits made the
    forecast less accurate than the statistical baseline."""
    out = by_item.rename(columns={"accuracy_consensus": "consensus_accuracy",
                                  "accuracy_baseline": "baseline_accuracy"})
    out["worse"] = out["worse"].map(lambda w: "worse" if w is True else "")
    if "description" not in out:
        out["description"] = ""
    return out[["item_no", "description", "actual", "consensus_accuracy",
                "baseline_accuracy", "fva", "bias", "worse"]]


def baseline_from(history: pd.DataFrame, current: str, horizon: int,
                  last_loaded: str | None = None) -> pd.DataFrame:
    """The statistical baseline for the plan periods. History ends where the data ends
    (``last_loaded``, :func:`sop_workbook.loaded.last_loaded_period`; default the last
    period of ``history``): after a roll forward, the closed periods after it have no
    actuals *yet* (they land on the next refresh), so they are forecast, not counted as
    zero demand."""
    if history.empty:
        return planning.statistical_baseline(history, current, horizon)
    end = last_loaded if last_loaded is not None else str(history["period"].max())
    landed = parse_period(end) + 1
    first = parse_period(current)
    if landed >= first:
        return planning.statistical_baseline(history, current, horizon)
    gap = first - landed
    baseline = planning.statistical_baseline(history, format_period(landed), horizon + gap)
    periods = set(planning.plan_periods(current, horizon))
    return baseline[baseline["period"].isin(periods)].reset_index(drop=True)


def _cell_sums(long: pd.DataFrame, index: list[str], column: np.ndarray, n_periods: int,
               values: list[str], only: pd.MultiIndex | None = None
               ) -> tuple[list[np.ndarray], dict[str, np.ndarray]] | None:
    """Σ of each ``values`` column per ``index`` keys × period — what ``pivot_table(
    index=index, columns='period', aggfunc='sum', fill_value=0.0)`` of each value gives:
    the distinct keys (sorted; the values of each key column) and per value column a
    (keys × periods) array, 0 where a key has no row in a period. ``column``: the period
    column of each row (−1: not shown; shown periods in calendar order). The groups are
    added up by pandas over the rows in the same order as in the pivot, and a cell of
    one row is taken as pandas sums it (:func:`~sop_workbook.supply_plan.one_row_sums`).
    With ``only``, of the rows whose keys are in ``only`` (as if selected first).
    ``None`` when a shown row has an empty or mixed-type key (left to the pivot)."""
    if not all(supply_plan._exact_hashable(long[k]) for k in index):
        return None
    gid, keep = supply_plan.key_codes(long, index)
    shown = column >= 0
    if not keep[shown].all():
        return None
    if only is not None:  # looked up once per distinct key
        codes, distinct = pd.factorize(gid)
        first = np.empty(len(distinct), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(gid))[::-1]
        member = pd.MultiIndex.from_arrays(
            [long[k].to_numpy(dtype=object)[first] for k in index]).isin(only)
        shown &= member[codes]
    rows = np.flatnonzero(shown)
    cell = gid[rows] * n_periods + column[rows]
    sums = {}
    if np.all(cell[1:] > cell[:-1]):  # one row per cell, in order
        cells = cell
        for v in values:
            x = long[v].to_numpy(dtype=float)[rows]
            sums[v] = supply_plan.one_row_sums(x, bool(np.isnan(x).any()))
    else:
        cells = np.unique(cell)
        for v in values:  # one column at a time, as the pivot of each value
            sums[v] = pd.Series(long[v].to_numpy()[rows]).groupby(cell, sort=True).sum(
                ).to_numpy(dtype=float)
    row_ids, first = np.unique(gid[rows], return_index=True)
    keys = [long[name].to_numpy(dtype=object)[rows[first]] for name in index]
    at_row = np.searchsorted(row_ids, cells // n_periods)
    at_col = cells % n_periods
    arrays = {}
    for v in values:
        grid = np.zeros((len(row_ids), n_periods))
        grid[at_row, at_col] = sums[v]
        arrays[v] = grid
    return keys, arrays


def _wide(long: pd.DataFrame, index: list[str], column_of: dict[str, str],
          value: str) -> pd.DataFrame:
    """``long`` pivoted: one row per ``index`` keys, one column per period (renamed by
    ``column_of``), Σ ``value`` (0 where there is no row). By ``pivot_table``, whose
    memory layout a row total over the periods depends on (see :func:`value_grid`);
    :func:`_wide_frames` does the large grids."""
    frame = long[long["period"].isin(column_of)]
    if frame.empty:
        return pd.DataFrame(columns=[*index, *column_of.values()])
    wide = frame.pivot_table(index=index, columns="period", values=value, aggfunc="sum",
                             fill_value=0.0)
    wide = wide.reindex(columns=list(column_of), fill_value=0.0)
    wide.columns = [column_of[p] for p in wide.columns]
    return wide.reset_index()


def _wide_frames(long: pd.DataFrame, index: list[str], column_of: dict[str, str],
                 values: list[str], only: pd.MultiIndex | None = None
                 ) -> dict[str, pd.DataFrame]:
    """:func:`_wide` of several value columns of the same rows at once (with numpy);
    with ``only``, of the rows whose keys are in ``only`` (the same as selecting them
    first)."""
    empty = {v: pd.DataFrame(columns=[*index, *column_of.values()]) for v in values}
    if not len(long):
        return empty
    column = pd.Index(list(column_of), dtype=object).get_indexer(
        long["period"].to_numpy(dtype=object))
    if not (column >= 0).any():
        return empty
    found = _cell_sums(long, index, column, len(column_of), values, only)
    if found is None:
        if only is not None:
            long = long[pd.MultiIndex.from_arrays([long[k] for k in index]).isin(only)]
        return {v: _wide(long, index, column_of, v) for v in values}
    keys, arrays = found
    if not len(keys[0]):
        return empty
    names = list(column_of.values())
    out = {}
    for v in values:
        wide = pd.DataFrame(arrays[v], columns=names, copy=False)
        for k, name in enumerate(index):
            wide.insert(k, name, pd.Index(keys[k]))
        out[v] = wide
    return out


def _layered(history: pd.DataFrame, plan: pd.DataFrame, keys: list[str], current: str,
             horizon: int, plan_layers: list[str], history_of: pd.MultiIndex | None = None
             ) -> pd.DataFrame:
    """Rows keys × layer: history layers fill h24…h01 (``history_of``: only for these
    keys), plan layers p01…p12."""
    hcols, pcols = history_columns(current), plan_columns(current, horizon)
    parts = []
    shipped = _wide_frames(history, keys, hcols, ["shipped_qty", "invoiced_qty"],
                           only=history_of)
    for layer, column in (("shipped", "shipped_qty"), ("invoiced", "invoiced_qty")):
        part = shipped[column]
        part["layer"] = layer
        parts.append(part)
    planned = _wide_frames(plan, keys, pcols, plan_layers)
    for layer in plan_layers:
        part = planned[layer]
        part["layer"] = layer
        parts.append(part)
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts) else pd.DataFrame(columns=[*keys, "layer"])
    for col in [*hcols.values(), *pcols.values()]:
        if col not in frame:
            frame[col] = np.nan
    order = {layer: i for i, layer in enumerate([*HISTORY_LAYERS, *plan_layers])}
    frame["_order"] = frame["layer"].map(order)
    # history layers show no plan values and plan layers no history (blank, not 0)
    is_plan = frame["layer"].isin(plan_layers).to_numpy()
    frame.loc[is_plan, list(hcols.values())] = np.nan
    frame.loc[~is_plan, list(pcols.values())] = np.nan
    return frame, list(hcols.values()), list(pcols.values())


def baseline_notes(baseline: pd.DataFrame) -> pd.Series:
    """The baseline row's note per item × location: ``model: damped+theta · backtest
    MAE 12.3 (18%)`` — the model(s) the baseline comes from and their mean absolute error
    over the rolling-origin backtest (last 12 months forecast from 12, 9, 6 and 3 months
    back), in units and as a share of the mean demand of those months."""
    first = baseline.drop_duplicates(KEYS).set_index(KEYS)
    blank = pd.Series(np.nan, index=first.index)
    notes = []
    for model, mae, rel in zip(first["model"], first.get("backtest_mae", blank),
                               first.get("backtest_error", blank), strict=True):
        note = f"model: {model}"
        if pd.notna(mae):
            note += f" · backtest MAE {mae:,.1f}"
            if pd.notna(rel):
                note += f" ({rel:.0%})"
        elif model != "no_demand":
            note += " · not backtested"
        notes.append(note)
    return pd.Series(notes, index=first.index, dtype=object)


def demand_grid(plan: pd.DataFrame, history: pd.DataFrame, items: pd.DataFrame,
                current: str, horizon: int, models: pd.Series | None = None) -> pd.DataFrame:
    """``plan_demand``: per item × location, layers shipped, invoiced (history), baseline,
    override, events, commits, consensus (plan); the baseline row's note names its model
    and backtest error (``models``: the note per item × location, :func:`baseline_notes`)."""
    planned = pd.MultiIndex.from_arrays([plan[k] for k in KEYS])
    frame, hcols, pcols = _layered(history, plan, KEYS, current, horizon, PLAN_LAYERS,
                                   history_of=planned)
    info = items.assign(item_no=items["item_no"].astype(str)).set_index("item_no")[
        ["description", "category"]]
    frame = frame.join(info, on="item_no")
    frame["note"] = None
    if models is not None and len(frame):
        base = frame["layer"].eq("baseline")
        keys = list(zip(frame.loc[base, "item_no"], frame.loc[base, "location_code"],
                        strict=True))
        model_of = dict(zip(models.index, models.to_numpy(), strict=True))
        frame.loc[base, "note"] = [model_of.get(k, "model: ") for k in keys]
    frame = frame.sort_values(["category", "item_no", "location_code", "_order"])
    return frame[["item_no", "description", "category", "location_code", "layer", *hcols,
                  *pcols, "note"]].reset_index(drop=True)


def demand_rollup(plan: pd.DataFrame, history: pd.DataFrame, items: pd.DataFrame,
                  current: str, horizon: int) -> pd.DataFrame:
    """``demand_rollup``: category × location (and the category total, location
    ``(all)``) × layer shipped, invoiced, baseline, consensus."""
    category = items.assign(item_no=items["item_no"].astype(str)).set_index("item_no")[
        "category"]

    def category_of(item_no: pd.Series) -> pd.Series:
        return supply_plan.per_unique(item_no, lambda i: i.map(category)).fillna("(none)")

    hist = history.assign(category=category_of(history["item_no"]))
    pl = plan.assign(category=category_of(plan["item_no"]))
    frames = []
    for h, p in ((hist, pl), (hist.assign(location_code="(all)"),
                              pl.assign(location_code="(all)"))):
        frame, hcols, pcols = _layered(h, p, ["category", "location_code"], current,
                                       horizon, ["baseline", "consensus"])
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    frame["_all"] = frame["location_code"].ne("(all)")
    frame = frame.sort_values(["category", "_all", "location_code", "_order"])
    return frame[["category", "location_code", "layer", *hcols, *pcols]].reset_index(
        drop=True)


# --------------------------------------------------------------------------- supply


def supply_stage(agg: dict[str, pd.DataFrame], plan: pd.DataFrame, settings: Settings
                 ) -> tuple[dict[str, pd.DataFrame], dict]:
    """The Supply sheet's tables, and what the later stages reuse: the plan's ``cells``,
    the capacity ``load``, the ``projection`` and its item × location ``arrays`` (with
    their ``periods``)."""
    periods = planning.plan_periods(settings.current, settings.horizon)
    cells = supply_plan.PlanCells.of(plan, periods)
    load = supply_plan.capacity_load(plan, agg.get("routings"), agg.get("capacity"), periods,
                                     cells=cells)
    projected = supply_plan.horizon_periods(settings.current)  # the projection's horizon
    arrays = supply_plan.pair_arrays(plan, agg["agg_sales"], agg.get("agg_supply_open"),
                                     settings.current, projected, cells=cells)
    projection = supply_plan.projected_inventory(
        plan, agg["agg_sales"], agg.get("agg_supply_open"), settings.current,
        safety_days=settings.safety_days, lookahead=settings.lookahead, arrays=arrays)
    grid = supply_plan.projection_grid(projection, periods)
    if len(grid) and "description" not in grid:
        desc = agg["items"].assign(item_no=agg["items"]["item_no"].astype(str)).set_index(
            "item_no")["description"]
        grid.insert(1, "description", grid["item_no"].map(desc))
    tables = {
        "supply_capacity": supply_plan.capacity_grid(load, periods),
        "supply_projection": grid,
        "supply_exceptions": supply_plan.projection_exceptions(projection),
    }
    return tables, {"cells": cells, "load": load, "load_periods": periods,
                    "projection": projection, "arrays": arrays, "periods": projected}


# --------------------------------------------------------------------------- finance


def actual_vs_budget(agg_sales: pd.DataFrame, current: str, months: int = 3,
                     last_loaded: str | None = "") -> pd.DataFrame:
    """``fin_actual_vs_budget``: per closed period × item × location (last ``months``):
    actual revenue (invoiced amount), sales budget amount, variance = actual − budget,
    accuracy = max(0, 1 − |actual − budget| ÷ actual) (None when actual is 0). Closed
    periods whose actuals are not loaded (after ``last_loaded``; default: as found in
    ``agg_sales``) are left out — their actual is unknown, not 0."""
    first = parse_period(current)
    if last_loaded == "":
        last_loaded = loaded.last_loaded_period(agg_sales)
    periods = [format_period(first - k) for k in range(months, 0, -1)]
    periods = [p for p in periods if loaded.is_loaded(p, last_loaded)]
    rows = agg_sales[agg_sales["period"].astype(str).isin(periods)]
    frame = pd.DataFrame({"period": rows["period"].astype(str),
                          "item_no": rows["item_no"].astype(str),
                          "location_code": rows["location_code"].astype(str),
                          "actual_revenue": _num(rows, "invoiced_amount"),
                          "sales_budget": _num(rows, "budget_amount")})
    frame = frame.groupby(["period", "item_no", "location_code"], as_index=False).sum()
    frame = frame[(frame["actual_revenue"] != 0) | (frame["sales_budget"] != 0)]
    frame["variance"] = frame["actual_revenue"] - frame["sales_budget"]
    actual = frame["actual_revenue"].to_numpy()
    err = np.abs(frame["variance"].to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(actual != 0, np.maximum(0.0, 1 - err / np.where(actual != 0, actual,
                                                                         1)), np.nan)
    frame["accuracy"] = acc
    return frame.sort_values(["period", "item_no", "location_code"]).reset_index(drop=True)


def finance_stage(agg: dict[str, pd.DataFrame], plan: pd.DataFrame, load: pd.DataFrame,
                  settings: Settings, cells: supply_plan.PlanCells | None = None
                  ) -> dict[str, pd.DataFrame]:
    """The Finance sheet's tables (``cells``: the plan as the supply stage read it)."""
    periods = planning.plan_periods(settings.current, settings.horizon)
    values = finance_plan.volume_to_value(plan, agg["items"], agg.get("agg_item_mix"),
                                          agg.get("posting_setup"), agg.get("gl_accounts"),
                                          cells=cells)
    cash = finance_plan.cash_need(plan, agg["items"], agg.get("routings"), load,
                                  settings.labour_rate, periods=periods, cells=cells)
    return {
        "fin_plan_value": value_grid(values.lines, periods),
        "fin_cash_need": cash[["period", "material", "labour", "total"]],
        "fin_value_summary": finance_plan.value_summary(values)[
            ["period", "category", "volume", "revenue", "cogs", "margin", "margin_pct"]],
        "fin_actual_vs_budget": actual_vs_budget(agg["agg_sales"], settings.current),
        "fin_value_issues": value_issues(values),
    }


def value_grid(lines: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """``fin_plan_value``: rows line (revenue, cogs, then margin = revenue − cogs per
    category) × category × GL account, columns p01…p12 and total."""
    pcols = {p: f"p{i + 1:02d}" for i, p in enumerate(periods)}
    out_cols = ["line", "category", "gl_account", "name", *pcols.values(), "total"]
    if lines.empty:
        return pd.DataFrame(columns=out_cols)
    frame = lines.rename(columns={"gl_name": "name"}).copy()
    frame["gl_account"] = frame["gl_account"].astype(str)
    frame["name"] = frame["name"].fillna("")
    margin = frame.assign(amount=np.where(frame["line"].eq("cogs"), -frame["amount"],
                                          frame["amount"]), line="margin", gl_account="",
                          name="revenue − COGS")
    frame = pd.concat([frame, margin], ignore_index=True)
    wide = _wide(frame, ["line", "category", "gl_account", "name"], pcols, "amount")
    wide["total"] = wide[list(pcols.values())].sum(axis=1)
    order = {"revenue": 0, "cogs": 1, "margin": 2}
    wide = wide.assign(_o=wide["line"].map(order)).sort_values(["_o", "category",
                                                                "gl_account"])
    return wide[out_cols].reset_index(drop=True)


def value_issues(values) -> pd.DataFrame:
    """``fin_value_issues``: items valued without a price (never silently 0) and amounts
    without a GL account (with the missing posting-group pair)."""
    rows = []
    for rec in values.missing_price.itertuples(index=False):
        rows.append((rec.item_no, "missing price",
                     f"{rec.volume:,.0f} units in the horizon have no unit_price and no "
                     "sales history to price them"))
    unmapped = values.unmapped
    if len(unmapped):
        grouped = unmapped.groupby(["item_no", "line", "gen_bus_posting_group",
                                    "gen_prod_posting_group", "reason"], dropna=False,
                                   as_index=False)["amount"].sum()
        for rec in grouped.itertuples(index=False):
            rows.append((rec.item_no, f"unmapped {rec.line}",
                         f"{rec.amount:,.2f} with no GL account for "
                         f"{rec.gen_bus_posting_group} × {rec.gen_prod_posting_group} "
                         f"({rec.reason})"))
    return pd.DataFrame(rows, columns=["item_no", "issue", "detail"])


# --------------------------------------------------------------------------- pre-S&OP


def presop_stage(agg: dict[str, pd.DataFrame], plan: pd.DataFrame, settings: Settings,
                 supply: dict | None = None) -> dict[str, pd.DataFrame]:
    """Scenarios side by side (totals and by period) and the gaps that need a decision.
    ``supply``: what :func:`supply_stage` computed from the same plan (its capacity load
    and item × location arrays are reused where the horizon is the same)."""
    args = (plan, agg["items"], agg.get("routings"), agg.get("capacity"), agg["agg_sales"],
            agg.get("agg_supply_open"), settings.current,
            finance_plan.item_prices(agg["items"], agg.get("agg_item_mix")))

    def reused(horizon: int) -> dict:
        periods = supply_plan.horizon_periods(settings.current, horizon)
        if supply is None:
            return {}
        return {"arrays": supply["arrays"] if supply["periods"] == periods else None,
                "load": supply["load"] if supply["load_periods"] == periods else None}

    comparison = scenarios.compare_scenarios(*args, horizon=settings.horizon,
                                             **reused(settings.horizon))
    return {
        "presop_scenarios": scenario_totals(comparison),
        "presop_scenario_periods": scenario_periods(comparison),
        "presop_gaps": gap_list(scenarios.gaps(*args, **reused(12))),
    }


SCENARIO_MEASURES = (("volume", "Volume (units)"), ("revenue", "Revenue"),
                     ("cogs", "COGS"), ("margin", "Margin"), ("margin_pct", "Margin %"),
                     ("ending_inventory_qty", "Ending inventory (units)"),
                     ("ending_inventory_value", "Ending inventory (value at cost)"))


def scenario_totals(comparison: pd.DataFrame) -> pd.DataFrame:
    """``presop_scenarios``: one row per measure over the horizon; consensus, constrained
    supply, difference = constrained − consensus, difference % of the consensus."""
    total = comparison[comparison["period"] == scenarios.TOTAL].set_index("scenario")
    rows = []
    for key, label in SCENARIO_MEASURES:
        a = total.at["consensus", key] if "consensus" in total.index else None
        b = total.at["constrained supply", key] if "constrained supply" in total.index \
            else None
        a = None if a is None or pd.isna(a) else float(a)
        b = None if b is None or pd.isna(b) else float(b)
        diff = None if a is None or b is None else b - a
        pct = None if diff is None or not a or key == "margin_pct" else diff / abs(a)
        rows.append((label, a, b, diff, pct))
    return pd.DataFrame(rows, columns=["measure", "consensus", "constrained_supply",
                                       "difference", "difference_pct"])


def scenario_periods(comparison: pd.DataFrame) -> pd.DataFrame:
    """``presop_scenario_periods``: per plan period, volume, revenue, margin and ending
    inventory (units) of both scenarios side by side."""
    rows = comparison[comparison["period"] != scenarios.TOTAL]
    out = None
    for scenario, prefix in (("consensus", "consensus"), ("constrained supply",
                                                          "constrained")):
        part = rows[rows["scenario"] == scenario].set_index("period")[
            ["volume", "revenue", "margin", "ending_inventory_qty"]]
        part.columns = [f"{prefix}_volume", f"{prefix}_revenue", f"{prefix}_margin",
                        f"{prefix}_inventory"]
        out = part if out is None else out.join(part, how="outer")
    out = out.reset_index()
    return out[["period", "consensus_volume", "constrained_volume", "consensus_revenue",
                "constrained_revenue", "consensus_margin", "constrained_margin",
                "consensus_inventory", "constrained_inventory"]]


_Gap = namedtuple("_Gap", ["gap_type", "period", "hours_short", "volume_at_risk",
                           "revenue_at_risk", "decision", "option_1", "option_2",
                           "option_3"])


def gap_list(found: pd.DataFrame) -> pd.DataFrame:
    """``presop_gaps``: each gap in a sentence, its stage, period, impact and options."""
    rows = []
    columns = [found[c].to_numpy(dtype=object).tolist() for c in _Gap._fields] \
        if len(found) else []
    for rec in map(_Gap._make, zip(*columns, strict=True)):
        if rec.gap_type == "capacity":
            impact = (f"{rec.hours_short:,.1f} h short; {rec.volume_at_risk:,.1f} units and "
                      f"{rec.revenue_at_risk:,.0f} revenue at risk")
        else:
            impact = (f"{rec.volume_at_risk:,.1f} units short; "
                      f"{rec.revenue_at_risk:,.0f} revenue at risk")
        options = " | ".join(str(o) for o in (rec.option_1, rec.option_2, rec.option_3)
                             if isinstance(o, str) and o)
        rows.append((rec.decision, "3 Supply", rec.period, impact, options))
    return pd.DataFrame(rows, columns=["gap", "stage", "period", "impact", "options"])


# --------------------------------------------------------------------------- exec + perf


def _open(frame: pd.DataFrame) -> pd.Series:
    status = frame.get("status", pd.Series("", index=frame.index)).fillna("").astype(str)
    return ~status.str.strip().str.lower().isin(CLOSED_STATUSES)


def meeting_stage(inputs: Inputs, settings: Settings, gaps: pd.DataFrame | None = None
                  ) -> dict[str, pd.DataFrame]:
    """Executive page lists (open decisions needed ≤ 6 by decide-by date, topped up with
    the plan's gaps not yet taken up in Pre-S&OP; open actions ≤ 10 by due date) and the
    performance review's actions: those of the last cycle (the last closed period) and
    older ones still open."""
    dec = inputs.decisions
    if len(dec) and "gap" in dec:
        dec = dec[dec["gap"].notna() & (dec["gap"].astype(str).str.strip() != "")]
        dec = dec[_open(dec)]
        dec = dec.assign(_d=pd.to_datetime(dec.get("decide_by"), errors="coerce"))
        needed = dec.sort_values("_d", na_position="last").head(6)[
            ["gap", "owner", "decide_by", "recommendation"]]
    else:
        needed = pd.DataFrame(columns=["gap", "owner", "decide_by", "recommendation"])
    if gaps is not None and len(gaps) and len(needed) < 6:
        extra = pd.DataFrame({"gap": gaps["gap"], "owner": "Facilitator",
                              "decide_by": None,
                              "recommendation": gaps["options"].astype(str).str.split(
                                  " | ", regex=False).str[0]})
        needed = pd.concat([needed, extra.head(6 - len(needed))], ignore_index=True) \
            if len(needed) else extra.head(6)
    act = inputs.actions
    if len(act) and "action" in act:
        act = act[act["action"].notna() & (act["action"].astype(str).str.strip() != "")]
        due = pd.to_datetime(act.get("due"), errors="coerce")
        open_actions = act[_open(act)].assign(_d=due).sort_values("_d", na_position="last")
        exec_actions = open_actions.head(10)[["action", "owner", "due", "status"]]
        last_cycle = format_period(parse_period(settings.current) - 1)
        cycle = act.get("cycle", pd.Series("", index=act.index)).fillna("").astype(str)
        perf = act[(cycle == last_cycle) | (_open(act) & (cycle < last_cycle))]
        perf = perf.assign(_d=due).sort_values("_d", na_position="last")
        perf_actions = perf[["action", "owner", "due", "status", "id", "cycle"]]
    else:
        exec_actions = pd.DataFrame(columns=["action", "owner", "due", "status"])
        perf_actions = pd.DataFrame(columns=["action", "owner", "due", "status", "id", "cycle"])
    return {"exec_needed": needed.reset_index(drop=True),
            "exec_actions": exec_actions.reset_index(drop=True),
            "perf_actions": perf_actions.reset_index(drop=True)}


def build_stage_tables(agg: dict[str, pd.DataFrame], inputs: Inputs, settings: Settings
                       ) -> dict[str, pd.DataFrame]:
    """Every review-stage table, by Excel table name."""
    demand = demand_stage(agg, inputs, settings)
    plan = demand.plan
    supply_tables, supply = supply_stage(agg, plan, settings)
    tables = {**demand.tables, **supply_tables}
    tables.update(finance_stage(agg, plan, supply["load"], settings, supply["cells"]))
    tables.update(presop_stage(agg, plan, settings, supply))
    tables.update(meeting_stage(inputs, settings, tables.get("presop_gaps")))
    return tables
