"""KPIs from the workbook's aggregate tables (:mod:`sop_workbook.aggregate_tables`).

What the UDFs in cells call: each function takes an aggregate table (a DataFrame as read
from the Excel table), a period and optionally a dimension and member, and returns the
same figure as the engine in :mod:`sop_workbook.kpi` for that cut (tests check both paths
agree). Each ratio is Σ numerator ÷ Σ denominator over the selected rows; no rows or a
zero denominator gives ``None``.

A recalculation passes the same few tables to many cells: inside :func:`shared_lookups`
what selecting rows needs (row positions per period and per member, the numbers of a
column) is worked out once per table and reused; the figures are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd

from ..errors import SopError
from ..periods import days_in_period, format_period, parse_period
from .finance import OUTSIDE

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


# --------------------------------------------------------------------------- shared lookups


class _Lookups:
    """What selecting rows of one table needs, worked out on first use: a column as text,
    the row positions of each text of a column, a column's numbers, the stocked periods."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table  # held, so that its id (the cache key) is not reused
        self._texts: dict[str, np.ndarray] = {}
        self._positions: dict[str, dict[str, np.ndarray]] = {}
        self._numbers: dict[str, np.ndarray | None] = {}
        self.stocked: set | None = None

    def texts(self, column: str) -> np.ndarray:
        """The column as text (``astype(str)``), as an object array."""
        if column not in self._texts:
            self._texts[column] = self.table[column].astype(str).to_numpy(dtype=object)
        return self._texts[column]

    def positions(self, column: str) -> dict[str, np.ndarray]:
        """Each text of the column → the positions (ascending) of its rows."""
        if column not in self._positions:
            self._positions[column] = _split(np.arange(len(self.table)), self.texts(column))
        return self._positions[column]

    def numbers(self, column: str) -> np.ndarray | None:
        """:func:`_plain_numbers` of the column."""
        if column not in self._numbers:
            self._numbers[column] = _plain_numbers(self.table[column])
        return self._numbers[column]


_SHARED: ContextVar[dict[int, _Lookups] | None] = ContextVar("kpi_lookups", default=None)


@contextmanager
def shared_lookups() -> Iterator[None]:
    """Inside the block every KPI call reuses each table's lookups (built once per table
    object). The tables must not change inside the block. A nested block shares the
    outer one's lookups; on leaving the outermost block they are dropped."""
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _lookups(table: pd.DataFrame) -> _Lookups | None:
    """The table's shared lookups inside :func:`shared_lookups`, else None."""
    shared = _SHARED.get()
    if shared is None:
        return None
    found = shared.get(id(table))
    if found is None or found.table is not table:
        found = shared[id(table)] = _Lookups(table)
    return found


def _split(positions: np.ndarray, keys: np.ndarray) -> dict[str, np.ndarray]:
    """Each key → the ``positions`` whose key it is, in their order (missing keys left out)."""
    codes, uniques = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes + 1, minlength=len(uniques) + 1))  # -1 = missing
    return {key: positions[order[ends[i]:ends[i + 1]]] for i, key in enumerate(uniques)}


def _plain_numbers(values: pd.Series) -> np.ndarray | None:
    """A float64 or int64 column's numbers with NaN as 0 — what :func:`_sum` adds up, so
    that Σ over some rows is the same figure; None for a column of any other type."""
    if values.dtype not in (np.dtype(np.float64), np.dtype(np.int64)):
        return None
    numbers = values.to_numpy()
    if numbers.dtype.kind == "f":
        missing = np.isnan(numbers)
        if missing.any():
            numbers = np.where(missing, 0.0, numbers)
    return numbers


# --------------------------------------------------------------------------- row selection


class _Rows:
    """Some rows of a table, by position (ascending)."""

    __slots__ = ("positions", "table")

    def __init__(self, table: pd.DataFrame, positions: np.ndarray) -> None:
        self.table = table
        self.positions = positions

    def sum(self, column: str) -> float:
        """Σ of the column over the rows, as :func:`_sum` of the selected rows gives it."""
        lookups = _lookups(self.table)
        numbers = (lookups.numbers(column) if lookups is not None
                   else _plain_numbers(self.table[column]))
        if numbers is None:
            return float(pd.to_numeric(self.table[column].take(self.positions),
                                       errors="coerce").fillna(0).sum())
        return float(numbers[self.positions].sum())

    def columns(self, *names: str) -> pd.DataFrame:
        """These columns of the rows (as :func:`select` would give them)."""
        return pd.DataFrame({name: self.table[name].take(self.positions) for name in names})


