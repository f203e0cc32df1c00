"""2 Demand: the sheet's tables — ``plan_demand`` (per item × location: shipped and
invoiced history h24…h01, then baseline, override, events, commits and consensus
p01…p12), ``demand_rollup`` (the same by category × location, and category total
``(all)``), ``demand_accuracy`` (accuracy and bias at lag 1 and 3, FVA per closed
period), ``demand_fva`` (FVA per item). The plan's layers are computed by
:mod:`~sop_workbook.review.demand_plan`, accuracy and FVA by
:mod:`~sop_workbook.review.demand_accuracy`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..frames import numbers_or_zero, per_unique, to_wide_frames
from ..periods import format_period, parse_period
from . import demand_accuracy, demand_plan, loaded
from .inputs import Inputs, Settings

KEYS = ["item_no", "location_code"]
HISTORY_MONTHS = 24
PLAN_LAYERS = ["baseline", "override", "events", "commits", "consensus"]
HISTORY_LAYERS = ["shipped", "invoiced"]


def history_columns(current: str, months: int = HISTORY_MONTHS) -> dict[str, str]:
    """Period → history column name: h01 is the last closed period, h24 the oldest."""
    first = parse_period(current)
    return {format_period(first - k): f"h{k:02d}" for k in range(months, 0, -1)}


def plan_columns(current: str, horizon: int = 12) -> dict[str, str]:
    return {p: f"p{i + 1:02d}" for i, p in enumerate(demand_plan.plan_periods(current, horizon))}


def sales_history(agg_sales: pd.DataFrame) -> pd.DataFrame:
    """Shipped and invoiced quantity per item × location × period (from agg_sales)."""
    if agg_sales.empty:
        return pd.DataFrame(columns=[*KEYS, "period", "shipped_qty", "invoiced_qty"])
    frame = pd.DataFrame({
        "item_no": agg_sales["item_no"].astype(str), "location_code":
        agg_sales["location_code"].astype(str), "period": agg_sales["period"].astype(str),
        "shipped_qty": numbers_or_zero(agg_sales, "shipped_qty"),
        "invoiced_qty": numbers_or_zero(agg_sales, "invoiced_qty")})
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
    periods = demand_plan.plan_periods(current, horizon)
    events = inputs.events
    if events.empty:
        events = pd.DataFrame(columns=demand_plan.EVENT_COLUMNS)
    else:
        events = events.reindex(columns=list(dict.fromkeys([*demand_plan.EVENT_COLUMNS,
                                                             *events.columns])))
    events = demand_plan.event_uplift(baseline, events, items)
    commits = demand_plan.opportunity_commits(
        agg.get("agg_pipeline", pd.DataFrame(columns=["period", "item_no", "commit_qty",
                                                      "weighted_qty"])),
        main_locations(past, items, agg["locations"]), periods)
    plan = demand_plan.consensus(baseline, inputs.overrides, events, commits)
    models = baseline_notes(baseline)
    grid = demand_grid(plan, past, items, current, horizon, models)
    actuals = past.rename(columns={"invoiced_qty": "quantity"})[[*KEYS, "period", "quantity"]]
    closed = [format_period(parse_period(current) - k)
              for k in range(demand_accuracy.WINDOW, 0, -1)]
    snapshots = inputs.snapshots
    if snapshots.empty:
        snapshots = pd.DataFrame(columns=["snapshot_period", "period", *KEYS, "quantity",
                                          "baseline_quantity"])
    judged = [p for p in closed[-3:] if loaded.is_loaded(p, last_loaded)]
    tables = {
        "plan_demand": mark_not_loaded(grid, current, last_loaded),
        "demand_rollup": mark_not_loaded(demand_rollup(plan, past, items, current, horizon),
                                         current, last_loaded),
        "demand_accuracy": accuracy_table(demand_accuracy.accuracy_trend(
            actuals, snapshots, closed), last_loaded),
        "demand_fva": fva_table(demand_accuracy.accuracy_by_item(
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
    (``last_loaded``, :func:`sop_workbook.review.loaded.last_loaded_period`; default the last
    period of ``history``): after a roll forward, the closed periods after it have no
    actuals *yet* (they land on the next refresh), so they are forecast, not counted as
    zero demand."""
    if history.empty:
        return demand_plan.statistical_baseline(history, current, horizon)
    end = last_loaded if last_loaded is not None else str(history["period"].max())
    landed = parse_period(end) + 1
    first = parse_period(current)
    if landed >= first:
        return demand_plan.statistical_baseline(history, current, horizon)
    gap = first - landed
    baseline = demand_plan.statistical_baseline(history, format_period(landed), horizon + gap)
    periods = set(demand_plan.plan_periods(current, horizon))
    return baseline[baseline["period"].isin(periods)].reset_index(drop=True)


def _layered(history: pd.DataFrame, plan: pd.DataFrame, keys: list[str], current: str,
             horizon: int, plan_layers: list[str], history_of: pd.MultiIndex | None = None
             ) -> pd.DataFrame:
    """Rows keys × layer: history layers fill h24…h01 (``history_of``: only for these
    keys), plan layers p01…p12."""
    hcols, pcols = history_columns(current), plan_columns(current, horizon)
    parts = []
    shipped = to_wide_frames(history, keys, hcols, ["shipped_qty", "invoiced_qty"],
                           only=history_of)
    for layer, column in (("shipped", "shipped_qty"), ("invoiced", "invoiced_qty")):
        part = shipped[column]
        part["layer"] = layer
        parts.append(part)
    planned = to_wide_frames(plan, keys, pcols, plan_layers)
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
        return per_unique(item_no, lambda i: i.map(category)).fillna("(none)")

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
