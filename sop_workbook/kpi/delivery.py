"""Customer delivery KPIs: sales on-time delivery and fill rate (on time, in full).

Cuts: item, category, location, customer, salesperson (the customer's salesperson).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import period_day_bounds
from .cuts import DimensionNotApplicable, Ratio, ratio, with_value
from .facts import Facts

FILL_LEVELS = ("line", "unit", "order")
FILL_BASES = ("promised", "requested")
_EPS = 1e-9  # quantities are decimals: "in full" tolerates float rounding only


def sales_otd(facts: Facts, period: str, *, tolerance_days: int = 0, by: str | None = None):
    """Sales on-time delivery.

    ``sales_otd = #shipment lines with shipment_date ≤ promised_date + tolerance_days
    ÷ #shipment lines with shipment_date in the period``.

    The promised date is the sales line's; a line with no promised date falls back to its
    requested date. Each shipment line counts once (a partial shipment is a line of its own).
    Only deliveries count: a negative shipment line (an undo, a correction) is never one,
    and nets against the earlier shipments of its sales line — a shipment it cancels in
    full is not a delivery either (:func:`~sop_workbook.kpi.facts.delivery_flags`).
    """
    ship = facts.shipments
    first, last = period_day_bounds(period)
    day = ship["day"]
    in_period = (day >= first) & (day <= last) & ship["delivery"]
    due = facts.sales_lines["due_promised"][ship["line"]]
    on_time = shipped_on_time(day, due, tolerance_days)  # every line has a due date (loader)
    return ratio(ship, in_period, by, on_time)


def shipped_on_time(day: np.ndarray, due: np.ndarray, tolerance_days: int) -> np.ndarray:
    """The customer on-time window, in one place (sales OTD, fill rate, the workbook
    aggregate :func:`sop_workbook.aggregate_tables.sales_parts`): shipped on day number ``day``
    ≤ the due day + ``tolerance_days``."""
    return day <= due + tolerance_days


def on_time_quantity(facts: Facts, due: np.ndarray, tolerance_days: int) -> np.ndarray:
    """Per sales line: Σ shipment quantity dated ≤ the line's due date + tolerance."""
    ship = facts.shipments
    line = ship["line"]
    counts = shipped_on_time(ship["day"], due[line], tolerance_days)
    return np.bincount(line, weights=ship["quantity"] * counts, minlength=len(due))


def fill_rate(
    facts: Facts,
    period: str,
    *,
    level: str = "line",
    basis: str = "promised",
    tolerance_days: int = 0,
    by: str | None = None,
):
    """Fill rate, on time and in full (OTIF), of the sales order lines due in the period.

    A line is *due* in the period of its due date: the promised date (``basis='promised'``,
    default; falls back to the requested date when empty) or the requested date
    (``basis='requested'``; falls back to the promised date). It is *filled* when
    Σ its shipment quantities dated ≤ due date + ``tolerance_days`` ≥ its ordered quantity.

    - ``level='line'`` (default): ``#filled lines ÷ #lines due``.
    - ``level='unit'``: ``Σ min(qty shipped on time, qty ordered) ÷ Σ qty ordered`` of the
      lines due (each line is capped at its ordered quantity, so over-shipping one line
      cannot hide a short one).
    - ``level='order'``: ``#orders whose every line due in the period is filled ÷ #orders
      with a line due in the period``. Cut by a line-level dimension (item, category,
      location), an order counts once per value, over its lines with that value.

    Lines with an ordered quantity ≤ 0 (nothing to fill) are not counted.
    """
    if level not in FILL_LEVELS:
        raise ValueError(f"fill-rate level must be one of {FILL_LEVELS}, not {level!r}")
    if basis not in FILL_BASES:
        raise ValueError(f"fill-rate basis must be one of {FILL_BASES}, not {basis!r}")
    lines = facts.sales_lines
    due = lines["due_promised"] if basis == "promised" else lines["due_requested"]
    qty = lines["quantity"]
    first, last = period_day_bounds(period)
    due_in_period = (due >= first) & (due <= last) & (qty > 0)
    shipped = on_time_quantity(facts, due, tolerance_days)
    filled = shipped >= qty - _EPS
    if level == "line":
        return ratio(lines, due_in_period, by, filled)
    if level == "unit":
        return ratio(lines, due_in_period, by, np.minimum(shipped, qty), qty)
    return _order_fill_rate(lines, due_in_period, filled, by)


def _order_fill_rate(lines, mask, filled, by):
    orders = lines["order_code"][mask]
    if by is None:
        n_orders = np.count_nonzero(np.bincount(orders))
        n_unfilled = np.count_nonzero(np.bincount(orders[~filled[mask]]))
        return Ratio(float(n_orders - n_unfilled), float(n_orders))
    else:
        if by not in lines.dims:
            raise DimensionNotApplicable(f"fill rate cannot be cut by {by!r}")
        group_dim = np.asarray(lines.dims[by].codes)[mask]
        group = orders.astype(np.int64) * (len(lines.dims[by].categories) + 1) + group_dim
    frame = pd.DataFrame({"group": group, "filled": filled[mask]})
    per_order = frame.groupby("group", sort=False)["filled"].all()
    cats = lines.dims[by].categories
    dim_code = (per_order.index.to_numpy() % (len(cats) + 1)).astype(np.int64)
    k = len(cats)
    out = pd.DataFrame(
        {"numerator": np.bincount(dim_code, weights=per_order.to_numpy(dtype=float), minlength=k),
         "denominator": np.bincount(dim_code, minlength=k).astype(float)},
        index=pd.Index(cats, name=by),
    )
    return with_value(out[out["denominator"] > 0])

