"""Forecast KPIs: accuracy (1 − WMAPE), bias, tracking signal, accuracy at lag k, FVA.

All are computed at the **item × location × period** grain: actuals A and forecasts F are
summed into those cells first (a sales budget is summed over its customers), then the
cells of the cut are combined. Cut by customer or salesperson, the cut's dimension joins
the grain (item × location × customer × period), since a forecast error of one customer
must not be cancelled by another's.

Without plan snapshots (``sop kpis`` on a bare source) A is invoiced revenue
(``sales_invoices.amount`` by posting month) and F the sales-budget amount — the seed's
case. With plan snapshots (archived by *Roll forward*), A is the invoiced quantity and F
the plan's quantity made k periods earlier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..periods import month_of_periods, parse_period
from .cuts import DimensionNotApplicable
from .facts import Facts

TRACKING_SIGNAL_LIMIT = 4.0
_GRAIN = ("item", "location")
_FORECAST_DIMS = ("item", "category", "location", "customer", "salesperson")


@dataclass(frozen=True)
class ForecastError:
    """Sums over the cells of a cut: Σ|A − F|, Σ A and Σ F."""

    abs_error: float
    actual: float
    forecast: float

    @property
    def accuracy(self) -> float | None:
        """``max(0, 1 − Σ|A − F| ÷ Σ A)``; no value when Σ A ≤ 0."""
        if not self.actual > 0:
            return None
        return max(0.0, 1.0 - self.abs_error / self.actual)

    @property
    def bias(self) -> float | None:
        """``Σ(F − A) ÷ Σ A`` (positive = over-forecast); no value when Σ A ≤ 0."""
        if not self.actual > 0:
            return None
        return (self.forecast - self.actual) / self.actual


def _keys(by: str | None) -> list[str]:
    if by is not None and by not in _FORECAST_DIMS:
        raise DimensionNotApplicable(f"forecast KPIs cannot be cut by {by!r}")
    keys = ["month", *_GRAIN]
    if by is not None and by not in keys:
        keys.append(by)
    return keys


def _frame(table, mask, keys, value_column, name) -> pd.DataFrame:
    data = {"month": table["month"][mask]}
    for key in keys[1:]:
        data[key] = np.asarray(table.dims[key])[mask]
    data[name] = table[value_column][mask]
    return pd.DataFrame(data)


def seed_cells(facts: Facts, months: np.ndarray, by: str | None) -> pd.DataFrame:
    """Cells (month, item, location[, by]) with A = invoiced amount, F = sales-budget amount."""
    keys = _keys(by)
    inv, bud = facts.invoices, facts.sales_budget
    a = _frame(inv, np.isin(inv["month"], months), keys, "amount", "actual")
    f = _frame(bud, np.isin(bud["month"], months), keys, "amount", "forecast")
    return _combine(a, f, keys)


def _combine(a: pd.DataFrame, f: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    a = a.groupby(keys, observed=True, sort=False)["actual"].sum()
    f = f.groupby(keys, observed=True, sort=False)["forecast"].sum()
    cells = pd.concat([a, f], axis=1).fillna(0.0).reset_index()
    if cells.empty:
        cells = pd.DataFrame({k: pd.Series(dtype=object) for k in keys}
                             | {"actual": pd.Series(dtype=float),
                                "forecast": pd.Series(dtype=float)})
    return cells


def _errors(cells: pd.DataFrame, by: str | None):
    cells = cells.assign(abs_error=(cells["actual"] - cells["forecast"]).abs())
    if by is None:
        return ForecastError(float(cells["abs_error"].sum()), float(cells["actual"].sum()),
                             float(cells["forecast"].sum()))
    grouped = cells.groupby(by, sort=True)[["abs_error", "actual", "forecast"]].sum()
    return _with_accuracy(grouped)


def _with_accuracy(grouped: pd.DataFrame) -> pd.DataFrame:
    act = grouped["actual"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(act > 0, np.maximum(0.0, 1 - grouped["abs_error"].to_numpy() / act), np.nan)
        bias = np.where(act > 0, (grouped["forecast"].to_numpy() - act) / act, np.nan)
    return grouped.assign(accuracy=acc, bias=bias)


def _grid(facts: Facts, first_month: int, n_months: int, by: str | None,
          data_only: bool = False):
    """Seed-case sums on the item × location × month grid of a window, by bincount.

    Returns (actual, forecast, rows, group) where the first three are arrays over the
    cells and ``group`` maps each cell to the code of ``by`` (None → all zeros), and the
    number of groups. Used for the dimensions that are a function of item × location.
    ``data_only``: ``rows`` counts only lines with a non-zero quantity or amount.
    """
    inv, bud = facts.invoices, facts.sales_budget
    items, locs = inv.dims["item"].categories, inv.dims["location"].categories
    n_loc = len(locs)
    size = len(items) * n_loc * n_months

    def cells(table):
        month = table["month"]
        if n_months == 1:
            mask = month == first_month
            code = table["cell"][mask]
        else:
            mask = (month >= first_month) & (month < first_month + n_months)
            code = table["cell"][mask] * n_months + (month[mask] - first_month)
        counted = (np.bincount(code, weights=_has_data(table)[mask], minlength=size)
                   if data_only else np.bincount(code, minlength=size))
        return (np.bincount(code, weights=table["amount"][mask], minlength=size), counted)

    actual, rows_a = cells(inv)
    forecast, rows_f = cells(bud)
    item_loc = np.arange(size) // n_months
    if by is None:
        group, n_groups, labels = np.zeros(size, dtype=np.int64), 1, None
    elif by == "item":
        group, labels = item_loc // n_loc, items
    elif by == "location":
        group, labels = item_loc % n_loc, locs
    else:  # category
        item_category = np.append(facts.item_category, len(inv.dims["category"].categories) - 1)
        group, labels = item_category[item_loc // n_loc], inv.dims["category"].categories
    if labels is not None:
        n_groups = len(labels)
    return actual, forecast, rows_a + rows_f, group, n_groups, labels


_GRID_DIMS = (None, "item", "category", "location")


def forecast_error(facts: Facts, period: str, *, by: str | None = None):
    """Forecast accuracy and bias of the period, seed's case (revenue vs sales budget).

    ``accuracy = max(0, 1 − Σ|A − F| ÷ Σ A)`` (1 − WMAPE) and ``bias = Σ(F − A) ÷ Σ A``
    over the item × location cells of the period; see the module docstring for A and F.
    Returns a :class:`ForecastError` (``.accuracy``, ``.bias``), or per ``by`` a DataFrame
    with columns abs_error, actual, forecast, accuracy, bias.
    """
    month = parse_period(period)
    if by not in _GRID_DIMS:
        return _errors(seed_cells(facts, np.array([month]), by), by)
    actual, forecast, rows, group, n_groups, labels = _grid(facts, month, 1, by)
    abs_error = np.abs(actual - forecast)
    if by is None:
        return ForecastError(float(abs_error.sum()), float(actual.sum()), float(forecast.sum()))
    present = np.bincount(group, weights=rows, minlength=n_groups) > 0
    frame = pd.DataFrame({
        "abs_error": np.bincount(group, weights=abs_error, minlength=n_groups),
        "actual": np.bincount(group, weights=actual, minlength=n_groups),
        "forecast": np.bincount(group, weights=forecast, minlength=n_groups),
    }, index=pd.Index(labels, name=by))
    return _with_accuracy(frame[present])


#: Fewest periods with data a tracking signal needs (fewer: no value).
TRACKING_SIGNAL_MIN_PERIODS = 3


def _has_data(table) -> np.ndarray:
    """Lines that are data for the tracking signal: a non-zero quantity or amount."""
    return (table["amount"] != 0) | (table["quantity"] != 0)


def _first_month(facts: Facts, end: int) -> int | None:
    """The earliest month ≤ ``end`` with an invoice or sales-budget line, or None."""
    found = [int(t["month"][t["month"] <= end].min()) for t in (facts.invoices,
             facts.sales_budget) if np.any(t["month"] <= end)]
    return min(found) if found else None


def tracking_signal(facts: Facts, period: str, *, periods: int = 6, by: str | None = None):
    """Tracking signal over the last ``periods`` periods *with data* up to ``period``.

    ``TS = Σ_t (A_t − F_t) ÷ MAD`` with ``MAD = (1/n) Σ_t |A_t − F_t|``, t over the last
    n periods ≤ ``period`` in which the cut has data (an invoice or sales-budget line with
    a non-zero quantity or amount), A_t and F_t the cut's totals of period t. Months
    without data — before the first data, or a gap — are not periods of the window (they
    are not errors of 0), so the window may reach further back than n months. Fewer than
    :data:`TRACKING_SIGNAL_MIN_PERIODS` such periods, or MAD = 0, gives no value. Beyond ±4
    the forecast is biased (:data:`TRACKING_SIGNAL_LIMIT`); positive = actuals above
    forecast (under-forecast). Returns a float or None, or per ``by`` a Series
    (NaN = none).
    """
    if periods < 1:
        raise ValueError("the tracking signal needs a window of at least 1 period")
    end = parse_period(period)
    if by is None and facts.month_errors is not None:
        # the whole business: its per-month errors are computed once per load
        first, err, had = facts.month_errors
        with_data = np.flatnonzero(had[:max(0, end - first + 1)])
        return _ts(pd.Series(err[with_data[-periods:]]))
    first = _first_month(facts, end)
    if first is None:
        return None if by is None else pd.Series(dtype=float, name="tracking_signal")
    n_months = end - first + 1
    if by not in _GRID_DIMS:
        keys = _keys(by)
        months = np.arange(first, end + 1)
        inv, bud = facts.invoices, facts.sales_budget
        a = _frame(inv, np.isin(inv["month"], months) & _has_data(inv), keys, "amount",
                   "actual")
        f = _frame(bud, np.isin(bud["month"], months) & _has_data(bud), keys, "amount",
                   "forecast")
        cells = _combine(a, f, keys)
        per_period = cells.groupby([by, "month"], sort=True)[["actual", "forecast"]].sum()
        err = (per_period["actual"] - per_period["forecast"]).to_frame("err")
        # each group's periods with data, latest first: keep the last n
        err["rank"] = err.groupby(level=0).cumcount(ascending=False)
        chosen = err[err["rank"] < periods]["err"]
        return chosen.groupby(level=0).apply(_ts).astype(float).rename("tracking_signal")
    actual, forecast, rows, group, n_groups, labels = _grid(facts, first, n_months, by,
                                                            data_only=True)
    month_of_cell = np.arange(len(actual)) % n_months
    key = group * n_months + month_of_cell
    err = np.bincount(key, weights=actual - forecast, minlength=n_groups * n_months)
    had = np.bincount(key, weights=rows, minlength=n_groups * n_months) > 0
    err, had = err.reshape(n_groups, n_months), had.reshape(n_groups, n_months)
    from_end = np.cumsum(had[:, ::-1], axis=1)[:, ::-1]  # periods with data from t on
    chosen = had & (from_end <= periods)
    n = chosen.sum(axis=1)
    total = np.where(chosen, err, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mad = np.where(chosen, np.abs(err), 0.0).sum(axis=1) / n
        ts = np.where((n >= TRACKING_SIGNAL_MIN_PERIODS) & (mad > 0), total / mad, np.nan)
    if by is None:
        return None if np.isnan(ts[0]) else float(ts[0])
    return pd.Series(ts, index=pd.Index(labels, name=by), name="tracking_signal")[n > 0]


def _ts(err: pd.Series) -> float | None:
    """Σ e ÷ mean |e| over the periods given; None below the minimum or with MAD 0."""
    if len(err) < TRACKING_SIGNAL_MIN_PERIODS:
        return None
    mad = float(err.abs().sum()) / len(err)
    if mad == 0:
        return None
    return float(err.sum()) / mad


# --------------------------------------------------------------------------- plan snapshots


def snapshot_cells(
    facts: Facts,
    snapshots: pd.DataFrame,
    period: str,
    lag: int,
    column: str,
    by: str | None,
    category_of: pd.Series,
) -> pd.DataFrame | None:
    """Cells of ``period`` with A = invoiced quantity and F = ``snapshots[column]`` of the
    plan archived ``lag`` periods earlier; None when that snapshot does not exist."""
    if by is not None and by not in ("item", "category", "location"):
        raise DimensionNotApplicable(f"accuracy at lag cannot be cut by {by!r}")
    keys = _keys(by)
    month = parse_period(period)
    snap_month = month_of_periods(snapshots["snapshot_period"])
    plan_month = month_of_periods(snapshots["period"])
    chosen = snapshots[(snap_month == month - lag) & (plan_month == month)]
    if chosen.empty:
        return None
    f = pd.DataFrame({"month": month, "item": chosen["item_no"].astype(str),
                      "location": chosen["location_code"].astype(str),
                      "forecast": chosen[column].astype(float)})
    if by == "category":
        f["category"] = f["item"].map(category_of).fillna("(none)")
    inv = facts.invoices
    a = _frame(inv, inv["month"] == month, keys, "quantity", "actual")
    for key in keys[1:]:
        a[key] = a[key].astype(str)
    return _combine(a, f, keys)


def accuracy_at_lag(
    facts: Facts,
    snapshots: pd.DataFrame,
    period: str,
    *,
    lag: int = 1,
    column: str = "quantity",
    by: str | None = None,
    category_of: pd.Series | None = None,
):
    """Forecast accuracy at lag k: actuals of ``period`` vs the plan made k periods earlier.

    Same formula as :func:`forecast_error` (``max(0, 1 − Σ|A − F| ÷ Σ A)`` at item ×
    location), with A = invoiced quantity and F = the plan snapshot whose snapshot period
    is ``period − lag``. No snapshot for that lag → None.
    """
    if lag < 0:
        raise ValueError("lag must be ≥ 0")
    cells = snapshot_cells(facts, snapshots, period, lag, column, by,
                           category_of if category_of is not None else pd.Series(dtype=object))
    if cells is None:
        return None
    return _errors(cells, by)


def forecast_value_added(
    facts: Facts,
    snapshots: pd.DataFrame,
    period: str,
    *,
    lag: int = 1,
    by: str | None = None,
    category_of: pd.Series | None = None,
):
    """Forecast value added = accuracy of the consensus − accuracy of the statistical baseline.

    Both at lag ``lag`` from the same plan snapshot (columns ``quantity`` = consensus and
    ``baseline_quantity``). Positive: the planners' overrides, events and commits improved
    on the statistical baseline. None when either accuracy has no value.
    """
    if "baseline_quantity" not in snapshots:
        return None
    kwargs = {"lag": lag, "by": by, "category_of": category_of}
    consensus = accuracy_at_lag(facts, snapshots, period, column="quantity", **kwargs)
    baseline = accuracy_at_lag(facts, snapshots, period, column="baseline_quantity", **kwargs)
    if consensus is None or baseline is None:
        return None
    if by is None:
        if consensus.accuracy is None or baseline.accuracy is None:
            return None
        return consensus.accuracy - baseline.accuracy
    return (consensus["accuracy"] - baseline["accuracy"]).rename("forecast_value_added")
