"""Supply review cores: capacity load vs available hours, projected inventory, exceptions.

Pure functions on the workbook's tables (pandas/numpy only). Inputs are aggregates, never
raw transactions:

- ``plan`` — the long consensus plan: ``item_no``, ``location_code``, ``period``
  (``YYYY-MM``), ``consensus`` (units) for the plan periods starting at the current period.
  An empty consensus counts 0.
- ``routings`` — ``item_no``, ``work_center``, ``hours_per_unit``; ``capacity`` —
  ``work_center``, ``period``, ``available_hours``. Either may be empty (no capacity
  check).
- ``agg_sales`` — period × item × category × location with ``on_hand_qty`` (period-end).
- ``agg_supply_open`` — period × item × location with ``po_qty`` and ``production_qty``
  (open supply by month of expected receipt / due date; periods may lie before the
  current period: past due).

Readings (stated once, used throughout):

- **Capacity load** (:func:`capacity_load`): for work centre *w* and period *p*,
  ``load_hours = Σ_items (Σ_locations consensus[item, p]) × hours_per_unit[item, w]``.
  ``available_hours`` is the capacity row for *w* × *p*, ``None`` when there is none (the
  capacity is unknown, not 0). ``utilisation = load_hours ÷ available_hours`` (``None``
  when available is missing or 0). ``overload = load_hours > available_hours``; with no
  capacity row it is ``False`` (no capacity check is possible), with 0 available hours any
  load is an overload. Work centres listed are those of the routings and of the capacity
  rows in the horizon (a centre with capacity but no load shows 0 load). Empty routings →
  an empty frame (no capacity check).
- **Projected inventory** (:func:`projected_inventory`), per item × location, over the
  horizon periods ``p1 … pH`` (``H = horizon``, 12 by default, starting at ``current``):

  - ``opening[p1]`` = ``on_hand_qty`` of the period before ``current`` (the last closed
    period), Σ over the agg_sales rows of that item × location; no row → 0.
    ``opening[pk] = projected[pk-1]`` for later periods.
  - ``supply[p] = po_qty + production_qty`` due in *p*; open supply due **before**
    ``current`` (past due) lands in ``p1``; supply due after ``pH`` is outside the horizon
    and ignored.
  - ``demand[p] = consensus[p]``.
  - ``projected[p] = opening[p] + supply[p] − demand[p]`` (may go negative: demand not
    covered by stock or open supply is carried as a backlog, not lost).
  - ``avg_daily_demand[p]`` (domain.md, "looking ahead") = Σ demand of the next
    ``lookahead`` periods **after** *p* that lie inside the horizon ÷ Σ of their calendar
    days. Near the end of the horizon fewer periods remain and only those count; for the
    last period none remain and it is ``None``.
  - ``days_of_supply[p] = projected[p] ÷ avg_daily_demand[p]``; ``None`` when that
    demand is 0 or no later period remains. A negative projection gives a negative value
    (days of forward demand already in backlog).
  - ``safety_qty[p] = safety_days × avg_daily_demand[p]`` (0 when the forward demand is
    0; ``None`` when no later period remains).
  - ``below_safety = projected < safety_qty`` (``False`` when ``safety_qty`` is ``None``);
    ``negative = projected < 0``.

  Item × location pairs listed: those in the plan, those with open supply in or before
  the horizon, and those with a non-zero on hand at the last closed period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..frames import (
    PlanCells,
    by_item_of,
    exact_hashable,
    group_sum,
    horizon_periods,
    key_codes,
    key_text,
    long_of,
    none_cells,
    none_list,
    one_row_sums,
    period_columns,
    read_columns,
    strict_months,
    to_float,
)
from ..periods import days_in_period, parse_period, shift_period
from .demand_plan import plan_periods
from .inputs import Settings

KEYS = ["item_no", "location_code"]
LOAD_COLUMNS = ["work_center", "period", "load_hours", "available_hours", "utilisation",
                "overload"]
PROJECTION_COLUMNS = ["item_no", "location_code", "period", "opening", "supply", "demand",
                      "projected", "avg_daily_demand", "days_of_supply", "safety_qty",
                      "below_safety", "negative"]
EXCEPTION_COLUMNS = ["item_no", "location_code", "exception", "period", "projected",
                     "safety_qty", "shortfall"]
CAPACITY_MEASURES = ("load", "available", "utilisation")
PROJECTION_MEASURES = ("demand", "supply", "projected", "days_of_supply")


# ----------------------------------------------------------------------------- helpers

def clean_routings(routings: pd.DataFrame | None) -> pd.DataFrame:
    r = read_columns(routings, {"item_no": "", "work_center": "", "hours_per_unit": 0.0})
    out = pd.DataFrame({"item_no": key_text(r["item_no"]),
                        "work_center": key_text(r["work_center"]),
                        "hours_per_unit": to_float(r["hours_per_unit"]).fillna(0.0)})
    return out.groupby(["item_no", "work_center"], as_index=False, sort=True).sum()


def clean_capacity(capacity: pd.DataFrame | None, periods: list[str]) -> pd.DataFrame:
    c = read_columns(capacity, {"work_center": "", "period": "", "available_hours": np.nan})
    out = pd.DataFrame({"work_center": key_text(c["work_center"]), "period": key_text(c["period"]),
                        "available_hours": to_float(c["available_hours"])})
    out = out[out["period"].isin(periods) & out["available_hours"].notna()]
    return out.groupby(["work_center", "period"], as_index=False, sort=True).sum()


def _object_cells(grid: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Grid value columns as objects with ``None`` for a missing value (an empty cell)."""
    for name in names:
        grid[name] = pd.Series(none_list(grid[name].astype(float)), index=grid.index,
                               dtype=object)
    return grid


