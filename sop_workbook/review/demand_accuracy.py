"""The demand review's tables, computed from the workbook's aggregates (not raw facts).

Inputs
------
- ``actuals``: invoiced quantity per item × location × period — the workbook's
  ``agg_sales`` (column ``invoiced_qty``) or any frame with item_no, location_code,
  period and ``quantity``; rows of the same cell are summed.
- ``snapshots``: ``plan_history`` as archived by *Roll forward* — snapshot_period,
  period, item_no, location_code, quantity (the consensus), baseline_quantity.

Definitions (domain.md, the same as :mod:`sop_workbook.kpi.forecast`)
--------------------------------------------------------------------
The forecast at **lag k** of period t is the snapshot whose snapshot_period is t − k,
rows with period t. Cells are item × location × period: A = Σ actual, F = Σ snapshot
quantity of the cell, a cell missing on one side counts 0 there. Over a set of cells:
``accuracy = max(0, 1 − Σ|A − F| ÷ Σ A)``, ``bias = Σ(F − A) ÷ Σ A`` (positive =
over-forecast), no value (None) when Σ A ≤ 0; **FVA** = accuracy of the consensus
(``quantity``) − accuracy of the baseline (``baseline_quantity``), same cells, None when
either is None. A period whose snapshot does not exist has no value at that lag.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..frames import months_of
from ..periods import format_period, parse_period

KEYS = ["item_no", "location_code"]
#: The lags the review's tables use (accuracy and bias at lag 1 and 3, FVA at lag 1): all
#: a refresh reads of the plan history.
LAGS = (1, 3)
#: The closed periods the accuracy table shows (the demand review's window).
WINDOW = 6


def _actual_cells(actuals: pd.DataFrame) -> pd.DataFrame:
    """month, item_no, location_code, actual (summed per cell)."""
    column = "quantity" if "quantity" in actuals else "invoiced_qty"
    a = pd.DataFrame({
        "month": months_of(actuals["period"]),
        "item_no": actuals["item_no"].astype(str).to_numpy(),
        "location_code": actuals["location_code"].astype(str).to_numpy(),
        "actual": pd.to_numeric(actuals[column], errors="coerce").fillna(0.0).to_numpy(),
    })
    return a.groupby(["month", *KEYS], as_index=False, sort=False)["actual"].sum()


def _snapshot_frame(snapshots: pd.DataFrame) -> pd.DataFrame:
    s = pd.DataFrame({
        "snap_month": months_of(snapshots["snapshot_period"]),
        "month": months_of(snapshots["period"]),
        "item_no": snapshots["item_no"].astype(str).to_numpy(),
        "location_code": snapshots["location_code"].astype(str).to_numpy(),
        "consensus": pd.to_numeric(snapshots["quantity"], errors="coerce").to_numpy(),
    })
    base = snapshots.get("baseline_quantity", np.nan)
    s["baseline"] = pd.to_numeric(pd.Series(base, index=snapshots.index),
                                  errors="coerce").to_numpy()
    return s


def _lag_cells(a: pd.DataFrame | Callable[[], pd.DataFrame], s: pd.DataFrame, month: int,
               lag: int) -> pd.DataFrame | None:
    """Cells of ``month`` with actual, consensus, baseline at ``lag``; None = no snapshot.
    ``a``: :func:`_actual_cells`, or a function giving it (called only when needed)."""
    chosen = s[(s["snap_month"] == month - lag) & (s["month"] == month)]
    if chosen.empty:
        return None
    if callable(a):
        a = a()
    f = chosen.groupby(KEYS, sort=False)[["consensus", "baseline"]].sum()  # NaN counts 0
    act = a[a["month"] == month].set_index(KEYS)["actual"]
    cells = pd.concat([act, f], axis=1).fillna(0.0)
    return cells.reset_index()


def _accuracy(abs_error: float, actual: float) -> float | None:
    return max(0.0, 1.0 - abs_error / actual) if actual > 0 else None


def _bias(forecast: float, actual: float) -> float | None:
    return (forecast - actual) / actual if actual > 0 else None


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def accuracy_trend(actuals: pd.DataFrame, snapshots: pd.DataFrame,
                   periods: list[str]) -> pd.DataFrame:
    """Per period: period, actual (Σ A of the period), accuracy_lag1, bias_lag1,
    accuracy_lag3, bias_lag3 (the consensus), baseline_accuracy_lag1 and fva_lag1
    (consensus − baseline accuracy at lag 1). None where the snapshot does not exist or
    Σ A ≤ 0. Equal to :func:`sop_workbook.kpi.forecast.accuracy_at_lag` and
    :func:`~sop_workbook.kpi.forecast.forecast_value_added` on the same data."""
    a = _actual_cells(actuals)
    s = _snapshot_frame(snapshots)
    rows = []
    for period in periods:
        month = parse_period(period)
        actual = float(a.loc[a["month"] == month, "actual"].sum())
        row = {"period": format_period(month), "actual": actual}
        for lag in LAGS:
            cells = _lag_cells(a, s, month, lag)
            acc = bias = base = None
            if cells is not None:
                total = float(cells["actual"].sum())
                err = float((cells["actual"] - cells["consensus"]).abs().sum())
                acc = _accuracy(err, total)
                bias = _bias(float(cells["consensus"].sum()), total)
                base = _accuracy(float((cells["actual"] - cells["baseline"]).abs().sum()),
                                 total)
            row[f"accuracy_lag{lag}"] = acc
            row[f"bias_lag{lag}"] = bias
            if lag == 1:
                row["baseline_accuracy_lag1"] = base
                row["fva_lag1"] = _diff(acc, base)
        rows.append(row)
    cols = ["period", "actual", "accuracy_lag1", "bias_lag1", "accuracy_lag3", "bias_lag3",
            "baseline_accuracy_lag1", "fva_lag1"]
    out = pd.DataFrame(rows, columns=cols)
    for c in cols[2:]:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


BY_ITEM_COLUMNS = ["item_no", "actual", "consensus", "baseline", "abs_error_consensus",
                   "abs_error_baseline", "accuracy_consensus", "accuracy_baseline", "fva",
                   "bias", "worse"]


def accuracy_by_item(actuals: pd.DataFrame, snapshots: pd.DataFrame, periods: list[str],
                     lag: int = 1, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """Accuracy per item over a window of closed ``periods`` at ``lag``.

    Errors are taken at the item × location × period cell and then summed into the item
    (so one location's over-forecast does not cancel another's under-forecast). Periods
    of the window without a snapshot at ``lag`` are left out entirely (their actuals
    too: they had no forecast to judge). Per item: actual = Σ A, consensus = Σ F_c,
    baseline = Σ F_b, abs_error_consensus = Σ|A − F_c|, abs_error_baseline = Σ|A − F_b|,
    accuracy_x = max(0, 1 − abs_error_x ÷ actual), fva = accuracy_consensus −
    accuracy_baseline, bias = (consensus − actual) ÷ actual, worse = the overrides,
    events and commits made it worse (accuracy_consensus < accuracy_baseline; None when
    either is None). Rows: items sorted by abs_error_consensus, largest first, then a
    ``TOTAL`` row computed from the sums of all cells (not an average of the items).
    With ``items`` (item_no, description, category) those two columns follow item_no.
    """
    a = functools.cache(lambda: _actual_cells(actuals))  # not needed without snapshots
    s = _snapshot_frame(snapshots)
    frames = []
    for period in periods:
        cells = _lag_cells(a, s, parse_period(period), lag)
        if cells is not None:
            frames.append(cells)
    sums = ["actual", "consensus", "baseline", "abs_error_consensus", "abs_error_baseline"]
    if frames:
        cells = pd.concat(frames, ignore_index=True)
    else:
        cells = pd.DataFrame({"item_no": pd.Series(dtype=object)}
                             | {c: pd.Series(dtype=float) for c in sums[:3]})
    cells["abs_error_consensus"] = (cells["actual"] - cells["consensus"]).abs()
    cells["abs_error_baseline"] = (cells["actual"] - cells["baseline"]).abs()
    per_item = cells.groupby("item_no", sort=True)[sums].sum().reset_index()
    per_item = per_item.sort_values(["abs_error_consensus", "item_no"],
                                    ascending=[False, True], kind="stable")
    total = pd.DataFrame([{"item_no": "TOTAL", **{c: float(cells[c].sum()) for c in sums}}])
    out = pd.concat([per_item, total], ignore_index=True)
    acc_c = [_accuracy(e, x) for e, x in zip(out["abs_error_consensus"], out["actual"],
                                             strict=True)]
    acc_b = [_accuracy(e, x) for e, x in zip(out["abs_error_baseline"], out["actual"],
                                             strict=True)]
    out["accuracy_consensus"] = pd.Series(acc_c, dtype=object)
    out["accuracy_baseline"] = pd.Series(acc_b, dtype=object)
    out["fva"] = pd.Series([_diff(c, b) for c, b in zip(acc_c, acc_b, strict=True)],
                           dtype=object)
    out["bias"] = pd.Series([_bias(f, x) for f, x in zip(out["consensus"], out["actual"],
                                                         strict=True)], dtype=object)
    out["worse"] = pd.Series([None if c is None or b is None else bool(c < b)
                              for c, b in zip(acc_c, acc_b, strict=True)], dtype=object)
    out = out[BY_ITEM_COLUMNS]
    if items is not None:
        info = items.assign(item_no=items["item_no"].astype(str)).set_index("item_no")[
            ["description", "category"]]
        out = out.join(info, on="item_no")
        out = out[["item_no", "description", "category", *BY_ITEM_COLUMNS[1:]]]
    return out.reset_index(drop=True)


def _by_category(frame: pd.DataFrame, column: str, category_of: pd.Series,
                 months: list[int], name: str) -> pd.DataFrame:
    if column not in frame:
        column = "quantity"
    f = pd.DataFrame({
        "month": months_of(frame["period"]),
        "category": frame["item_no"].astype(str).map(category_of).fillna("(none)").to_numpy(),
        name: pd.to_numeric(frame[column], errors="coerce").fillna(0.0).to_numpy(),
    })
    f = f[f["month"].isin(months)]
    return f.groupby(["category", "month"])[name].sum()


def category_series(history_shipped: pd.DataFrame, history_invoiced: pd.DataFrame,
                    plan: pd.DataFrame, items: pd.DataFrame, current: str,
                    months_back: int = 24) -> pd.DataFrame:
    """Long table for the chart per category: category, period, shipped_qty,
    invoiced_qty, baseline, consensus.

    History periods are the ``months_back`` periods before ``current``: shipped_qty =
    Σ ``shipped_qty`` (or ``quantity``) of ``history_shipped`` and invoiced_qty = Σ
    ``invoiced_qty`` (or ``quantity``) of ``history_invoiced`` over the category's items
    (0 when none), baseline and consensus None. Plan periods are the periods of ``plan``
    (:func:`sop_workbook.review.demand_plan.consensus` output) from ``current`` on: baseline and
    consensus summed over the category's item × location cells, the history columns None
    (so chart lines stop and start at the boundary). Every category of ``items`` gets every
    period; items missing from ``items`` count under ``(none)``. Sorted by category,
    period.
    """
    cur = parse_period(current)
    category_of = items.assign(item_no=items["item_no"].astype(str)).set_index("item_no")[
        "category"].astype(str)
    hist_months = list(range(cur - months_back, cur))
    plan_months = sorted({int(m) for m in months_of(plan["period"]) if m >= cur}) \
        if len(plan) else []
    shipped = _by_category(history_shipped, "shipped_qty", category_of, hist_months,
                           "shipped_qty")
    invoiced = _by_category(history_invoiced, "invoiced_qty", category_of, hist_months,
                            "invoiced_qty")
    planned = pd.concat([_by_category(plan, layer, category_of, plan_months, layer)
                         for layer in ("baseline", "consensus")], axis=1)
    categories = sorted(set(category_of) | set(shipped.index.get_level_values(0))
                        | set(invoiced.index.get_level_values(0))
                        | set(planned.index.get_level_values(0)))
    hist_index = pd.MultiIndex.from_product([categories, hist_months],
                                            names=["category", "month"])
    hist = pd.concat([shipped, invoiced], axis=1).reindex(hist_index).fillna(0.0)
    hist = hist.reindex(columns=["shipped_qty", "invoiced_qty"], fill_value=0.0)
    plan_index = pd.MultiIndex.from_product([categories, plan_months],
                                            names=["category", "month"])
    fut = planned.reindex(plan_index).fillna(0.0)
    fut = fut.reindex(columns=["baseline", "consensus"], fill_value=0.0)
    out = pd.concat([hist, fut]).reset_index().sort_values(["category", "month"],
                                                           kind="stable")
    out["period"] = [format_period(int(m)) for m in out["month"]]
    cols = ["category", "period", "shipped_qty", "invoiced_qty", "baseline", "consensus"]
    out = out[cols].reset_index(drop=True)
    for c in cols[2:]:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out
