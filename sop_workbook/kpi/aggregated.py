"""KPIs from the workbook's aggregate tables (:mod:`sop_workbook.aggregates`).

What the UDFs in cells call: each function takes an aggregate table (a DataFrame as read
from the Excel table), a period and optionally a dimension and member, and returns the
same figure as the engine in :mod:`sop_workbook.kpi` for that cut (tests check both paths
agree). Each ratio is Σ numerator ÷ Σ denominator over the selected rows; no rows or a
zero denominator gives ``None``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import SopError
from ..periods import days_in_period, format_period, parse_period

#: dimension name → aggregate column
DIMENSION_COLUMNS = {
    "item": "item_no",
    "category": "category",
    "location": "location_code",
    "customer": "customer_no",
    "salesperson": "salesperson",
    "vendor": "vendor_no",
    "work_center": "work_center",
}


def select(table: pd.DataFrame, periods: str | list[str] | None, dimension: str | None = None,
           member: str | None = None) -> pd.DataFrame:
    """Rows of ``table`` in ``periods`` whose ``dimension`` equals ``member``."""
    mask = np.ones(len(table), dtype=bool)
    if periods is not None:
        wanted = [periods] if isinstance(periods, str) else list(periods)
        mask &= table["period"].astype(str).isin(wanted).to_numpy()
    if dimension:
        column = DIMENSION_COLUMNS.get(dimension.strip().lower())
        if column is None:
            raise SopError(f"unknown dimension {dimension!r}",
                           f"use one of {', '.join(DIMENSION_COLUMNS)}")
        if column not in table:
            raise SopError(f"this KPI cannot be cut by {dimension!r}")
        if member is None or str(member) == "":
            raise SopError(f"dimension {dimension!r} needs a member (e.g. an item number)")
        mask &= table[column].astype(str).eq(str(member)).to_numpy()
    return table[mask]


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 or not np.isfinite(den) else float(num) / float(den)


def _sum(rows: pd.DataFrame, column: str) -> float:
    return float(pd.to_numeric(rows[column], errors="coerce").fillna(0).sum())


def sales_otd(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ otd_on_time ÷ Σ otd_lines (shipment lines of the period)."""
    rows = select(agg, period, dimension, member)
    return _ratio(_sum(rows, "otd_on_time"), _sum(rows, "otd_lines"))


def fill_rate(agg: pd.DataFrame, period: str, dimension=None, member=None, level="line"):
    """line: Σ fill_lines_filled ÷ Σ fill_lines_due; unit: Σ fill_qty_on_time ÷ Σ fill_qty_due.
    (The order level is not additive over items and is not held in the aggregates.)"""
    rows = select(agg, period, dimension, member)
    if level == "line":
        return _ratio(_sum(rows, "fill_lines_filled"), _sum(rows, "fill_lines_due"))
    if level == "unit":
        return _ratio(_sum(rows, "fill_qty_on_time"), _sum(rows, "fill_qty_due"))
    raise SopError(f"fill-rate level {level!r} is not available in the workbook",
                   "use 'line' or 'unit'")


