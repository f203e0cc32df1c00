"""Sales funnel KPIs: close ratio and commit vs closed. Cuts: salesperson, customer, item,
category."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..periods import parse_period
from .cuts import ratio, sums


def close_ratio(facts, period: str, *, by: str | None = None):
    """Close (win/loss) ratio.

    ``close_ratio = #opportunities won ÷ #(won + lost)``, counting opportunities closed in
    the period: by ``close_date``, or ``expected_close_date`` when the close date is empty.
    Open opportunities do not count.
    """
    op = facts.opportunities
    closed = (op["close_month"] == parse_period(period)) & (op["won"] | op["lost"])
    return ratio(op, closed, by, op["won"])


@dataclass(frozen=True)
class CommitVsClosed:
    committed: float
    won: float

    @property
    def ratio(self) -> float | None:
        """``won ÷ committed``; no value when nothing was committed."""
        return self.won / self.committed if self.committed else None


def commit_vs_closed(facts, period: str, *, by: str | None = None):
    """Commit vs closed for the period.

    ``committed = Σ amount of opportunities flagged commit whose expected close date is in
    the period`` (whatever their status now); ``won = Σ amount of opportunities won with a
    close date (else expected close date) in the period``; ``ratio = won ÷ committed``.
    """
    op = facts.opportunities
    month = parse_period(period)
    committed_mask = op["commit"] & (op["expected_month"] == month)
    won_mask = op["won"] & (op["close_month"] == month)
    either = committed_mask | won_mask
    s = sums(op, either, by, committed=op["amount"] * committed_mask,
             won=op["amount"] * won_mask)
    if by is None:
        return CommitVsClosed(s["committed"], s["won"])
    frame = pd.DataFrame(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["ratio"] = np.where(frame["committed"] != 0, frame["won"] / frame["committed"],
                                  np.nan)
    return frame