def _matching(table: pd.DataFrame, column: str, texts: list) -> np.ndarray:
    """Positions (ascending) of the rows whose ``column`` as text is one of ``texts``."""
    lookups = _lookups(table)
    if lookups is None or not all(isinstance(t, str) for t in texts):
        return np.flatnonzero(table[column].astype(str).isin(texts).to_numpy())
    index = lookups.positions(column)
    found = [index[t] for t in dict.fromkeys(texts) if t in index]
    if len(found) == 1:
        return found[0]
    chosen = np.zeros(len(table), dtype=bool)
    for positions in found:
        chosen[positions] = True
    return np.flatnonzero(chosen)


def _positions(table: pd.DataFrame, periods: str | list[str] | None,
               dimension: str | None = None, member: str | None = None) -> np.ndarray:
    """Positions (ascending) of the rows :func:`select` returns."""
    if periods is not None:
        wanted = [periods] if isinstance(periods, str) else list(periods)
        positions = _matching(table, "period", wanted)
    else:
        positions = np.arange(len(table))
    if dimension:
        column = DIMENSION_COLUMNS.get(dimension.strip().lower())
        if column is None:
            raise SopError(f"unknown dimension {dimension!r}",
                           f"use one of {', '.join(DIMENSION_COLUMNS)}")
        if column not in table:
            raise SopError(f"this KPI cannot be cut by {dimension!r}")
        if member is None or str(member) == "":
            raise SopError(f"dimension {dimension!r} needs a member (e.g. an item number)")
        positions = np.intersect1d(positions, _matching(table, column, [str(member)]),
                                   assume_unique=True)
    return positions


def select(table: pd.DataFrame, periods: str | list[str] | None, dimension: str | None = None,
           member: str | None = None) -> pd.DataFrame:
    """Rows of ``table`` in ``periods`` whose ``dimension`` equals ``member``."""
    return table.take(_positions(table, periods, dimension, member))


def _picked(table: pd.DataFrame, periods: str | list[str] | None, dimension: str | None = None,
            member: str | None = None) -> _Rows:
    """The rows :func:`select` returns, by position."""
    return _Rows(table, _positions(table, periods, dimension, member))


def _stocked_periods(agg: pd.DataFrame) -> set:
    """The periods (as text) of the rows holding inventory: an on-hand quantity or value."""
    lookups = _lookups(agg)
    if lookups is not None and lookups.stocked is not None:
        return lookups.stocked
    stocked = ((agg["on_hand_qty"] != 0) | (agg["inventory_value"] != 0)).to_numpy()
    found = set(pd.unique(_texts(agg, "period")[stocked]))
    if lookups is not None:
        lookups.stocked = found
    return found


def _texts(table: pd.DataFrame, column: str) -> np.ndarray:
    """The column as text (``astype(str)``), as an object array."""
    lookups = _lookups(table)
    if lookups is not None:
        return lookups.texts(column)
    return table[column].astype(str).to_numpy(dtype=object)


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 or not np.isfinite(den) else float(num) / float(den)


def _sum(rows: pd.DataFrame, column: str) -> float:
    return float(pd.to_numeric(rows[column], errors="coerce").fillna(0).sum())


# --------------------------------------------------------------------------- KPIs
# Each KPI whose figure reads only the selected rows is a public function of (table,
# period, cut) and a figure of those rows, which kpi_by also applies per member.