# ----------------------------------------------------------------------------- capacity

def capacity_load(plan: pd.DataFrame, routings: pd.DataFrame | None,
                  capacity: pd.DataFrame | None, periods: list[str], *,
                  cells: PlanCells | None = None) -> pd.DataFrame:
    """Work centre × period load vs available hours (module docstring, *Capacity load*).

    Columns: ``work_center``, ``period``, ``load_hours``, ``available_hours`` (``None``
    when missing), ``utilisation`` (``None`` when available is missing or 0),
    ``overload`` (bool). Sorted by work centre, then period in ``periods`` order.
    ``cells``: :class:`PlanCells` of ``plan``, when the caller has them.
    """
    periods = list(periods)
    r = clean_routings(routings)
    if r.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LOAD_COLUMNS})
    cap = clean_capacity(capacity, periods)
    demand = by_item_of(plan, periods, cells)
    load = demand.merge(r, on="item_no", how="inner")
    load["load_hours"] = load["consensus"] * load["hours_per_unit"]
    load = load.groupby(["work_center", "period"])["load_hours"].sum()
    centres = sorted(set(r["work_center"]) | set(cap["work_center"]))
    grid = pd.MultiIndex.from_product([centres, periods], names=["work_center", "period"])
    out = pd.DataFrame(index=grid)
    out["load_hours"] = load.reindex(grid).fillna(0.0).to_numpy()
    available = cap.set_index(["work_center", "period"])["available_hours"].reindex(grid)
    avail = available.to_numpy(dtype=float)
    lh = out["load_hours"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(np.isnan(avail) | (avail == 0), np.nan, lh / avail)
    out = out.reset_index()
    out["available_hours"] = pd.Series(none_list(avail), dtype=object)
    out["utilisation"] = pd.Series(none_list(util), dtype=object)
    out["overload"] = np.where(np.isnan(avail), False, lh > np.nan_to_num(avail)).astype(bool)
    return out[LOAD_COLUMNS]


def capacity_grid(load: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """Wide capacity table for the Supply sheet from :func:`capacity_load`.

    Rows: work centre × measure (``load``, ``available``, ``utilisation``, in that order);
    columns ``work_center``, ``measure``, ``p01`` … ``pNN`` (``period_columns(periods)``
    names the period of each; also in ``grid.attrs['periods']``). Missing → ``None``.
    """
    names = list(period_columns(periods))
    source = {"load": "load_hours", "available": "available_hours",
              "utilisation": "utilisation"}
    rows = []
    for centre, grp in load.groupby("work_center", sort=True):
        by_period = grp.set_index("period")
        for measure in CAPACITY_MEASURES:
            values = by_period[source[measure]].reindex(periods)
            rows.append({"work_center": centre, "measure": measure,
                         **dict(zip(names, none_list(values.astype(float)), strict=True))})
    grid = _object_cells(pd.DataFrame(rows, columns=["work_center", "measure", *names]), names)
    grid.attrs["periods"] = list(periods)
    return grid


# ----------------------------------------------------------------------------- inventory

def opening_on_hand(agg_sales: pd.DataFrame | None, current: str) -> pd.Series:
    """On hand at the end of the last closed period (the one before ``current``),
    Σ per item × location (index ``item_no``, ``location_code``). When that period holds
    no inventory at all (its data is not loaded yet, e.g. just after a roll forward), the
    last earlier period that does is used — the last known stock, never zero."""
    s = read_columns(agg_sales, {"period": "", "item_no": "", "location_code": "",
                             "on_hand_qty": 0.0})
    last_closed = shift_period(current, -1)
    periods = key_text(s["period"])
    stocked = periods[(to_float(s["on_hand_qty"]).fillna(0.0) != 0).to_numpy()
                      & (periods < current).to_numpy()]
    if len(stocked) and not (stocked == last_closed).any():
        last_closed = max(stocked)
    s = s[periods == last_closed]
    frame = pd.DataFrame({"item_no": key_text(s["item_no"]),
                          "location_code": key_text(s["location_code"]),
                          "on_hand_qty": to_float(s["on_hand_qty"]).fillna(0.0)})
    if frame.empty:
        return frame.groupby(KEYS, sort=True)["on_hand_qty"].sum()
    return group_sum(frame, KEYS, "on_hand_qty").set_index(KEYS)["on_hand_qty"]


def open_supply(agg_supply_open: pd.DataFrame | None, periods: list[str]) -> pd.DataFrame:
    """Open supply per item × location × horizon period: ``po_qty + production_qty``;
    past-due supply (before the first period) lands in the first period; supply after the
    last period is dropped. Columns ``item_no``, ``location_code``, ``period``, ``supply``."""
    o = read_columns(agg_supply_open, {"period": "", "item_no": "", "location_code": "",
                                   "po_qty": 0.0, "production_qty": 0.0})
    frame = pd.DataFrame({"item_no": key_text(o["item_no"]),
                          "location_code": key_text(o["location_code"]),
                          "period": key_text(o["period"]),
                          "supply": to_float(o["po_qty"]).fillna(0.0)
                          + to_float(o["production_qty"]).fillna(0.0)})
    if frame.empty:
        return frame
    first, last = parse_period(periods[0]), parse_period(periods[-1])
    month = strict_months(frame["period"])
    frame.loc[month < first, "period"] = periods[0]
    frame = frame[month <= last]
    return group_sum(frame, [*KEYS, "period"], "supply")


def forward_daily_demand(demand: np.ndarray, periods: list[str], lookahead: int) -> np.ndarray:
    """Per period k: Σ demand[k+1 … k+lookahead] ÷ Σ their days (only periods inside the
    horizon); NaN for the last period (none remain). ``demand`` is (pairs × periods)."""
    days = np.array([days_in_period(p) for p in periods], dtype=float)
    n = len(periods)
    out = np.full(demand.shape, np.nan)
    for k in range(n - 1):
        window = slice(k + 1, min(n, k + 1 + lookahead))
        out[:, k] = demand[:, window].sum(axis=1) / days[window].sum()
    return out


def pair_arrays(plan: pd.DataFrame, agg_sales: pd.DataFrame | None,
                agg_supply_open: pd.DataFrame | None, current: str, periods: list[str],
                *, cells: PlanCells | None = None
                ) -> tuple[pd.MultiIndex, np.ndarray, np.ndarray, np.ndarray]:
    """The item × location pairs of the projection (plan ∪ open supply in or before the
    horizon ∪ non-zero on hand at the last closed period), sorted, with their demand and
    supply as (pairs × periods) arrays and their opening on hand (pairs). ``cells``:
    :class:`PlanCells` of ``plan``, when the caller has them."""
    demand_long = long_of(plan, periods, cells)
    supply_long = open_supply(agg_supply_open, periods)
    on_hand = opening_on_hand(agg_sales, current)
    held = on_hand[on_hand.to_numpy() != 0].index
    keys = pd.DataFrame({
        key: pd.concat([pd.Series(demand_long[key].to_numpy(), dtype=object),
                        pd.Series(supply_long[key].to_numpy(), dtype=object),
                        pd.Series(held.get_level_values(key).to_numpy(), dtype=object)],
                       ignore_index=True) for key in KEYS})
    gid, keep = key_codes(keys, KEYS)
    if not keep.all():  # an empty key: the pairs as Python sorts them
        pairs = sorted(set(zip(keys["item_no"], keys["location_code"], strict=True)))
        return _pair_arrays_of(pd.MultiIndex.from_tuples(pairs, names=KEYS), demand_long,
                               supply_long, on_hand, periods)
    pair_ids, first = np.unique(gid, return_index=True)
    index = pd.MultiIndex.from_arrays([pd.Index(keys[key].to_numpy()[first]) for key in KEYS],
                                      names=KEYS) if len(first) else \
        pd.MultiIndex.from_arrays([[], []], names=KEYS)
    n_demand, n_supply = len(demand_long), len(supply_long)
    position = np.searchsorted(pair_ids, gid)
    return (index,
            _cells(position[:n_demand], demand_long, "consensus", len(index), periods),
            _cells(position[n_demand:n_demand + n_supply], supply_long, "supply", len(index),
                   periods),
            _opening(on_hand, index))


def _cells(rows: np.ndarray, frame: pd.DataFrame, value: str, n: int, periods: list[str]
           ) -> np.ndarray:
    """(n × periods) array of ``frame[value]`` (one row per pair × period; ``rows``: the
    pair of each row), 0 where there is none."""
    out = np.zeros((n, len(periods)))
    if len(frame) and n:
        x = frame[value].to_numpy(dtype=float)
        out[rows, pd.Index(periods).get_indexer(frame["period"])] = one_row_sums(
            x, bool(np.isnan(x).any()))
    return out


def _opening(on_hand: pd.Series, index: pd.MultiIndex) -> np.ndarray:
    return on_hand.reindex(index).fillna(0.0).to_numpy(dtype=float) if len(index) \
        else np.zeros(0)


def _pair_arrays_of(index: pd.MultiIndex, demand_long: pd.DataFrame,
                    supply_long: pd.DataFrame, on_hand: pd.Series, periods: list[str]
                    ) -> tuple[pd.MultiIndex, np.ndarray, np.ndarray, np.ndarray]:
    def wide(frame: pd.DataFrame, value: str) -> np.ndarray:
        if frame.empty or not len(index):
            return np.zeros((len(index), len(periods)))
        w = frame.pivot_table(index=KEYS, columns="period", values=value, aggfunc="sum")
        return w.reindex(index=index, columns=periods).fillna(0.0).to_numpy(dtype=float)

    return index, wide(demand_long, "consensus"), wide(supply_long, "supply"), \
        _opening(on_hand, index)


def projected_inventory(plan: pd.DataFrame, agg_sales: pd.DataFrame | None,
                        agg_supply_open: pd.DataFrame | None, current: str, *,
                        safety_days: float = 14, lookahead: int = 3,
                        horizon: int = 12, arrays: tuple | None = None) -> pd.DataFrame:
    """Projected on hand per item × location × horizon period (module docstring,
    *Projected inventory*, for every formula and reading).

    Columns: ``item_no``, ``location_code``, ``period``, ``opening``, ``supply``,
    ``demand``, ``projected``, ``avg_daily_demand``, ``days_of_supply``, ``safety_qty``
    (the last three ``None`` where undefined), ``below_safety``, ``negative`` (bool).
    ``arrays``: :func:`pair_arrays` of the same inputs and horizon, when the caller has
    it already.
    """
    periods = horizon_periods(current, horizon)
    index, demand, supply, opening0 = arrays if arrays is not None else pair_arrays(
        plan, agg_sales, agg_supply_open, current, periods)
    if not len(index):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PROJECTION_COLUMNS})
    projected = opening0[:, None] + np.cumsum(supply - demand, axis=1)
    opening = np.column_stack([opening0, projected[:, :-1]])
    daily = forward_daily_demand(demand, periods, lookahead)
    with np.errstate(divide="ignore", invalid="ignore"):
        dos = np.where(np.isnan(daily) | (daily == 0), np.nan, projected / daily)
    safety = safety_days * daily
    below = np.where(np.isnan(safety), False, projected < np.nan_to_num(safety))
    n, h = demand.shape
    out = pd.DataFrame({
        "item_no": np.repeat(index.get_level_values(0).to_numpy(), h),
        "location_code": np.repeat(index.get_level_values(1).to_numpy(), h),
        "period": np.tile(np.array(periods, dtype=object), n),
        "opening": opening.ravel(), "supply": supply.ravel(), "demand": demand.ravel(),
        "projected": projected.ravel(),
    })
    out["avg_daily_demand"] = pd.Series(none_list(daily.ravel()), dtype=object)
    out["days_of_supply"] = pd.Series(none_list(dos.ravel()), dtype=object)
    out["safety_qty"] = pd.Series(none_list(safety.ravel()), dtype=object)
    out["below_safety"] = below.ravel().astype(bool)
    out["negative"] = (projected < 0).ravel()
    return out[PROJECTION_COLUMNS]


