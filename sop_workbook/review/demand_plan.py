"""The rolling 12-month demand plan: baseline, overrides, events, commits, consensus, roll.

Pure functions on DataFrames. The plan covers ``horizon`` periods starting at the
workbook's current period. Demand history is the invoiced quantity per item × location ×
period (:func:`demand_history`, or the workbook's ``agg_sales.invoiced_qty``).

Layers (per item × location × plan period; each is kept visible in the Demand sheet)
-------------------------------------------------------------------------------------
- **baseline** (:func:`statistical_baseline`): per item × location, the forecast of
  :func:`sop_workbook.review.forecasting.select_and_forecast` (seasonal naive, exponential
  smoothing with and without damped trend on the seasonally adjusted history, Theta, a
  combination, Croston-SBA and TSB for intermittent series; the mean of the two with the
  smallest rolling-origin backtest error over the plan horizon — the rules are in that
  module's docstring) on the last ``months`` (36) periods before the current one. A
  series starts at its first period with a history row; the model(s) are named in
  ``model`` and their backtest error in ``backtest_mae`` / ``backtest_error``.
  Baselines are ≥ 0.
- **override**: the planners' quantities (table ``plan_overrides``), summed per cell.
- **events** (:func:`event_uplift`): marketing events; per cell
  ``Σ_events baseline × uplift_pct + share × uplift_units``.
- **commits** (:func:`opportunity_commits`): ``commit_qty + weighted_qty`` of the sales
  pipeline on the item's main location.
- **consensus** = ``max(0, baseline + override + events + commits)``.

Roll forward (:func:`roll_forward`): snapshot of the plan as it stood (consensus as
``quantity``, baseline as ``baseline_quantity``, for accuracy at lag), the current period
advances by one, overrides on periods still in the horizon are kept, and the new last
period is seeded from the baseline. Rolling to the period the plan is at changes nothing.
"""

from __future__ import annotations

import datetime as dt
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import Problem, SopError
from ..frames import blank, cell_text, months_of
from ..kpi import Facts
from ..periods import format_period, parse_period, shift_period
from . import forecasting

KEYS = ["item_no", "location_code"]
MODELS = forecasting.MODELS
LAYERS = ["baseline", "override", "events", "commits", "consensus"]
EVENT_KINDS = ("campaign", "spiff", "seasonality", "launch")
EVENT_COLUMNS = ["event", "kind", "item_no", "category", "location_code", "period_from",
                 "period_to", "uplift_pct", "uplift_units"]


class TableInputError(SopError):
    """Invalid rows of a planner's input table; ``problems`` locate each by table, row
    (1 = the first row below the header) and column, for mapping to sheet!cell."""

    def __init__(self, table: str, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        n = len(self.problems)
        super().__init__(f"{n} invalid row{'s' * (n != 1)} in table {table}",
                         "\n".join(str(p) for p in self.problems))


def demand_history(facts: Facts) -> pd.DataFrame:
    """Invoiced quantity per item × location × period (the run-rate history)."""
    inv = facts.invoices
    frame = pd.DataFrame({
        "item_no": np.asarray(inv.dims["item"]), "location_code": np.asarray(
            inv.dims["location"]), "month": inv["month"], "quantity": inv["quantity"]})
    out = frame.groupby(["item_no", "location_code", "month"], sort=True)["quantity"].sum()
    out = out.reset_index()
    out["period"] = [format_period(int(m)) for m in out["month"]]
    return out[["item_no", "location_code", "period", "quantity"]]


def plan_periods(current_period: str, horizon: int = 12) -> list[str]:
    return [shift_period(current_period, i) for i in range(horizon)]


# --------------------------------------------------------------------------- baseline


def history_matrix(history: pd.DataFrame, current_period: str, months: int = 36):
    """History as the (series × months) array the models take.

    Returns ``(keys, y, start)``: ``keys`` a DataFrame item_no, location_code (one row per
    series, sorted), ``y`` the quantities of the ``months`` periods before
    ``current_period`` (oldest first, 0 where no row), ``start`` the column of each
    series' first history row (0 if it started before the window). Rows at or after the
    current period are ignored; a series whose rows are all older than the window still
    gets a row of zeros (its demand stopped).
    """
    current = parse_period(current_period)
    first = current - months
    h = history[[*KEYS, "period", "quantity"]].copy()
    h["month"] = months_of(h["period"])
    h = h[(h["month"] >= 0) & (h["month"] < current)]
    h["item_no"] = h["item_no"].astype(str)
    h["location_code"] = h["location_code"].astype(str)
    grouped = h.groupby(KEYS, sort=True)
    series = grouped.ngroup().to_numpy()
    keys = grouped.size().index.to_frame(index=False)[KEYS]
    y = np.zeros((len(keys), months))
    col = h["month"].to_numpy() - first
    inside = col >= 0
    qty = pd.to_numeric(h["quantity"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    np.add.at(y, (series[inside], col[inside]), qty[inside])
    start = np.clip(grouped["month"].min().to_numpy() - first, 0, months).astype(np.int64)
    return keys, y, start


def statistical_baseline(history: pd.DataFrame, current_period: str, horizon: int = 12,
                         origins=forecasting.ORIGINS, months: int = 36) -> pd.DataFrame:
    """Baseline per item × location × plan period: columns item_no, location_code, period,
    baseline, model, backtest_mae (the chosen model's mean absolute error over the
    rolling-origin backtest, NaN where not backtested) and backtest_error (that MAE ÷
    the mean demand of the backtested periods). See the module docstring and
    :mod:`sop_workbook.review.forecasting`."""
    keys, y, start = history_matrix(history, current_period, months)
    cols = [*KEYS, "period", "baseline", "model", "backtest_mae", "backtest_error"]
    if keys.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in (*KEYS, "period", "model")
                                          else float) for c in cols})
    sel = forecasting.select_and_forecast(y, horizon, start, origins=origins)
    periods = plan_periods(current_period, horizon)
    out = pd.DataFrame({
        "item_no": np.repeat(keys["item_no"].to_numpy(), horizon),
        "location_code": np.repeat(keys["location_code"].to_numpy(), horizon),
        "period": np.tile(periods, len(keys)),
        "baseline": np.maximum(sel.forecast, 0.0).ravel(),
        "model": np.repeat(sel.model, horizon),
        "backtest_mae": np.repeat(sel.error, horizon),
        "backtest_error": np.repeat(sel.relative_error, horizon),
    })
    return out[cols]