def vendor_otd(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ receipts_on_time ÷ Σ receipt_lines (receipt lines of the period)."""
    rows = select(agg, period, dimension, member)
    return _ratio(_sum(rows, "receipts_on_time"), _sum(rows, "receipt_lines"))


def schedule_attainment(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ attained_qty ÷ Σ planned_qty (production orders due in the period)."""
    rows = select(agg, period, dimension, member)
    return _ratio(_sum(rows, "attained_qty"), _sum(rows, "planned_qty"))


def inventory_turns(agg: pd.DataFrame, period: str, dimension=None, member=None, months=1):
    """COGS of the ``months`` periods ending at ``period`` × 12 / months ÷ mean of the
    period-end inventory values end(m0)…end(mn). A month-end counts when the table holds
    inventory for that period (any row with an on-hand quantity or value)."""
    end = parse_period(period)
    window = [format_period(m) for m in range(end - months + 1, end + 1)]
    ends = [format_period(m) for m in range(end - months, end + 1)]
    stocked = agg[(agg["on_hand_qty"] != 0) | (agg["inventory_value"] != 0)]
    known = sorted(set(stocked["period"].astype(str)) & set(ends))
    cogs = _sum(select(agg, window, dimension, member), "cogs") * 12 / months
    if not known:
        return None
    avg = _sum(select(agg, known, dimension, member), "inventory_value") / len(known)
    return _ratio(cogs, avg)


def days_of_supply(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ on_hand_qty at period end ÷ (Σ shipped_qty ÷ days in the period)."""
    rows = select(agg, period, dimension, member)
    stocked = agg[(agg["on_hand_qty"] != 0) | (agg["inventory_value"] != 0)]
    if not (stocked["period"].astype(str) == period).any():
        return None
    return _ratio(_sum(rows, "on_hand_qty"), _sum(rows, "shipped_qty") / days_in_period(period))


def forecast_accuracy(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """max(0, 1 − Σ forecast_abs_error ÷ Σ invoiced_amount)."""
    rows = select(agg, period, dimension, member)
    actual = _sum(rows, "invoiced_amount")
    if not actual > 0:
        return None
    return max(0.0, 1.0 - _sum(rows, "forecast_abs_error") / actual)


def forecast_bias(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """(Σ budget_amount − Σ invoiced_amount) ÷ Σ invoiced_amount."""
    rows = select(agg, period, dimension, member)
    actual = _sum(rows, "invoiced_amount")
    if not actual > 0:
        return None
    return (_sum(rows, "budget_amount") - actual) / actual


def tracking_signal(agg: pd.DataFrame, period: str, dimension=None, member=None, periods=6):
    """Σ_t (A_t − F_t) ÷ ((1/n) Σ_t |A_t − F_t|) over the n periods ending at ``period``."""
    end = parse_period(period)
    window = [format_period(m) for m in range(end - periods + 1, end + 1)]
    rows = select(agg, window, dimension, member)
    per = rows.groupby(rows["period"].astype(str))[["invoiced_amount", "budget_amount"]].sum()
    err = per["invoiced_amount"] - per["budget_amount"]
    mad = float(err.abs().sum()) / periods
    return None if mad == 0 else float(err.sum()) / mad


def close_ratio(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ won ÷ Σ (won + lost), opportunities closed in the period."""
    rows = select(agg, period, dimension, member)
    won = _sum(rows, "won")
    return _ratio(won, won + _sum(rows, "lost"))


def commit_vs_closed(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ won_amount ÷ Σ committed_amount of the period."""
    rows = select(agg, period, dimension, member)
    return _ratio(_sum(rows, "won_amount"), _sum(rows, "committed_amount"))


# --------------------------------------------------------------------------- finance

VARIANCE_MEASURES = ("variance", "variance_pct", "sales_budget", "financial_budget")


def budget_variance(table: pd.DataFrame, gl_account: str, period: str,
                    measure: str = "variance"):
    """One GL account × period of the variance table (fin_budget_variance): ``variance`` =
    sales budget − financial budget, ``variance_pct`` = variance ÷ |financial budget|, or
    either budget. No row (or a zero financial budget for the %) gives None."""
    if measure not in VARIANCE_MEASURES:
        raise SopError(f"measure: {measure!r} must be one of {', '.join(VARIANCE_MEASURES)}")
    rows = table[(table["gl_account"].astype(str) == str(gl_account))
                 & (table["period"].astype(str) == period)]
    if rows.empty:
        return None
    sales, fin = _sum(rows, "sales_budget"), _sum(rows, "financial_budget")
    if measure == "sales_budget":
        return sales
    if measure == "financial_budget":
        return fin
    if measure == "variance":
        return sales - fin
    return None if fin == 0 else (sales - fin) / abs(fin)


def variance_detail(table: pd.DataFrame, gl_account: str, period: str) -> pd.DataFrame:
    """Drill-down: the sales-budget lines (customer, item, location, amount) mapped to one
    GL account in one period (table fin_budget_detail), largest amount first."""
    rows = table[(table["gl_account"].astype(str) == str(gl_account))
                 & (table["period"].astype(str) == period)]
    cols = ["customer_no", "item_no", "location_code", "amount"]
    out = rows[cols].copy()
    out["amount"] = pd.to_numeric(out["amount"], errors="coerce").fillna(0.0)
    return out.sort_values(["amount", "customer_no", "item_no"],
                           ascending=[False, True, True]).reset_index(drop=True)


KPI_FUNCTIONS = {
    "sales_otd": sales_otd, "fill_rate": fill_rate, "vendor_otd": vendor_otd,
    "schedule_attainment": schedule_attainment, "inventory_turns": inventory_turns,
    "days_of_supply": days_of_supply, "forecast_accuracy": forecast_accuracy,
    "forecast_bias": forecast_bias, "tracking_signal": tracking_signal,
    "close_ratio": close_ratio, "commit_vs_closed": commit_vs_closed,
}


def kpi_by(table: pd.DataFrame, kpi: str, period: str, dimension: str) -> pd.DataFrame:
    """A KPI of the period for every member of ``dimension`` present in the table's rows of
    that period: columns (dimension, value); no value → None."""
    fn = KPI_FUNCTIONS.get(kpi)
    if fn is None:
        raise SopError(f"kpi: {kpi!r} is not one of {', '.join(KPI_FUNCTIONS)}")
    column = DIMENSION_COLUMNS.get(dimension.strip().lower())
    if column is None or column not in table:
        raise SopError(f"dimension: this table cannot be cut by {dimension!r}")
    rows = select(table, period)
    members = sorted(set(rows[column].astype(str)))
    if kpi in WINDOWED:  # needs other periods' rows too: select each member in the table
        values = [fn(table, period, dimension, m) for m in members]
    else:  # the period's rows split once by member (same figure, one pass)
        groups = dict(tuple(rows.groupby(rows[column].astype(str), sort=False)))
        values = [fn(groups[m], period) for m in members]
    return pd.DataFrame({dimension: members, "value": values})


#: KPIs whose figure reads rows beyond the member's rows of the period (a window, the
#: opening stock, or whether the period has any inventory at all).
WINDOWED = frozenset({"inventory_turns", "tracking_signal", "days_of_supply"})


def vendor_watch(agg: pd.DataFrame, period: str, windows: tuple[int, ...] = (3, 6)
                 ) -> pd.DataFrame:
    """The supplier watch list: per vendor, receipt lines and vendor OTD (Σ receipts_on_time
    ÷ Σ receipt_lines) over the last 3 and 6 months ending at ``period``; worst 3-month
    OTD first (vendors without receipts in the short window last)."""
    end = parse_period(period)
    longest = [format_period(m) for m in range(end - max(windows) + 1, end + 1)]
    vendors = sorted(set(select(agg, longest)["vendor_no"].astype(str)))
    out = pd.DataFrame({"vendor_no": vendors})
    for months in windows:
        window = [format_period(m) for m in range(end - months + 1, end + 1)]
        rows = select(agg, window)
        grouped = rows.groupby(rows["vendor_no"].astype(str))[
            ["receipt_lines", "receipts_on_time"]].sum()
        lines = grouped["receipt_lines"].reindex(vendors).fillna(0.0)
        on_time = grouped["receipts_on_time"].reindex(vendors).fillna(0.0)
        out[f"receipts_{months}m"] = lines.to_numpy()
        out[f"otd_{months}m"] = [_ratio(o, n) for o, n in zip(on_time, lines, strict=True)]
    first = f"otd_{windows[0]}m"
    key = out[first].map(lambda v: 2.0 if v is None else v)
    return out.assign(_k=key.to_numpy()).sort_values(["_k", "vendor_no"]).drop(
        columns="_k").reset_index(drop=True)