def projection_grid(projection: pd.DataFrame, periods: list[str] | None = None) -> pd.DataFrame:
    """Wide projection for the Supply sheet from :func:`projected_inventory`.

    Rows: item × location × measure (``demand``, ``supply``, ``projected``,
    ``days_of_supply``, in that order); columns ``item_no``, ``location_code``,
    ``measure``, ``p01`` … ``pNN`` (periods in ``grid.attrs['periods']``).
    """
    if periods is None:
        periods = sorted(projection["period"].unique(), key=parse_period)
    names = list(period_columns(periods))
    columns = ["item_no", "location_code", "measure", *names]
    if projection.empty:
        grid = pd.DataFrame(columns=columns)
        grid.attrs["periods"] = list(periods)
        return grid
    frame = projection[[*KEYS, "period", *PROJECTION_MEASURES]].copy()
    for measure in PROJECTION_MEASURES:
        frame[measure] = pd.to_numeric(frame[measure], errors="coerce").astype(float)
    placed = _pair_rows(frame, periods)
    if placed is None:
        grid = _projection_pivot(frame, periods, names)
    else:
        pairs, pair_of_row, column = placed
        cells = np.full((len(pairs), len(PROJECTION_MEASURES), len(periods)), np.nan)
        rows = column >= 0
        for m, measure in enumerate(PROJECTION_MEASURES):
            cells[pair_of_row[rows], m, column[rows]] = frame[measure].to_numpy()[rows]
        cells = cells.reshape(-1, len(periods))
        n = len(PROJECTION_MEASURES)
        grid = pd.DataFrame({
            "item_no": pd.Index(np.repeat(pairs["item_no"].to_numpy(), n)),
            "location_code": pd.Index(np.repeat(pairs["location_code"].to_numpy(), n)),
            "measure": pd.Index(np.tile(np.array(PROJECTION_MEASURES, dtype=object),
                                        len(pairs)))}
            | {name: none_cells(cells[:, k]) for k, name in enumerate(names)})
    grid = grid[columns]
    grid.attrs["periods"] = list(periods)
    return grid