# --------------------------------------------------------------------------- events


def _period_cell(value) -> int:
    """A period cell: ``YYYY-MM`` text, or a date (Excel turns typed 2026-11 into one)."""
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.year * 12 + value.month - 1
    return parse_period(str(value).strip())


def _number_cell(value) -> float:
    """Blank → 0; a number (not a bool) → float; anything else raises ValueError."""
    if blank(value):
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (numbers.Number, str)):
        raise ValueError
    out = float(value)
    if not np.isfinite(out):
        raise ValueError
    return out


def validate_events(events: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Checked events, one row per input row: columns row (1 = first row below the header),
    event, kind, item_no, category, location_code, month_from, month_to (month indexes),
    uplift_pct, uplift_units. Problems raise :class:`TableInputError` (table ``events``)
    naming every bad row and column: a missing column, a kind outside campaign / spiff /
    seasonality / launch, a period that is not YYYY-MM (``period_from`` is required; a
    blank ``period_to`` = ``period_from``; to before from), an uplift that is not a number
    (blank = 0) or ``uplift_pct`` < −1 (below −100 %), an ``item_no`` or ``category``
    unknown to ``items``, or an item whose category differs from the row's category."""
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise TableInputError("events", [Problem("events", None, c, "column is missing")
                                         for c in missing])
    category_of = items.assign(item_no=items["item_no"].astype(str)).set_index("item_no")[
        "category"].astype(str)
    categories = set(category_of)
    problems, rows = [], []
    for n, rec in enumerate(events[EVENT_COLUMNS].itertuples(index=False), start=1):
        rec = rec._asdict()

        def bad(column: str, message: str, n=n) -> None:
            problems.append(Problem("events", n, column, message))

        kind = cell_text(rec["kind"]).lower()
        if kind not in EVENT_KINDS:
            bad("kind", f"kind {rec['kind']!r} is not one of {', '.join(EVENT_KINDS)}")
        months = {}
        for col in ("period_from", "period_to"):
            value = rec[col]
            if blank(value):
                if col == "period_from":
                    bad(col, "period_from is empty")
                continue
            try:
                months[col] = _period_cell(value)
            except (SopError, AttributeError):
                bad(col, f"{col} {value!r} is not YYYY-MM")
        if "period_from" in months and "period_to" in months \
                and months["period_to"] < months["period_from"]:
            bad("period_to", "period_to is before period_from")
        values = {}
        for col in ("uplift_pct", "uplift_units"):
            try:
                values[col] = _number_cell(rec[col])
            except (TypeError, ValueError):
                bad(col, f"{col} {rec[col]!r} is not a number")
        if values.get("uplift_pct", 0.0) < -1:
            bad("uplift_pct", f"uplift_pct {rec['uplift_pct']!r} is below −100 % (a "
                "percentage is stored as a fraction: 0.1 = 10 %)")
        item, category = cell_text(rec["item_no"]), cell_text(rec["category"])
        if item and item not in category_of.index:
            bad("item_no", f"item {item!r} is not in the items table")
        elif item and category and category_of[item] != category:
            bad("category", f"item {item!r} is in category {category_of[item]!r}, not "
                f"{category!r}")
        if category and category not in categories:
            bad("category", f"category {category!r} is not in the items table")
        rows.append({"row": n, "event": cell_text(rec["event"]), "kind": kind, "item_no": item,
                     "category": category, "location_code": cell_text(rec["location_code"]),
                     "month_from": months.get("period_from", -1),
                     "month_to": months.get("period_to", months.get("period_from", -1)),
                     "uplift_pct": values.get("uplift_pct", 0.0),
                     "uplift_units": values.get("uplift_units", 0.0)})
    if problems:
        raise TableInputError("events", problems)
    return pd.DataFrame(rows, columns=["row", "event", "kind", "item_no", "category",
                                       "location_code", "month_from", "month_to",
                                       "uplift_pct", "uplift_units"])


def event_uplift(baseline: pd.DataFrame, events: pd.DataFrame,
                 items: pd.DataFrame) -> pd.DataFrame:
    """Uplift of the marketing events per item × location × plan period.

    ``events`` is the workbook's events table (:data:`EVENT_COLUMNS`; checked by
    :func:`validate_events`). An event row applies to every period from ``period_from``
    to ``period_to`` (inclusive) that is in the plan (the periods of ``baseline``; others
    are ignored) and to the **affected cells** of each such period: the item × location
    cells of ``baseline`` whose item is ``item_no`` (blank: every item of ``category``;
    both blank: every item) and whose location is ``location_code`` (blank: all). For a
    new item (no baseline cell yet, e.g. a launch) the row must name both ``item_no`` and
    ``location_code``; the cell is then created with baseline 0.

    Per affected cell c of period t:
    ``uplift = baseline_c × uplift_pct + uplift_units × share_c``, with
    ``share_c = baseline_c ÷ Σ_affected baseline`` (of that period), or ``1 ÷ (number of
    affected cells)`` when that sum is 0. Several events on a cell add up. An event in the
    plan horizon with uplift_units ≠ 0 that affects no cell raises
    :class:`TableInputError` (its units would be lost).

    Returns item_no, location_code, period, events (cells with no event are omitted).
    """
    checked = validate_events(events, items)
    out_cols = [*KEYS, "period", "events"]
    if checked.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "events" else object)
                             for c in out_cols})
    base = baseline[[*KEYS, "period", "baseline"]].copy()
    base["item_no"] = base["item_no"].astype(str)
    base["location_code"] = base["location_code"].astype(str)
    base["month"] = months_of(base["period"])
    base["baseline"] = pd.to_numeric(base["baseline"], errors="coerce").fillna(0.0)
    plan_months = sorted(set(base["month"]))
    month_period = dict(zip(base["month"], base["period"], strict=False))
    category_of = items.assign(item_no=items["item_no"].astype(str)).set_index("item_no")[
        "category"].astype(str)
    base["category"] = base["item_no"].map(category_of).fillna("")
    pieces, problems = [], []
    for ev in checked.itertuples(index=False):
        months = [m for m in plan_months if ev.month_from <= m <= ev.month_to]
        if not months:
            continue
        mask = base["month"].isin(months).to_numpy().copy()
        if ev.item_no:
            mask &= (base["item_no"] == ev.item_no).to_numpy()
        elif ev.category:
            mask &= (base["category"] == ev.category).to_numpy()
        if ev.location_code:
            mask &= (base["location_code"] == ev.location_code).to_numpy()
        cells = base.loc[mask, [*KEYS, "month", "baseline"]]
        if ev.item_no and ev.location_code:
            have = set(cells["month"])
            new = [m for m in months if m not in have]
            if new:
                cells = pd.concat([cells, pd.DataFrame({
                    "item_no": ev.item_no, "location_code": ev.location_code,
                    "month": new, "baseline": 0.0})], ignore_index=True)
        if ev.uplift_units != 0:
            empty = [m for m in months if m not in set(cells["month"])]
            if empty:
                problems.append(Problem(
                    "events", ev.row, "uplift_units",
                    f"event {ev.event!r} affects no item × location in "
                    f"{format_period(empty[0])} (name item_no and location_code for a new "
                    "item)"))
                continue
        total = cells.groupby("month")["baseline"].transform("sum")
        count = cells.groupby("month")["baseline"].transform("size")
        share = np.where(total > 0, cells["baseline"] / total.where(total > 0, 1.0),
                         1.0 / count)
        pieces.append(cells.assign(
            events=cells["baseline"] * ev.uplift_pct + ev.uplift_units * share)[
            [*KEYS, "month", "events"]])
    if problems:
        raise TableInputError("events", problems)
    if not pieces:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "events" else object)
                             for c in out_cols})
    out = pd.concat(pieces, ignore_index=True).groupby([*KEYS, "month"], sort=True,
                                                       as_index=False)["events"].sum()
    out["period"] = out["month"].map(month_period)
    return out[out_cols].reset_index(drop=True)