def sales_otd(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ otd_on_time ÷ Σ otd_lines (shipment lines of the period)."""
    return _sales_otd(_picked(agg, period, dimension, member))


def _sales_otd(rows: _Rows):
    return _ratio(rows.sum("otd_on_time"), rows.sum("otd_lines"))


def fill_rate(agg: pd.DataFrame, period: str, dimension=None, member=None, level="line"):
    """line: Σ fill_lines_filled ÷ Σ fill_lines_due; unit: Σ fill_qty_on_time ÷ Σ fill_qty_due.
    (The order level is not additive over items and is not held in the aggregates.)"""
    return _fill_rate(_picked(agg, period, dimension, member), level)


def _fill_rate(rows: _Rows, level="line"):
    if level == "line":
        return _ratio(rows.sum("fill_lines_filled"), rows.sum("fill_lines_due"))
    if level == "unit":
        return _ratio(rows.sum("fill_qty_on_time"), rows.sum("fill_qty_due"))
    raise SopError(f"fill-rate level {level!r} is not available in the workbook",
                   "use 'line' or 'unit'")


def vendor_otd(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ receipts_on_time ÷ Σ receipt_lines (receipt lines of the period)."""
    return _vendor_otd(_picked(agg, period, dimension, member))


def _vendor_otd(rows: _Rows):
    return _ratio(rows.sum("receipts_on_time"), rows.sum("receipt_lines"))


def schedule_attainment(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ attained_qty ÷ Σ planned_qty (production orders due in the period)."""
    return _schedule_attainment(_picked(agg, period, dimension, member))


def _schedule_attainment(rows: _Rows):
    return _ratio(rows.sum("attained_qty"), rows.sum("planned_qty"))


def inventory_turns(agg: pd.DataFrame, period: str, dimension=None, member=None, months=1):
    """COGS of the ``months`` periods ending at ``period`` × 12 / months ÷ mean of the
    period-end inventory values end(m0)…end(mn). A month-end counts when the table holds
    inventory for that period (any row with an on-hand quantity or value)."""
    end = parse_period(period)
    window = [format_period(m) for m in range(end - months + 1, end + 1)]
    ends = [format_period(m) for m in range(end - months, end + 1)]
    known = sorted(_stocked_periods(agg) & set(ends))
    cogs = _picked(agg, window, dimension, member).sum("cogs") * 12 / months
    if not known:
        return None
    avg = _picked(agg, known, dimension, member).sum("inventory_value") / len(known)
    return _ratio(cogs, avg)


def days_of_supply(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ on_hand_qty at period end ÷ (Σ shipped_qty ÷ days in the period)."""
    rows = _picked(agg, period, dimension, member)
    if period not in _stocked_periods(agg):
        return None
    return _ratio(rows.sum("on_hand_qty"), rows.sum("shipped_qty") / days_in_period(period))


def forecast_accuracy(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """max(0, 1 − Σ forecast_abs_error ÷ Σ invoiced_amount)."""
    return _forecast_accuracy(_picked(agg, period, dimension, member))


def _forecast_accuracy(rows: _Rows):
    actual = rows.sum("invoiced_amount")
    if not actual > 0:
        return None
    return max(0.0, 1.0 - rows.sum("forecast_abs_error") / actual)


def forecast_bias(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """(Σ budget_amount − Σ invoiced_amount) ÷ Σ invoiced_amount."""
    return _forecast_bias(_picked(agg, period, dimension, member))


def _forecast_bias(rows: _Rows):
    actual = rows.sum("invoiced_amount")
    if not actual > 0:
        return None
    return (rows.sum("budget_amount") - actual) / actual


def tracking_signal(agg: pd.DataFrame, period: str, dimension=None, member=None, periods=6):
    """Σ_t (A_t − F_t) ÷ ((1/n) Σ_t |A_t − F_t|) over the last n = ``periods`` periods up to
    ``period`` in which the cut has data (a non-zero invoiced or budget quantity or
    amount); fewer than 3 such periods, or MAD = 0, gives None (as
    :func:`sop_workbook.kpi.forecast.tracking_signal`)."""
    from .forecast import TRACKING_SIGNAL_MIN_PERIODS

    rows = _picked(agg, None, dimension, member)
    measures = [c for c in ("invoiced_amount", "budget_amount", "invoiced_qty", "budget_qty")
                if c in agg]
    frame = rows.columns("period", *measures)
    frame = frame[frame["period"].astype(str) <= period]  # YYYY-MM sorts as text
    numbers = frame[measures].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    per = numbers.groupby(frame["period"].astype(str)).sum()
    per = per[(per != 0).any(axis=1)].sort_index().tail(periods)
    if len(per) < TRACKING_SIGNAL_MIN_PERIODS:
        return None
    err = per["invoiced_amount"] - per["budget_amount"]
    mad = float(err.abs().sum()) / len(per)
    return None if mad == 0 else float(err.sum()) / mad


def close_ratio(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ won ÷ Σ (won + lost), opportunities closed in the period."""
    return _close_ratio(_picked(agg, period, dimension, member))


def _close_ratio(rows: _Rows):
    won = rows.sum("won")
    return _ratio(won, won + rows.sum("lost"))


def commit_vs_closed(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ won_amount ÷ Σ committed_amount of the period."""
    return _commit_vs_closed(_picked(agg, period, dimension, member))


def _commit_vs_closed(rows: _Rows):
    return _ratio(rows.sum("won_amount"), rows.sum("committed_amount"))


def lead_time_adherence(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ lt_adhered ÷ Σ lt_lines (agg_lead_time): sales lines ordered in the period whose
    promised date ≥ order date + the item's standard lead time ÷ the lines whose item has
    one (lines without a standard are counted apart in lt_without_standard)."""
    return _lead_time_adherence(_picked(agg, period, dimension, member))


def _lead_time_adherence(rows: _Rows):
    return _ratio(rows.sum("lt_adhered"), rows.sum("lt_lines"))


def labour_absorption(agg: pd.DataFrame, period: str, dimension=None, member=None):
    """Σ earned_hours ÷ Σ worked_hours (agg_labour): standard hours earned by production
    finished in the period ÷ hours worked in it (capacity ledger)."""
    return _labour_absorption(_picked(agg, period, dimension, member))


def _labour_absorption(rows: _Rows):
    return _ratio(rows.sum("earned_hours"), rows.sum("worked_hours"))


def absorbed_payroll(agg: pd.DataFrame, period: str, labour_rate: float, dimension=None,
                     member=None):
    """Over/under-absorbed payroll: (Σ earned_hours − Σ worked_hours) × labour rate;
    positive = over-absorbed. No rows → None."""
    rows = _picked(agg, period, dimension, member)
    if not len(rows.positions):
        return None
    return (rows.sum("earned_hours") - rows.sum("worked_hours")) * float(labour_rate)


def labour_by_work_center(agg: pd.DataFrame, period: str, labour_rate: float) -> pd.DataFrame:
    """Per work center of the period: earned and worked hours, absorption (earned ÷
    worked; None without hours worked) and over/under-absorbed payroll at the rate."""
    rows = select(agg, period)
    numbers = rows[["earned_hours", "worked_hours"]].apply(pd.to_numeric, errors="coerce")
    grouped = numbers.fillna(0.0).groupby(rows["work_center"].astype(str)).sum().sort_index()
    return pd.DataFrame({
        "work_center": grouped.index.tolist(),
        "earned_hours": grouped["earned_hours"].to_numpy(),
        "worked_hours": grouped["worked_hours"].to_numpy(),
        "absorption": [_ratio(e, w) for e, w in zip(grouped["earned_hours"],
                                                     grouped["worked_hours"], strict=True)],
        "absorbed_payroll": ((grouped["earned_hours"] - grouped["worked_hours"])
                             * float(labour_rate)).to_numpy(),
    })


# --------------------------------------------------------------------------- finance

VARIANCE_MEASURES = ("variance", "variance_pct", "sales_budget", "financial_budget")


def budget_variance(table: pd.DataFrame, gl_account: str, period: str,
                    measure: str = "variance"):
    """One GL account × period of the variance table (fin_budget_variance): ``variance`` =
    sales budget − financial budget, ``variance_pct`` = variance ÷ |financial budget|, or
    either budget. No row (or a zero financial budget for the %) gives None; so does any
    measure but the financial budget of an account outside the sales budget."""
    if measure not in VARIANCE_MEASURES:
        raise SopError(f"measure: {measure!r} must be one of {', '.join(VARIANCE_MEASURES)}")
    rows = table[(table["gl_account"].astype(str) == str(gl_account))
                 & (table["period"].astype(str) == period)]
    if rows.empty:
        return None
    fin = _sum(rows, "financial_budget")
    if measure == "financial_budget":
        return fin
    if "assessment" in rows and rows["assessment"].astype(str).eq(OUTSIDE).all():
        return None  # outside the sales budget: no sales budget, no variance
    sales = _sum(rows, "sales_budget")
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
    "lead_time_adherence": lead_time_adherence, "labour_absorption": labour_absorption,
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
    with shared_lookups():
        rows = _positions(table, period)
        keys = _texts(table, column)[rows]
        members = sorted(set(keys))
        if kpi in WINDOWED:  # needs other periods' rows too: select each member in the table
            values = [fn(table, period, dimension, m) for m in members]
        else:  # the period's rows split once by member (same rows, same figure)
            figure = _FIGURES[kpi]
            groups = _split(rows, keys)
            values = [figure(_Rows(table, groups[m])) for m in members]
    return pd.DataFrame({dimension: members, "value": values})


#: KPIs whose figure reads rows beyond the member's rows of the period (a window, the
#: opening stock, or whether the period has any inventory at all).
WINDOWED = frozenset({"inventory_turns", "tracking_signal", "days_of_supply"})

#: The other KPIs as figures of the selected rows.
_FIGURES = {
    "sales_otd": _sales_otd, "fill_rate": _fill_rate, "vendor_otd": _vendor_otd,
    "schedule_attainment": _schedule_attainment, "forecast_accuracy": _forecast_accuracy,
    "forecast_bias": _forecast_bias, "close_ratio": _close_ratio,
    "commit_vs_closed": _commit_vs_closed, "lead_time_adherence": _lead_time_adherence,
    "labour_absorption": _labour_absorption,
}


def vendor_watch(agg: pd.DataFrame, period: str, windows: tuple[int, ...] = (3, 6)
                 ) -> pd.DataFrame:
    """The supplier watch list: per vendor, receipt lines and vendor OTD (Σ receipts_on_time
    ÷ Σ receipt_lines) over the last 3 and 6 months ending at ``period``; worst 3-month
    OTD first (vendors without receipts in the short window last)."""
    end = parse_period(period)
    longest = [format_period(m) for m in range(end - max(windows) + 1, end + 1)]
    recent = _positions(agg, longest)
    vendors = sorted(set(pd.unique(_texts(agg, "vendor_no")[recent])))
    out = pd.DataFrame({"vendor_no": vendors})
    for months in windows:
        window = [format_period(m) for m in range(end - months + 1, end + 1)]
        rows = _picked(agg, window).columns("vendor_no", "receipt_lines", "receipts_on_time")
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