def _pair_rows(frame: pd.DataFrame, periods: list[str]
               ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray] | None:
    """The distinct item × location pairs of ``frame`` (sorted), the pair of each row and
    the position of its period in ``periods`` (−1: not there). ``None`` when the pairs
    cannot be laid out that way: an empty or non-text key, a pair × period given twice,
    or ``periods`` listing a period twice."""
    if not all(exact_hashable(frame[k]) and frame[k].dtype.kind != "f" for k in KEYS) \
            or len(set(periods)) < len(periods):
        return None
    gid, keep = key_codes(frame, KEYS)
    if not keep.all():
        return None
    _, first, pair_of_row = np.unique(gid, return_index=True, return_inverse=True)
    period_of_row, in_frame = pd.factorize(frame["period"], use_na_sentinel=False)
    if len(np.unique(pair_of_row * len(in_frame) + period_of_row)) < len(frame):
        return None
    column = pd.Index(list(periods), dtype=object).get_indexer(
        frame["period"].to_numpy(dtype=object))
    pairs = frame.iloc[first][KEYS].reset_index(drop=True)
    return pairs, pair_of_row.ravel(), column


def _projection_pivot(frame: pd.DataFrame, periods: list[str], names: list[str]
                      ) -> pd.DataFrame:
    """:func:`projection_grid` by melt and pivot (keys :func:`_pair_rows` cannot lay
    out)."""
    long = frame.melt(id_vars=[*KEYS, "period"], value_vars=list(PROJECTION_MEASURES),
                      var_name="measure")
    wide = long.pivot(index=[*KEYS, "measure"], columns="period", values="value")
    order = pd.MultiIndex.from_product(
        [sorted(set(zip(frame["item_no"], frame["location_code"], strict=True))),
         list(PROJECTION_MEASURES)])
    tuples = [(i, loc, m) for (i, loc), m in order]
    wide = wide.reindex(index=pd.MultiIndex.from_tuples(tuples, names=[*KEYS, "measure"]),
                        columns=periods)
    wide.columns = names
    return _object_cells(wide.reset_index(), names)


