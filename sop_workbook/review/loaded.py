"""Which closed periods have their actuals loaded — a period without data is never zero.

The workbook's **last closed period** is the one before its current period. The data's
**last loaded period** is the last period of ``agg_sales`` with any actual sales activity
(shipment lines, shipped or invoiced quantity, invoiced amount). Every period up to it is
*loaded* (a month without sales inside the data is a real zero); every closed period after
it is **not loaded**: its actuals have not arrived yet (after *Roll forward*, until the
next *Refresh*) or the source stops early. Rows of ``agg_sales`` in later periods (sales
budget, orders due) carry no actuals and do not make a period loaded.

A not-loaded period is skipped by the statistical baseline (it forecasts from the last
loaded period on) and by every accuracy figure (``demand_accuracy``, ``demand_fva``,
actual vs budget); the sheets show it as :data:`NOT_LOADED` (or blank history cells).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import SopError
from ..periods import format_period, parse_period

NOT_LOADED = "not loaded: Refresh"
#: agg_sales columns that hold actuals (any non-zero value marks its period as loaded)
ACTUAL_COLUMNS = ("otd_lines", "shipped_qty", "invoiced_qty", "invoiced_amount")


def last_loaded_period(agg_sales: pd.DataFrame | None) -> str | None:
    """The last period (``YYYY-MM``) of ``agg_sales`` with actuals; None when none has."""
    if agg_sales is None or agg_sales.empty or "period" not in agg_sales:
        return None
    active = np.zeros(len(agg_sales), dtype=bool)
    for col in ACTUAL_COLUMNS:
        if col in agg_sales:
            values = pd.to_numeric(agg_sales[col], errors="coerce").fillna(0.0).to_numpy()
            active |= values != 0
    if not active.any():
        return None
    months = []
    for text in pd.unique(agg_sales["period"].astype(str).to_numpy()[active]):
        try:
            months.append(parse_period(text.strip()))
        except SopError:  # a malformed period is not a loaded one
            continue
    return format_period(max(months)) if months else None


def is_loaded(period: str, last_loaded: str | None) -> bool:
    """True when ``period``'s actuals are in the data (``period`` ≤ the last loaded)."""
    return last_loaded is not None and parse_period(period) <= parse_period(last_loaded)


def _span(first: int, last: int) -> str:
    if first == last:
        return format_period(first)
    return f"{format_period(first)}…{format_period(last)} ({last - first + 1} periods)"


def coverage_warning(last_loaded: str | None, current: str) -> str | None:
    """One line when the data's last loaded period and the workbook's last closed period
    (``current`` − 1) differ, either way; None when they agree."""
    closed = parse_period(current) - 1
    if last_loaded is None:
        return (f"the data holds no sales actuals (shipments or invoices): every closed "
                f"period up to {format_period(closed)} is not loaded; the baseline is empty "
                "until a Refresh brings them")
    last = parse_period(last_loaded)
    if last == closed:
        return None
    if last < closed:
        gap = closed - last
        text = (f"the data ends at {last_loaded} but the last closed period is "
                f"{format_period(closed)}: {_span(last + 1, closed)} "
                f"{'is' if gap == 1 else 'are'} not loaded (the baseline forecasts from "
                f"{last_loaded}, accuracy skips {'it' if gap == 1 else 'them'}) — Refresh "
                f"when {'its' if gap == 1 else 'their'} data is in")
        if gap > 2:
            text += (f", or start a workbook where the data ends: sop new WORKBOOK "
                     f"--period {format_period(last + 1)}")
        return text
    if last == closed + 1:
        return (f"the data runs into {last_loaded}, the current (open) period: its actuals "
                "are used once Roll forward closes it")
    return (f"the data runs to {last_loaded}, past the current period {current}: roll "
            f"forward to {format_period(last + 1)} to use {_span(closed + 1, last)} as "
            "history (until then they are plan periods)")


def loaded_label(last_loaded: str | None, current: str) -> str:
    """The Config cell *Data loaded through*: the last loaded period, and the closed
    periods after it marked not loaded."""
    closed = parse_period(current) - 1
    if last_loaded is None:
        return f"nothing ({format_period(closed)} and before {NOT_LOADED})"
    last = parse_period(last_loaded)
    if last < closed:
        return f"{last_loaded} ({_span(last + 1, closed)} {NOT_LOADED})"
    return last_loaded
