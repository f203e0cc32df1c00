"""Supply KPIs: vendor on-time delivery and schedule attainment."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..periods import NO_DAY, period_day_bounds
from .cuts import Ratio, ratio
from .facts import Facts


def vendor_otd(
    facts: Facts,
    period: str,
    *,
    days_early: int | None = None,
    days_late: int = 0,
    by: str | None = None,
):
    """Vendor on-time delivery.

    ``vendor_otd = #receipt lines with expected − days_early ≤ receipt_date ≤ expected +
    days_late ÷ #receipt lines with receipt_date in the period`` (expected = the line's
    expected receipt date). Defaults: ``days_late = 0``; ``days_early = None`` = unlimited
    (an early receipt is on time). Cuts: vendor, item, category.
    """
    rc = facts.receipts
    first, last = period_day_bounds(period)
    day = rc["day"]
    in_period = (day >= first) & (day <= last)
    on_time = receipt_on_time(day, rc["expected_day"], days_early, days_late)
    return ratio(rc, in_period, by, on_time)


# The vendor on-time window, in one place: the engine above, the workbook aggregate
# (:func:`sop_workbook.aggregate_tables.vendor_aggregate`) and its SQL
# (:func:`sop_workbook.sql.operations.agg_vendor`) all use these two.


def receipt_on_time(received: np.ndarray, expected: np.ndarray, days_early: int | None,
                    days_late: int) -> np.ndarray:
    """Per receipt line: ``expected − days_early ≤ received ≤ expected + days_late`` (day
    numbers; ``days_early=None``: no lower bound, an early receipt is on time)."""
    on_time = received <= expected + days_late
    if days_early is not None:
        on_time &= received >= expected - days_early
    return on_time


def receipt_on_time_sql(received: str, expected: str, days_early: int | None, days_late: int,
                        add_days: Callable[[str, str], str]) -> str:
    """:func:`receipt_on_time` as a SQL condition over two date expressions; ``add_days``
    is the dialect's (expression, days) → expression."""
    on_time = f"{received} <= {add_days(expected, str(int(days_late)))}"
    if days_early is not None:
        on_time += f" AND {received} >= {add_days(expected, str(-int(days_early)))}"
    return on_time


def schedule_attainment(facts: Facts, period: str, *, by: str | None = None):
    """Schedule attainment of the production orders due in the period.

    ``Σ min(quantity finished by the due date, planned quantity) ÷ Σ planned quantity``.
    Each order is capped at its plan, so over-production of one order cannot hide a miss
    on another. An order finished after its due date, or still open (no finished date),
    counts 0. Cuts: item, category, location, work_center.
    """
    po = facts.production
    first, last = period_day_bounds(period)
    due = po["due_day"]
    in_period = (due >= first) & (due <= last)
    done = po["finished_day"]
    if by is None:  # the same sums, over the period's orders only
        idx = np.flatnonzero(in_period)
        planned = po["planned"][idx]
        on_time = (done[idx] != NO_DAY) & (done[idx] <= due[idx])
        credited = np.minimum(po["finished"][idx], planned).clip(0) * on_time
        return Ratio(float(credited.sum()), float(planned.sum()))
    by_due = (done != NO_DAY) & (done <= due)
    credited = np.where(by_due, np.clip(np.minimum(po["finished"], po["planned"]), 0, None), 0.0)
    return ratio(po, in_period, by, credited, po["planned"])