def projection_exceptions(projection: pd.DataFrame) -> pd.DataFrame:
    """The planner's action list: for each item × location, the **first** period where the
    projection falls below safety stock (``exception = 'below_safety'``) and the first
    where it goes negative (``'negative'``) — up to two rows per pair.

    Columns: ``item_no``, ``location_code``, ``exception``, ``period``, ``projected``,
    ``safety_qty``, ``shortfall`` (``safety_qty − projected`` for below safety,
    ``−projected`` for negative). Sorted by period, then item, location, exception.
    """
    if projection.empty:
        return pd.DataFrame(columns=EXCEPTION_COLUMNS)
    frame = projection.assign(_m=strict_months(projection["period"]))
    parts = []
    for flag in ("below_safety", "negative"):
        first = _first_flagged(frame, flag)
        projected = first["projected"].astype(float)
        safety = pd.to_numeric(first["safety_qty"], errors="coerce").astype(float)
        target = 0.0 if flag == "negative" else safety
        parts.append(pd.DataFrame({
            "item_no": first["item_no"], "location_code": first["location_code"],
            "exception": flag, "period": first["period"], "projected": projected,
            "safety_qty": pd.Series(none_list(safety), index=first.index, dtype=object),
            "shortfall": target - projected, "_m": first["_m"]}))
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["_m", "item_no", "location_code", "exception"]).drop(columns="_m")
    return out[EXCEPTION_COLUMNS].reset_index(drop=True)


