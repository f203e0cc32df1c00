"""Ratios and sums, in total or cut by a dimension, over masked fact rows.

Every KPI here is a ratio of additive sums (numerator ÷ denominator), so any cut is the
same ``bincount`` over the dimension's codes, and cuts recombine into the total by adding
numerators and denominators. A zero denominator gives no value (``None`` / NaN), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import SopError
from .facts import FactTable


class DimensionNotApplicable(SopError):
    """The KPI's facts do not carry the requested dimension (e.g. sales OTD by vendor)."""


@dataclass(frozen=True)
class Ratio:
    """An additive ratio: ``value = numerator ÷ denominator`` (``None`` when denominator is 0)."""

    numerator: float
    denominator: float

    @property
    def value(self) -> float | None:
        if self.denominator == 0 or not np.isfinite(self.denominator):
            return None
        if not np.isfinite(self.numerator):
            return None
        return self.numerator / self.denominator


def sums(table: FactTable, mask: np.ndarray, by: str | None, **weights: np.ndarray):
    """Σ of each weight over the rows in ``mask``.

    ``by=None`` → ``dict`` of totals. Otherwise a DataFrame indexed by the values of dimension
    ``by`` (only values with at least one row in ``mask``), one column per weight.
    """
    if by is None:
        return {name: float(np.sum(w[mask], dtype=float)) for name, w in weights.items()}
    cat = _dimension(table, by)
    codes = np.asarray(cat.codes)[mask]
    k = len(cat.categories)
    present = np.bincount(codes, minlength=k) > 0
    out = {name: np.bincount(codes, weights=np.asarray(w, dtype=float)[mask], minlength=k)
           for name, w in weights.items()}
    frame = pd.DataFrame(out, index=pd.Index(cat.categories, name=by))
    return frame[present]


def _dimension(table: FactTable, by: str) -> pd.Categorical:
    if by not in table.dims:
        raise DimensionNotApplicable(f"this KPI cannot be cut by {by!r}",
                                     f"dimensions available: {', '.join(table.dims)}")
    return table.dims[by]


def ratio(table: FactTable, mask: np.ndarray, by: str | None,
          numerator: np.ndarray, denominator: np.ndarray | None = None):
    """:class:`Ratio` in total, or a DataFrame (numerator, denominator, value) per ``by``.

    ``denominator=None`` counts the rows in ``mask``; a boolean ``numerator`` counts the
    rows in ``mask`` where it is true (both without building weight arrays).
    """
    if denominator is not None or numerator.dtype != bool:
        weights = np.ones(len(mask)) if denominator is None else denominator
        s = sums(table, mask, by, numerator=numerator, denominator=weights)
        return Ratio(s["numerator"], s["denominator"]) if by is None else with_value(s)
    hit = mask & numerator
    if by is None:
        return Ratio(float(np.count_nonzero(hit)), float(np.count_nonzero(mask)))
    cat = _dimension(table, by)
    codes = np.asarray(cat.codes)
    k = len(cat.categories)
    den = np.bincount(codes[mask], minlength=k).astype(float)
    num = np.bincount(codes[hit], minlength=k).astype(float)
    frame = pd.DataFrame({"numerator": num, "denominator": den},
                         index=pd.Index(cat.categories, name=by))
    return with_value(frame[den > 0])


def with_value(frame: pd.DataFrame) -> pd.DataFrame:
    den = frame["denominator"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(den != 0, frame["numerator"].to_numpy() / den, np.nan)
    return frame.assign(value=value)
