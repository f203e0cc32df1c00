"""Pre-S&OP cores: consensus vs constrained-supply scenario, and the gaps to decide.

Pure functions on the workbook's tables (pandas/numpy only). Inputs as in
:mod:`sop_workbook.review.supply` and :mod:`sop_workbook.review.finance`; ``price_of`` is the
unit price per item: a mapping or Series ``item_no → price``, the frame of
:func:`sop_workbook.item_prices` (its ``price`` column), or a callable
``item_no → price`` (``None``/NaN = no price).

Scenarios (:func:`compare_scenarios`), over the ``horizon`` periods from ``current``:

- **consensus** — volume shipped = the consensus of every item × location × period.
- **constrained supply** — for work centre *w* in period *p* the capacity factor is
  ``f[w, p] = min(1, available ÷ load)`` (1 when the centre has no load or no capacity
  row — unknown capacity is not a constraint; 0 when available is 0 and load > 0). An
  item's factor is ``min_w f[w, p]`` over the work centres of its routing (1 for an item
  without routing: bought-in items are unconstrained), and its volume =
  ``consensus × factor``. Every item on an overloaded centre is cut by the same factor
  (a pro-rata allocation of the hours; no priority between items).

Per scenario and period: ``volume``; ``revenue = Σ volume × price`` (items without a
price count no revenue; their volume is reported as ``unpriced_volume``);
``cogs = Σ volume × unit_cost`` (items without a cost count none: ``volume_without_cost``);
``margin = revenue − cogs``; ``margin_pct = margin ÷ revenue`` (``None`` when 0);
``ending_inventory_qty = Σ_item×location max(0, opening on hand + Σ_{k≤p} open supply[k]
− Σ_{k≤p} volume[k])`` — the cumulative balance is floored at 0 per item × location
(a shortfall is carried as a backlog of the cumulative balance, and the floor only keeps
the reported stock from going negative); opening on hand and open supply as in
:func:`sop_workbook.review.supply.projected_inventory` (past-due supply in the first
period). Open supply is the only supply counted: neither scenario adds planned orders.
``ending_inventory_value = Σ ending units × unit_cost``. The ``total`` row sums the flows
over the horizon; its ending inventory is that of the last period.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from ..frames import horizon_periods, none_list, period_columns
from .finance import clean_items, item_prices
from .inputs import Settings
from .supply import capacity_load, clean_routings, pair_arrays

SCENARIOS = ("consensus", "constrained supply")
TOTAL = "total"
COMPARISON_COLUMNS = ["scenario", "period", "volume", "revenue", "cogs", "margin",
                      "margin_pct", "ending_inventory_qty", "ending_inventory_value",
                      "unpriced_volume", "volume_without_cost"]
MEASURES = ["volume", "revenue", "cogs", "margin", "ending_inventory_qty",
            "ending_inventory_value"]
GAP_COLUMNS = ["gap_type", "period", "work_center", "item_no", "location_code",
               "hours_short", "volume_at_risk", "revenue_at_risk", "spare_hours_before",
               "decision", "option_1", "option_2", "option_3"]

PriceOf = Mapping[str, float] | pd.Series | pd.DataFrame | Callable[[str], float | None]
PairArrays = tuple[pd.MultiIndex, np.ndarray, np.ndarray, np.ndarray]


def price_lookup(price_of: PriceOf | None) -> Callable[[str], float]:
    """``price_of`` (see the module docstring) → a function item → price (NaN = none)."""
    if price_of is None:
        return lambda item: np.nan
    if isinstance(price_of, pd.DataFrame):
        price_of = price_of["price"]
    if isinstance(price_of, pd.Series | Mapping):
        table = {str(k): v for k, v in dict(price_of).items()}
        fetch: Callable[[str], object] = table.get
    else:
        fetch = price_of

    def lookup(item: str) -> float:
        value = fetch(item)
        try:
            return float(value) if value is not None else np.nan
        except (TypeError, ValueError):
            return np.nan

    return lookup


def capacity_factors(load: pd.DataFrame) -> pd.DataFrame:
    """Per work centre × period: ``factor = min(1, available ÷ load)`` (1 without load or
    capacity row; 0 when available is 0 and load > 0). Columns ``work_center``,
    ``period``, ``load_hours``, ``available_hours``, ``factor``."""
    out = load[["work_center", "period", "load_hours", "available_hours"]].copy()
    lh = out["load_hours"].to_numpy(dtype=float)
    av = pd.to_numeric(out["available_hours"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(np.isnan(av) | (lh <= 0), 1.0, np.minimum(1.0, av / lh))
    out["factor"] = f
    return out


def item_factors(routings: pd.DataFrame | None, factors: pd.DataFrame,
                 periods: list[str]) -> pd.DataFrame:
    """Per item with a routing × period: ``min`` over its work centres of the centre
    factor (index item_no, columns periods)."""
    r = clean_routings(routings)
    if r.empty or factors.empty:
        return pd.DataFrame(columns=periods, dtype=float)
    f = factors.pivot_table(index="work_center", columns="period", values="factor",
                            aggfunc="min").reindex(columns=periods).fillna(1.0)
    rows = r[["item_no", "work_center"]].merge(f, left_on="work_center", right_index=True,
                                               how="left").fillna({p: 1.0 for p in periods})
    return rows.groupby("item_no")[periods].min()


def constrained_volume(plan: pd.DataFrame, routings: pd.DataFrame | None,
                       capacity: pd.DataFrame | None, current: str, *,
                       horizon: int = 12) -> pd.DataFrame:
    """Per item × location × period: ``consensus``, ``factor`` (the item's capacity
    factor), ``constrained = consensus × factor`` (module docstring)."""
    periods = horizon_periods(current, horizon)
    index, demand, _, _ = pair_arrays(plan, None, None, current, periods)
    load = capacity_load(plan, routings, capacity, periods)
    fac = item_factors(routings, capacity_factors(load), periods)
    items = index.get_level_values(0)
    factor = fac.reindex(items).fillna(1.0).to_numpy(dtype=float) if len(index) else \
        np.ones((0, len(periods)))
    n, h = demand.shape
    return pd.DataFrame({
        "item_no": np.repeat(items.to_numpy(), h),
        "location_code": np.repeat(index.get_level_values(1).to_numpy(), h),
        "period": np.tile(np.array(periods, dtype=object), n),
        "consensus": demand.ravel(), "factor": factor.ravel(),
        "constrained": (demand * factor).ravel(),
    })


def _scenario_rows(name: str, volume: np.ndarray, supply: np.ndarray, opening: np.ndarray,
                   price: np.ndarray, cost: np.ndarray, periods: list[str]) -> list[dict]:
    priced = ~np.isnan(price)
    costed = ~np.isnan(cost)
    revenue = (volume * np.nan_to_num(price)[:, None]).sum(axis=0)
    cogs = (volume * np.nan_to_num(cost)[:, None]).sum(axis=0)
    unpriced = volume[~priced].sum(axis=0)
    uncosted = volume[~costed].sum(axis=0)
    ending = np.maximum(0.0, opening[:, None] + np.cumsum(supply - volume, axis=1))
    end_qty = ending.sum(axis=0)
    end_value = (ending * np.nan_to_num(cost)[:, None]).sum(axis=0)
    vol = volume.sum(axis=0)
    rows = []
    for k, period in enumerate([*periods, TOTAL]):
        if period == TOTAL:
            v, r, c = vol.sum(), revenue.sum(), cogs.sum()
            eq, ev = end_qty[-1], end_value[-1]
            up, uc = unpriced.sum(), uncosted.sum()
        else:
            v, r, c, eq, ev = vol[k], revenue[k], cogs[k], end_qty[k], end_value[k]
            up, uc = unpriced[k], uncosted[k]
        rows.append({"scenario": name, "period": period, "volume": float(v),
                     "revenue": float(r), "cogs": float(c), "margin": float(r - c),
                     "margin_pct": float((r - c) / r) if r else None,
                     "ending_inventory_qty": float(eq), "ending_inventory_value": float(ev),
                     "unpriced_volume": float(up), "volume_without_cost": float(uc)})
    return rows


def compare_scenarios(plan: pd.DataFrame, items: pd.DataFrame | None,
                      routings: pd.DataFrame | None, capacity: pd.DataFrame | None,
                      agg_sales: pd.DataFrame | None, agg_supply_open: pd.DataFrame | None,
                      current: str, price_of: PriceOf | None, *,
                      horizon: int = 12, arrays: PairArrays | None = None,
                      load: pd.DataFrame | None = None) -> pd.DataFrame:
    """Consensus vs constrained supply side by side (module docstring for the formulas).

    Long frame, one row per scenario × period (the horizon periods, then ``'total'``):
    ``scenario``, ``period``, ``volume``, ``revenue``, ``cogs``, ``margin``,
    ``margin_pct``, ``ending_inventory_qty``, ``ending_inventory_value``,
    ``unpriced_volume``, ``volume_without_cost``. :func:`scenario_grid` lays it out for
    the sheet. ``arrays`` and ``load`` are :func:`~sop_workbook.review.supply.pair_arrays`
    and :func:`~sop_workbook.review.supply.capacity_load` of the same inputs and horizon
    when the caller has them already (computed here when not given).
    """
    periods = horizon_periods(current, horizon)
    index, demand, supply, opening = arrays if arrays is not None else pair_arrays(
        plan, agg_sales, agg_supply_open, current, periods)
    if load is None:
        load = capacity_load(plan, routings, capacity, periods)
    fac = item_factors(routings, capacity_factors(load), periods)
    item_ids = index.get_level_values(0)
    factor = fac.reindex(item_ids).fillna(1.0).to_numpy(dtype=float) if len(index) else \
        np.ones((0, len(periods)))
    lookup = price_lookup(price_of)
    master = clean_items(items)
    price = np.array([lookup(i) for i in item_ids], dtype=float)
    cost = master["unit_cost"].reindex(item_ids).to_numpy(dtype=float)
    rows = _scenario_rows(SCENARIOS[0], demand, supply, opening, price, cost, periods)
    rows += _scenario_rows(SCENARIOS[1], demand * factor, supply, opening, price, cost,
                           periods)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def scenario_grid(comparison: pd.DataFrame) -> pd.DataFrame:
    """Wide comparison for the Pre-S&OP sheet: rows measure × (each scenario, then
    ``difference`` = constrained − consensus); columns ``measure``, ``scenario``,
    ``p01`` … ``pNN``, ``total`` (periods in ``grid.attrs['periods']``)."""
    periods = [p for p in dict.fromkeys(comparison["period"]) if p != TOTAL]
    names = list(period_columns(periods))
    cols = [*periods, TOTAL]
    rows = []
    for measure in MEASURES:
        wide = comparison.pivot_table(index="scenario", columns="period", values=measure,
                                      aggfunc="sum").reindex(columns=cols)
        for scenario in SCENARIOS:
            values = wide.loc[scenario].to_numpy(dtype=float)
            rows.append([measure, scenario, *values])
        diff = wide.loc[SCENARIOS[1]].to_numpy(dtype=float) - wide.loc[SCENARIOS[0]].to_numpy(
            dtype=float)
        rows.append([measure, "difference", *diff])
    grid = pd.DataFrame(rows, columns=["measure", "scenario", *names, TOTAL])
    grid.attrs["periods"] = periods
    return grid


def _values(column: pd.Series | pd.Index) -> list:
    """A column's values as a Python list (fast also for text columns)."""
    return column.to_numpy(dtype=object).tolist()