def _first_flagged(frame: pd.DataFrame, flag: str) -> pd.DataFrame:
    """Per item × location, its first row (by month ``_m``, then row order) where
    ``flag`` is set; pairs in key order."""
    gid, keep = key_codes(frame, KEYS)
    if not keep.all() or not all(exact_hashable(frame[k]) for k in KEYS):
        ordered = frame.sort_values([*KEYS, "_m"], kind="stable")
        return ordered[ordered[flag].astype(bool)].groupby(KEYS, sort=False).head(1)
    order = np.lexsort((frame["_m"].to_numpy(), gid))  # stable: ties keep row order
    flagged = order[frame[flag].astype(bool).to_numpy()[order]]
    first = np.unique(gid[flagged], return_index=True)[1]
    return frame.iloc[flagged[first]]


def supply_stage(agg: dict[str, pd.DataFrame], plan: pd.DataFrame, settings: Settings
                 ) -> tuple[dict[str, pd.DataFrame], dict]:
    """The Supply sheet's tables, and what the later stages reuse: the plan's ``cells``,
    the capacity ``load``, the ``projection`` and its item × location ``arrays`` (with
    their ``periods``)."""
    periods = plan_periods(settings.current, settings.horizon)
    cells = PlanCells.of(plan, periods)
    load = capacity_load(plan, agg.get("routings"), agg.get("capacity"), periods,
                                     cells=cells)
    projected = horizon_periods(settings.current)  # the projection's horizon
    arrays = pair_arrays(plan, agg["agg_sales"], agg.get("agg_supply_open"),
                                     settings.current, projected, cells=cells)
    projection = projected_inventory(
        plan, agg["agg_sales"], agg.get("agg_supply_open"), settings.current,
        safety_days=settings.safety_days, lookahead=settings.lookahead, arrays=arrays)
    grid = projection_grid(projection, periods)
    if len(grid) and "description" not in grid:
        desc = agg["items"].assign(item_no=agg["items"]["item_no"].astype(str)).set_index(
            "item_no")["description"]
        grid.insert(1, "description", grid["item_no"].map(desc))
    tables = {
        "supply_capacity": capacity_grid(load, periods),
        "supply_projection": grid,
        "supply_exceptions": projection_exceptions(projection),
    }
    return tables, {"cells": cells, "load": load, "load_periods": periods,
                    "projection": projection, "arrays": arrays, "periods": projected}