# --------------------------------------------------------------------------- commits


def opportunity_commits(pipeline: pd.DataFrame, main_location: pd.Series,
                        periods: list[str], default_location: str | None = None
                        ) -> pd.DataFrame:
    """Opportunity commits per item × location × plan period.

    ``pipeline`` is ``agg_pipeline`` (period × item_no with ``commit_qty`` — committed
    opportunities, in full — and ``weighted_qty`` — other open ones, quantity ×
    probability). Per item and period: ``commits = Σ commit_qty + Σ weighted_qty`` (blank
    = 0), placed on ``main_location[item_no]``; an item without a main location (no
    invoiced history) goes to ``default_location``, and with none given raises SopError
    naming the items. Periods not in ``periods`` are dropped.

    Returns item_no, location_code, period, commits (rows with commits 0 omitted).
    """
    cols = [*KEYS, "period", "commits"]
    empty = pd.DataFrame({c: pd.Series(dtype=float if c == "commits" else object)
                          for c in cols})
    if pipeline.empty:
        return empty
    p = pd.DataFrame({"item_no": pipeline["item_no"].astype(str).str.strip(),
                      "period": pipeline["period"].astype(str).str.strip()})
    qty = 0.0
    for col in ("commit_qty", "weighted_qty"):
        qty = qty + pd.to_numeric(pipeline[col], errors="coerce").fillna(0.0)
    p["commits"] = qty.to_numpy(dtype=float)
    p = p[p["period"].isin(list(periods))]
    p = p[p["commits"] != 0]
    if p.empty:
        return empty
    main = main_location.copy()
    main.index = main.index.astype(str)
    p["location_code"] = p["item_no"].map(main.astype(str))
    lost = p["location_code"].isna()
    if lost.any():
        if default_location is None:
            names = ", ".join(sorted(set(p.loc[lost, "item_no"])))
            raise SopError("opportunity commits for items with no main location",
                           f"items {names} have pipeline quantities in the plan horizon but "
                           "no invoiced history to place them on a location")
        p.loc[lost, "location_code"] = default_location
    out = p.groupby([*KEYS, "period"], sort=True, as_index=False)["commits"].sum()
    return out[cols]


