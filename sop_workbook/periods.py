"""Calendar-month periods (``YYYY-MM``) and the integer encodings the KPI engine uses.

A *month index* is ``year * 12 + month - 1``; a *day number* is days since 1970-01-01.
Both are plain integers so that period filters over millions of rows are numpy compares.
"""

from __future__ import annotations

import calendar
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from .errors import SopError

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
NO_DAY = np.iinfo(np.int64).min // 2  # sentinel day number for an empty date


@lru_cache(maxsize=4096)
def parse_period(text: str) -> int:
    """``'2026-10'`` → month index; a clear error for anything else."""
    m = _PERIOD.match(str(text).strip())
    if not m:
        raise SopError(f"period {text!r} is not YYYY-MM", "Example: --period 2026-10")
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def format_period(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def shift_period(text: str, months: int) -> str:
    return format_period(parse_period(text) + months)


def period_range(first: str, count: int) -> list[str]:
    start = parse_period(first)
    return [format_period(start + i) for i in range(count)]


def days_in_period(text: str) -> int:
    month = parse_period(text)
    return calendar.monthrange(month // 12, month % 12 + 1)[1]


@lru_cache(maxsize=4096)
def period_day_bounds(text: str) -> tuple[int, int]:
    """First and last day number of the period (both inclusive)."""
    month = parse_period(text)
    first = np.datetime64(f"{month // 12:04d}-{month % 12 + 1:02d}-01", "D").astype(np.int64)
    return int(first), int(first) + days_in_period(text) - 1


def day_numbers(dates: pd.Series) -> np.ndarray:
    """Dates → day numbers (int64); empty dates → :data:`NO_DAY`."""
    values = pd.to_datetime(dates).to_numpy(dtype="datetime64[D]")
    out = values.astype(np.int64)
    out[np.isnat(values)] = NO_DAY
    return out


def month_of_days(days: np.ndarray) -> np.ndarray:
    """Day numbers → month indexes (empty days → a month no period matches)."""
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    months[days == NO_DAY] = -1
    return months


def month_of_periods(periods: pd.Series) -> np.ndarray:
    """``YYYY-MM`` text → month indexes."""
    text = periods.astype(str)
    years = pd.to_numeric(text.str.slice(0, 4), errors="coerce").fillna(-1).astype(np.int64)
    months = pd.to_numeric(text.str.slice(5, 7), errors="coerce").fillna(1).astype(np.int64)
    return (years * 12 + months - 1).to_numpy()
