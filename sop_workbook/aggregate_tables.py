"""Workbook aggregates: additive numerators and denominators per period and grain.

Excel caps a sheet at 1,048,576 rows, so the workbook holds these aggregates rather than
raw transactions. Every column is additive (Σ over any cut is the cut's figure), so a KPI
for any period and cut is a ratio of column sums (see :mod:`sop_workbook.kpi.ratios`;
each KPI's columns are named in :mod:`sop_workbook.kpi.registry`).

Tables (names as the workbook's Excel tables):

- ``agg_sales`` — period × item × location: sales OTD, fill rate (line, unit), shipments,
  inventory, COGS and forecast cells (A = invoiced amount, F = sales-budget amount).
- ``agg_customer`` — period × customer: the same sales figures for customer and
  salesperson cuts (forecast cells at item × location × customer).
- ``agg_vendor`` — period × vendor × item: receipt lines and on-time receipt lines.
- ``agg_production`` — period × item × location × work centre: planned and attained qty.
- ``agg_funnel`` — period × salesperson × customer: won/lost counts, committed and won.

The planning inputs refresh also writes — ``agg_pipeline``, ``agg_supply_open``,
``agg_item_mix``, ``routings``, ``capacity`` — are built from the loaded source by
:func:`sop_workbook.plan_inputs.build_plan_inputs` (definitions there).

The options that change a numerator (tolerance, fill basis, vendor window) are fixed when
the aggregates are built; *Refresh* rebuilds them from the configuration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .kpi import Facts
from .kpi.delivery import on_time_quantity, shipped_on_time
from .kpi.options import KpiOptions
from .kpi.supply import receipt_on_time
from .periods import NO_DAY, format_period, month_of_days

SALES_GRAIN = ["period", "item_no", "category", "location_code"]
CUSTOMER_GRAIN = ["period", "customer_no", "salesperson"]


def _period_text(months: np.ndarray) -> np.ndarray:
    unique, inverse = np.unique(months, return_inverse=True)
    return np.array([format_period(int(m)) for m in unique], dtype=object)[inverse]


def _frame(months: np.ndarray, table, dims: dict[str, str], mask: np.ndarray,
           **values: np.ndarray) -> pd.DataFrame:
    data = {"period": _period_text(months[mask])}
    for column, dim in dims.items():
        data[column] = np.asarray(table.dims[dim])[mask]
    for name, v in values.items():
        data[name] = np.asarray(v, dtype=float)[mask]
    return pd.DataFrame(data)


def _sum(frames: list[pd.DataFrame], grain: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=grain)
    out = pd.concat(frames, ignore_index=True).groupby(grain, sort=True, dropna=False).sum()
    return out.reset_index()


def sales_parts(facts: Facts, options: KpiOptions, dims: dict[str, str]) -> list[pd.DataFrame]:
    """Per-row contributions of the sales tables, at the given dimension columns."""
    ship, lines = facts.shipments, facts.sales_lines
    tol = options.tolerance_days
    ship_month = month_of_days(ship["day"])
    otd_due = lines["due_promised"][ship["line"]]
    parts = [_frame(ship_month, ship, dims, np.ones(len(ship), dtype=bool),
                    otd_lines=ship["delivery"],
                    otd_on_time=ship["delivery"] & shipped_on_time(ship["day"], otd_due, tol),
                    shipped_qty=ship["quantity"])]
    due = lines["due_promised"] if options.fill_basis == "promised" else lines["due_requested"]
    qty = lines["quantity"]
    shipped = on_time_quantity(facts, due, tol)
    has_due = (due != NO_DAY) & (qty > 0)
    parts.append(_frame(month_of_days(due), lines, dims, has_due,
                        fill_lines_due=np.ones(len(qty)),
                        fill_lines_filled=shipped >= qty - 1e-9,
                        fill_qty_due=qty, fill_qty_on_time=np.minimum(shipped, qty)))
    inv = facts.invoices
    parts.append(_frame(inv["month"], inv, dims, np.ones(len(inv), dtype=bool),
                        invoiced_qty=inv["quantity"], invoiced_amount=inv["amount"],
                        cogs=inv["cost_amount"]))
    bud = facts.sales_budget
    parts.append(_frame(bud["month"], bud, dims, np.ones(len(bud), dtype=bool),
                        budget_qty=bud["quantity"], budget_amount=bud["amount"]))
    return parts


def sales_aggregate(facts: Facts, options: KpiOptions) -> pd.DataFrame:
    """``agg_sales``: period × item × location, with category for category cuts."""
    dims = {"item_no": "item", "category": "category", "location_code": "location"}
    parts = sales_parts(facts, options, dims)
    stock = facts.inventory
    parts.append(_frame(stock["month"], stock, dims, np.ones(len(stock), dtype=bool),
                        on_hand_qty=stock["quantity"], inventory_value=stock["value"]))
    out = _with_forecast_error(_sum(parts, SALES_GRAIN))
    return _ordered(out, SALES_GRAIN, SALES_COLUMNS)


def customer_aggregate(facts: Facts, options: KpiOptions) -> pd.DataFrame:
    """``agg_customer``: period × customer (with the customer's salesperson).

    The forecast error is summed over item × location × customer cells, so it is the
    customer cut's Σ|A − F| as :func:`sop_workbook.kpi.forecast_error` defines it.
    """
    dims = {"customer_no": "customer", "salesperson": "salesperson"}
    cell_dims = {**dims, "item_no": "item", "location_code": "location"}
    parts = sales_parts(facts, options, dims)
    bud, inv = facts.sales_budget, facts.invoices
    cells = _sum([_frame(inv["month"], inv, cell_dims, np.ones(len(inv), dtype=bool),
                         a=inv["amount"]),
                  _frame(bud["month"], bud, cell_dims, np.ones(len(bud), dtype=bool),
                         f=bud["amount"])], [*CUSTOMER_GRAIN, "item_no", "location_code"])
    if len(cells):
        for side in ("a", "f"):  # a side with no rows at all (e.g. no sales budget)
            if side not in cells:
                cells[side] = 0.0
        cells = cells.fillna({"a": 0.0, "f": 0.0})
        cells["forecast_abs_error"] = (cells["a"] - cells["f"]).abs()
        parts.append(cells[[*CUSTOMER_GRAIN, "forecast_abs_error"]])
    out = _sum(parts, CUSTOMER_GRAIN)
    return _ordered(out, CUSTOMER_GRAIN, CUSTOMER_COLUMNS)


def _with_forecast_error(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame):
        a = frame.get("invoiced_amount", 0.0)
        f = frame.get("budget_amount", 0.0)
        frame["forecast_abs_error"] = (pd.Series(a).fillna(0) - pd.Series(f).fillna(0)).abs()
    return frame


def vendor_aggregate(facts: Facts, options: KpiOptions) -> pd.DataFrame:
    """``agg_vendor``: receipt lines received per period × vendor × item, and on-time ones
    (inside [expected − days_early, expected + days_late])."""
    rc = facts.receipts
    on_time = receipt_on_time(rc["day"], rc["expected_day"], options.days_early,
                              options.days_late)
    dims = {"vendor_no": "vendor", "item_no": "item", "category": "category"}
    frame = _frame(month_of_days(rc["day"]), rc, dims, np.ones(len(rc), dtype=bool),
                   receipt_lines=np.ones(len(rc)), receipts_on_time=on_time)
    grain = ["period", *dims]
    return _ordered(_sum([frame], grain), grain, ["receipt_lines", "receipts_on_time"])


def production_aggregate(facts: Facts) -> pd.DataFrame:
    """``agg_production``: per due period × item × location × work centre, Σ planned and
    Σ min(finished by the due date, planned)."""
    po = facts.production
    done = po["finished_day"]
    on_time = (done != NO_DAY) & (done <= po["due_day"])
    attained = np.where(on_time, np.clip(np.minimum(po["finished"], po["planned"]), 0, None), 0)
    dims = {"item_no": "item", "category": "category", "location_code": "location",
            "work_center": "work_center"}
    frame = _frame(month_of_days(po["due_day"]), po, dims, np.ones(len(po), dtype=bool),
                   planned_qty=po["planned"], attained_qty=attained)
    grain = ["period", *dims]
    return _ordered(_sum([frame], grain), grain, ["planned_qty", "attained_qty"])


def funnel_aggregate(facts: Facts) -> pd.DataFrame:
    """``agg_funnel``: per period × salesperson × customer: opportunities won and lost
    (by close month), committed amount (commit flag, by expected close month) and won
    amount (by close month)."""
    op = facts.opportunities
    dims = {"salesperson": "salesperson", "customer_no": "customer"}
    everything = np.ones(len(op), dtype=bool)
    closed = _frame(op["close_month"], op, dims, op["won"] | op["lost"],
                    won=op["won"], lost=op["lost"])
    won_amount = _frame(op["close_month"], op, dims, op["won"], won_amount=op["amount"])
    committed = _frame(op["expected_month"], op, dims, op["commit"] & everything,
                       committed_amount=op["amount"])
    grain = ["period", *dims]
    return _ordered(_sum([closed, won_amount, committed], grain), grain,
                    ["won", "lost", "committed_amount", "won_amount"])


SALES_COLUMNS = ["otd_lines", "otd_on_time", "fill_lines_due", "fill_lines_filled",
                 "fill_qty_due", "fill_qty_on_time", "shipped_qty", "invoiced_qty",
                 "invoiced_amount", "cogs", "budget_qty", "budget_amount",
                 "forecast_abs_error", "on_hand_qty", "inventory_value"]
CUSTOMER_COLUMNS = [c for c in SALES_COLUMNS if c not in ("on_hand_qty", "inventory_value")]


def _ordered(frame: pd.DataFrame, grain: list[str], columns: list[str]) -> pd.DataFrame:
    for col in columns:
        if col not in frame:
            frame[col] = 0.0
    frame = frame[[*grain, *columns]].copy()
    frame[columns] = frame[columns].fillna(0.0).astype(float)
    return frame.sort_values(grain).reset_index(drop=True)


def build_aggregates(facts: Facts, options: KpiOptions | None = None) -> dict[str, pd.DataFrame]:
    """Every aggregate table the workbook holds, by Excel table name."""
    options = options or KpiOptions()
    return {
        "agg_sales": sales_aggregate(facts, options),
        "agg_customer": customer_aggregate(facts, options),
        "agg_vendor": vendor_aggregate(facts, options),
        "agg_production": production_aggregate(facts),
        "agg_funnel": funnel_aggregate(facts),
    }