# --------------------------------------------------------------------------- consensus


def _layer(frame: pd.DataFrame | None, value: str, name: str) -> pd.Series:
    if frame is None or len(frame) == 0:
        return pd.Series(dtype=float, name=name,
                         index=pd.MultiIndex.from_tuples([], names=[*KEYS, "period"]))
    f = frame[[*KEYS, "period"]].astype(str).assign(
        **{name: pd.to_numeric(frame[value], errors="coerce").fillna(0.0).to_numpy()})
    return f.groupby([*KEYS, "period"])[name].sum()


def consensus(baseline: pd.DataFrame, overrides: pd.DataFrame,
              events: pd.DataFrame | None = None, commits: pd.DataFrame | None = None,
              periods: list[str] | None = None) -> pd.DataFrame:
    """Per item × location × plan period: baseline, override, events, commits and
    ``consensus = max(0, baseline + override + events + commits)`` (each layer kept; a
    missing layer is 0). Cells come from any layer (an override or event can plan an item
    without baseline); only ``periods`` (default: the baseline's periods) are kept.
    Overrides are summed per cell (column ``quantity``)."""
    base = baseline.copy()
    base[[*KEYS, "period"]] = base[[*KEYS, "period"]].astype(str)
    layers = [
        _layer(base, "baseline", "baseline"),
        _layer(overrides, "quantity", "override"),
        _layer(events, "events", "events"),
        _layer(commits, "commits", "commits"),
    ]
    plan = pd.concat(layers, axis=1).fillna(0.0)
    keep = periods if periods is not None else base["period"].unique()
    plan = plan[plan.index.get_level_values("period").isin(list(keep))].sort_index()
    plan["consensus"] = (plan["baseline"] + plan["override"] + plan["events"]
                         + plan["commits"]).clip(lower=0.0)
    return plan.reset_index()[[*KEYS, "period", *LAYERS]]


