"""Inventory KPIs: inventory turns and days of supply. Cuts: item, category, location."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import days_in_period, parse_period, period_day_bounds
from .cuts import DimensionNotApplicable, Ratio, sums, with_value
from .facts import Facts


def inventory_turns(facts: Facts, period: str, *, months: int = 1, by: str | None = None):
    """Inventory turns over the ``months`` months m1..mn ending with ``period``.

    ``turns = annualised COGS ÷ average inventory value`` where
    annualised COGS = Σ ``sales_invoices.cost_amount`` posted in m1..mn × 12 ÷ n, and
    average inventory = mean of the period-end inventory values end(m0), end(m1) … end(mn)
    — the opening one, end(m0) = end of the month before m1, included.

    A month-end counts only if the inventory table has rows for that month (a month the
    source does not cover is unknown, not zero); within a known month an item or location
    with no row holds 0. No known month-end, or an average of 0, gives no value.
    """
    if months < 1:
        raise ValueError("inventory turns need a window of at least 1 month")
    end = parse_period(period)
    inv, stock = facts.invoices, facts.inventory
    if by is not None and (by not in stock.dims or by not in inv.dims):
        raise DimensionNotApplicable(f"inventory turns cannot be cut by {by!r}")
    month = inv["month"]
    cogs = sums(inv, (month > end - months) & (month <= end), by, cogs=inv["cost_amount"])
    known = np.intersect1d(facts.inventory_months, np.arange(end - months, end + 1))
    stock_month = stock["month"]
    in_window = (stock_month >= end - months) & (stock_month <= end)
    # Σ over the known month-ends ÷ their count = the mean of the month-end values
    ends = sums(stock, in_window, by, value=stock["value"])
    if by is None:
        return Ratio(cogs["cogs"] * 12 / months,
                     ends["value"] / len(known) if len(known) else 0.0)
    avg = ends["value"] / len(known) if len(known) else ends["value"] * 0.0
    frame = pd.concat([cogs["cogs"] * 12 / months, avg], axis=1).fillna(0.0)
    frame.columns = ["numerator", "denominator"]
    frame.index.name = by
    return with_value(frame)


def days_of_supply(facts: Facts, period: str, *, by: str | None = None):
    """Days of supply at the end of the period, looking back.

    ``days_of_supply = on-hand quantity at period end ÷ average daily demand``, with average
    daily demand = quantity shipped in the period (``sales_shipments`` by shipment date)
    ÷ days in the period. A total over items is Σ on-hand ÷ Σ average daily demand. No
    demand gives no value; if the inventory table has no rows for the period at all, the
    on-hand is unknown and so is the result.
    """
    month = parse_period(period)
    stock, ship = facts.inventory, facts.shipments
    if by is not None and (by not in stock.dims or by not in ship.dims):
        raise DimensionNotApplicable(f"days of supply cannot be cut by {by!r}")
    first, last = period_day_bounds(period)
    days = days_in_period(period)
    in_period = (ship["day"] >= first) & (ship["day"] <= last)
    demand = sums(ship, in_period, by, daily=ship["quantity"] / days)
    known = month in set(facts.inventory_months.tolist())
    on_hand = sums(stock, stock["month"] == month, by, on_hand=stock["quantity"])
    if by is None:
        return Ratio(on_hand["on_hand"] if known else np.nan, demand["daily"])
    frame = pd.concat([on_hand["on_hand"], demand["daily"]], axis=1).fillna(0)
    frame.columns = ["numerator", "denominator"]
    if not known:
        frame["numerator"] = np.nan
    frame.index.name = by
    return with_value(frame)
