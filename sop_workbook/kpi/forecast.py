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


def forecast_error(facts: Facts, period: str, *, by: str | None = None):
    """Forecast accuracy and bias of the period, seed's case (revenue vs sales budget).

    ``accuracy = max(0, 1 − Σ|A − F| ÷ Σ A)`` (1 − WMAPE) and ``bias = Σ(F − A) ÷ Σ A``
    over the item × location cells of the period; see the module docstring for A and F.
    Returns a :class:`ForecastError` (``.accuracy``, ``.bias``), or per ``by`` a DataFrame
    with columns abs_error, actual, forecast, accuracy, bias.
    """
    cells = seed_cells(facts, np.array([parse_period(period)]), by)
    return _errors(cells, by)


def tracking_signal(facts: Facts, period: str, *, periods: int = 6, by: str | None = None):
    """Tracking signal over the last ``periods`` periods ending with ``period``.

    ``TS = Σ_t (A_t − F_t) ÷ MAD`` with ``MAD = (1/n) Σ_t |A_t − F_t|``, where A_t and F_t
    are the cut's totals of period t and n counts the periods of the window that have any
    actual or forecast. Beyond ±4 the forecast is biased (:data:`TRACKING_SIGNAL_LIMIT`);
    positive = actuals above forecast (under-forecast). MAD = 0 gives no value.
    Returns a float or None, or per ``by`` a Series.
    """
    if periods < 1:
        raise ValueError("the tracking signal needs a window of at least 1 period")
    end = parse_period(period)
    months = np.arange(end - periods + 1, end + 1)
    cells = seed_cells(facts, months, by)
    group = ["month"] if by is None else [by, "month"]
    per_period = cells.groupby(group, sort=True)[["actual", "forecast"]].sum()
    err = per_period["actual"] - per_period["forecast"]
    if by is None:
        return _ts(err)
    return err.groupby(level=0).apply(_ts).astype(float).rename("tracking_signal")


def _ts(err: pd.Series) -> float | None:
    n = len(err)
    mad = float(err.abs().sum()) / n if n else 0.0
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