def plan_grid(plan: pd.DataFrame, periods: list[str], items: pd.DataFrame) -> pd.DataFrame:
    """The Demand sheet's plan table: one row per item × location × layer (in the order
    baseline, override, events, commits, consensus), columns item_no, description,
    category, location_code, layer, p01..p12 (a layer missing from ``plan`` shows 0)."""
    plan = plan.copy()
    for layer in LAYERS:
        if layer not in plan:
            plan[layer] = 0.0
    slots = [f"p{i + 1:02d}" for i in range(len(periods))]
    cols = ["item_no", "description", "category", "location_code", "layer", *slots]
    long = plan.melt(id_vars=[*KEYS, "period"], value_vars=LAYERS, var_name="layer")
    wide = long.pivot_table(index=[*KEYS, "layer"], columns="period", values="value",
                            aggfunc="sum", fill_value=0.0, observed=False)
    wide = wide.reindex(columns=periods, fill_value=0.0)
    wide.columns = slots
    wide = wide.reset_index()
    if wide.empty:
        return pd.DataFrame(columns=cols)
    wide["layer"] = pd.Categorical(wide["layer"], LAYERS)
    info = items.assign(item_no=items["item_no"].astype(str)).set_index("item_no")[
        ["description", "category"]]
    wide = wide.join(info, on="item_no")
    wide = wide.sort_values(["category", "item_no", "location_code", "layer"])
    wide["layer"] = wide["layer"].astype(str)
    return wide[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- roll forward


@dataclass
class RollResult:
    current_period: str
    snapshot: pd.DataFrame  # rows appended to the plan history
    overrides: pd.DataFrame  # overrides kept
    rolled: int  # periods advanced (0 = nothing changed)


def roll_forward(plan: pd.DataFrame, overrides: pd.DataFrame, current_period: str,
                 to_period: str | None = None) -> RollResult:
    """Advance the plan from ``current_period`` to ``to_period`` (default: one period).

    Snapshots the plan as it stood — columns snapshot_period (= the period the workbook
    was at), period, item_no, location_code, quantity (= consensus), baseline_quantity —
    and drops overrides on the periods that leave the horizon. ``to_period`` equal to the
    current period changes nothing; an earlier one is an error (``sop undo`` restores the
    backup; ``sop new --period`` starts a workbook at another period).
    """
    current = parse_period(current_period)
    target = current + 1 if to_period is None else parse_period(to_period)
    if target < current:
        raise ValueError(f"cannot roll back from {current_period} to {to_period}: roll "
                         "forward only moves forward (each roll archives the plan of its "
                         "month). Undo the last roll with sop undo WORKBOOK; start a "
                         f"workbook at {to_period} with sop new WORKBOOK --period "
                         f"{to_period}")
    snapshots = []
    if target > current and not plan.empty:
        snap = plan.rename(columns={"consensus": "quantity",
                                    "baseline": "baseline_quantity"})
        snap = snap[[*KEYS, "period", "quantity", "baseline_quantity"]].copy()
        snap.insert(0, "snapshot_period", current_period)
        snapshots.append(snap)
    kept = overrides
    if target > current and not overrides.empty:
        periods = overrides["period"].astype(str)
        kept = overrides[periods.map(lambda p: _month_or_none(p)).ge(target).to_numpy()]
    snapshot = (pd.concat(snapshots, ignore_index=True) if snapshots else
                pd.DataFrame(columns=["snapshot_period", *KEYS, "period", "quantity",
                                      "baseline_quantity"]))
    snapshot = snapshot[["snapshot_period", "period", *KEYS, "quantity", "baseline_quantity"]]
    return RollResult(format_period(target), snapshot, kept.reset_index(drop=True),
                      target - current)


def _month_or_none(text: str) -> float:
    try:
        return parse_period(text)
    except Exception:
        return np.inf  # an unreadable period is kept for the planner to fix, not dropped