def _fmt(x: float) -> str:
    return f"{x:,.1f}"


def _reallocate(item: str, location: str, period: str, rows: list[int],
                locations: list[str], projected: np.ndarray, k: int) -> str:
    """Option text: the item's projected stock at its other locations in the period
    (``rows``: the projection rows of the item; ``locations``: the location of each)."""
    others = [(locations[j], float(projected[j, k])) for j in rows
              if locations[j] != location and projected[j, k] > 0]
    if not others:
        return (f"Re-allocate: no stock of {item} is projected at another location in "
                f"{period}; re-promise the orders due from {period}.")
    where = ", ".join(f"{loc} {_fmt(q)}" for loc, q in others)
    total = sum(q for _, q in others)
    return (f"Re-allocate: {_fmt(total)} units of {item} projected at other locations in "
            f"{period} ({where}), at the cost of their own cover; or re-promise the orders "
            f"due from {period}.")


def gaps(plan: pd.DataFrame, items: pd.DataFrame | None, routings: pd.DataFrame | None,
         capacity: pd.DataFrame | None, agg_sales: pd.DataFrame | None,
         agg_supply_open: pd.DataFrame | None, current: str, price_of: PriceOf | None, *,
         horizon: int = 12, arrays: PairArrays | None = None,
         load: pd.DataFrame | None = None) -> pd.DataFrame:
    """The gaps that need a decision at the executive meeting, with options (Pre-S&OP).

    **Capacity gaps** — one row per overloaded work centre × period (chronological per
    centre): ``hours_short = load − available``; ``volume_at_risk = Σ_items on the centre
    consensus × (1 − f)`` with ``f = available ÷ load`` (that centre's pro-rata cut);
    ``revenue_at_risk = Σ that volume × price`` (unpriced items count none);
    ``spare_hours_before`` = the spare hours ``Σ max(0, available − load)`` of the centre
    in the horizon periods before this one (periods without a capacity row add none),
    **less** the spare already taken to pre-build for earlier overloads of the centre
    (each overload takes ``min(spare left, hours short)``, oldest overload first).
    Options: overtime/extra shift of ``hours_short``; pre-build with the spare hours
    before (how much of the shortfall they cover); accept the constrained plan and its
    volume/revenue loss.

    **Inventory gaps** — one row per item × location whose consensus projection
    (:func:`sop_workbook.review.supply.projected_inventory`) goes negative: ``period`` =
    the first negative period; ``volume_at_risk = max(0, −min projected)`` (the largest
    cumulative shortfall of stock + open supply against the consensus in the horizon);
    ``revenue_at_risk = volume_at_risk × price``. Options: add or expedite supply (a
    production order, with its routing hours, for a manufactured item; a purchase order
    for a bought-in one); re-allocate the item's stock projected (> 0) at its other
    locations in that period, or re-promise; accept the shortfall and its revenue at risk.

    Columns: ``gap_type`` (``capacity``/``inventory``), ``period``, ``work_center``,
    ``item_no``, ``location_code``, ``hours_short``, ``volume_at_risk``,
    ``revenue_at_risk``, ``spare_hours_before`` (``None`` where not applicable),
    ``decision`` (one-line statement), ``option_1`` … ``option_3``. Capacity gaps first,
    each kind by period. ``arrays`` and ``load`` as in :func:`compare_scenarios`.
    """
    periods = horizon_periods(current, horizon)
    lookup = price_lookup(price_of)
    rows: list[dict] = []
    if load is None:
        load = capacity_load(plan, routings, capacity, periods)
    r = clean_routings(routings)
    index, demand, supply, opening = arrays if arrays is not None else pair_arrays(
        plan, agg_sales, agg_supply_open, current, periods)
    item_ids = index.get_level_values(0)
    price = np.array([lookup(i) for i in item_ids], dtype=float)
    item_demand = pd.DataFrame(demand, index=item_ids, columns=periods).groupby(level=0).sum()
    item_value = pd.DataFrame(demand * np.nan_to_num(price)[:, None], index=item_ids,
                              columns=periods).groupby(level=0).sum()
    on_centre = r[["work_center", "item_no"]].drop_duplicates()
    # Σ consensus (units and value at price) of the items routed through each centre
    centre_units = item_demand.reindex(on_centre["item_no"]).fillna(0.0).set_axis(
        on_centre["work_center"].to_numpy()).groupby(level=0).sum()
    centre_value = item_value.reindex(on_centre["item_no"]).fillna(0.0).set_axis(
        on_centre["work_center"].to_numpy()).groupby(level=0).sum()
    pos = {p: k for k, p in enumerate(periods)}
    projected = opening[:, None] + np.cumsum(supply - demand, axis=1) if len(index) else \
        np.zeros((0, len(periods)))
    for centre, grp in load.groupby("work_center", sort=True):
        grp = grp.set_index("period").reindex(periods)
        pool = 0.0
        for period in periods:
            lh = float(grp.at[period, "load_hours"])
            av = grp.at[period, "available_hours"]
            if av is None or pd.isna(av):
                continue
            av = float(av)
            if lh <= av:
                pool += av - lh
                continue
            short = lh - av
            f = av / lh
            volume = float(centre_units.at[centre, period]) * (1 - f)
            revenue = float(centre_value.at[centre, period]) * (1 - f)
            prebuild = min(pool, short)
            before = periods[pos[period] - 1] if pos[period] else None
            if pool > 0:
                option_2 = (f"Pre-build in earlier periods: {_fmt(pool)} h spare at {centre} "
                            f"up to {before} covers {_fmt(prebuild)} of "
                            f"the {_fmt(short)} h short"
                            + (f"; {_fmt(short - prebuild)} h still short." if short > prebuild
                               else "."))
            else:
                option_2 = (f"Pre-build: no spare capacity at {centre} earlier in the "
                            f"horizon (before {period}).")
            rows.append({
                "gap_type": "capacity", "period": period, "work_center": centre,
                "item_no": None, "location_code": None, "hours_short": short,
                "volume_at_risk": volume, "revenue_at_risk": revenue,
                "spare_hours_before": pool,
                "decision": (f"{centre} overloaded in {period}: load {_fmt(lh)} h vs "
                             f"{_fmt(av)} h available ({lh / av:.0%})." if av else
                             f"{centre} has no hours in {period}: load {_fmt(lh)} h."),
                "option_1": (f"Overtime / extra shift: {_fmt(short)} h more at {centre} "
                             f"in {period}."),
                "option_2": option_2,
                "option_3": (f"Accept the constrained plan: {_fmt(volume)} units less in "
                             f"{period}, revenue {revenue:,.2f} lower."),
            })
            pool -= prebuild
    hours = r.groupby("item_no")["hours_per_unit"].sum().to_dict()
    centres_of: dict[str, list[str]] = {}
    for item, centre in zip(_values(r["item_no"]), _values(r["work_center"]), strict=True):
        centres_of.setdefault(item, []).append(centre)
    centres = {item: ", ".join(sorted(names)) for item, names in centres_of.items()}
    items = _values(item_ids)
    locations = _values(index.get_level_values(1)) if len(index) else []
    prices = price.tolist()
    rows_of: dict[str, list[int]] = {}
    for j, item in enumerate(items):
        rows_of.setdefault(item, []).append(j)
    negative = projected < 0
    lowest = projected.min(axis=1) if len(index) else np.zeros(0)
    first_negative = negative.argmax(axis=1) if len(index) else np.zeros(0, dtype=np.int64)
    for k in np.flatnonzero(negative.any(axis=1)).tolist():
        item, location = items[k], locations[k]
        first = int(first_negative[k])
        period = periods[first]
        qty = max(0.0, -float(lowest[k]))
        revenue = 0.0 if np.isnan(prices[k]) else qty * prices[k]
        if item in hours:
            add = (f"Add supply: release or expedite a production order for "
                   f"{_fmt(qty)} units of {item} at {location}, the first by {period} "
                   f"(needs {_fmt(qty * hours[item])} h at {centres[item]}).")
        else:
            add = (f"Add supply: place or expedite a purchase order for {_fmt(qty)} "
                   f"units of {item} at {location}, the first by {period}.")
        rows.append({
            "gap_type": "inventory", "period": period, "work_center": None,
            "item_no": item, "location_code": location, "hours_short": None,
            "volume_at_risk": qty, "revenue_at_risk": revenue,
            "spare_hours_before": None,
            "decision": (f"{item} at {location} goes negative in {period} "
                         f"({_fmt(float(projected[k, first]))}); up to {_fmt(qty)} "
                         f"units short in the horizon."),
            "option_1": add,
            "option_2": _reallocate(item, location, period, rows_of[item], locations,
                                    projected, first),
            "option_3": (f"Accept the shortfall: up to {_fmt(qty)} units unfilled, "
                         f"revenue {revenue:,.2f} at risk."),
        })
    out = pd.DataFrame(rows, columns=GAP_COLUMNS)
    if out.empty:
        return out
    out["_k"] = out["gap_type"].map({"capacity": 0, "inventory": 1})
    out["_p"] = out["period"].map(pos)
    out = out.sort_values(["_k", "_p", "work_center", "item_no", "location_code"],
                          na_position="first", kind="stable").drop(columns=["_k", "_p"])
    for col in ("hours_short", "spare_hours_before"):
        out[col] = pd.Series(none_list(out[col].astype(float)), index=out.index, dtype=object)
    return out.reset_index(drop=True)


def presop_stage(agg: dict[str, pd.DataFrame], plan: pd.DataFrame, settings: Settings,
                 supply: dict | None = None) -> dict[str, pd.DataFrame]:
    """Scenarios side by side (totals and by period) and the gaps that need a decision.
    ``supply``: what :func:`supply_stage` computed from the same plan (its capacity load
    and item × location arrays are reused where the horizon is the same)."""
    args = (plan, agg["items"], agg.get("routings"), agg.get("capacity"), agg["agg_sales"],
            agg.get("agg_supply_open"), settings.current,
            item_prices(agg["items"], agg.get("agg_item_mix")))

    def reused(horizon: int) -> dict:
        periods = horizon_periods(settings.current, horizon)
        if supply is None:
            return {}
        return {"arrays": supply["arrays"] if supply["periods"] == periods else None,
                "load": supply["load"] if supply["load_periods"] == periods else None}

    comparison = compare_scenarios(*args, horizon=settings.horizon,
                                             **reused(settings.horizon))
    return {
        "presop_scenarios": scenario_totals(comparison),
        "presop_scenario_periods": scenario_periods(comparison),
        "presop_gaps": gap_list(gaps(*args, **reused(12))),
    }


SCENARIO_MEASURES = (("volume", "Volume (units)"), ("revenue", "Revenue"),
                     ("cogs", "COGS"), ("margin", "Margin"), ("margin_pct", "Margin %"),
                     ("ending_inventory_qty", "Ending inventory (units)"),
                     ("ending_inventory_value", "Ending inventory (value at cost)"))


def scenario_totals(comparison: pd.DataFrame) -> pd.DataFrame:
    """``presop_scenarios``: one row per measure over the horizon; consensus, constrained
    supply, difference = constrained − consensus, difference % of the consensus."""
    total = comparison[comparison["period"] == TOTAL].set_index("scenario")
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
    rows = comparison[comparison["period"] != TOTAL]
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
