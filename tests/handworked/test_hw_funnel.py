"""Hand-worked: close ratio, committed/won amounts, commit vs closed.

domain.md: close ratio = opportunities won / (won + lost) closed in the period, by
salesperson; commit vs closed = amount committed for the period vs amount won in it.
Decided: closed in the period = close_date (else expected_close_date) in the period;
committed_amount = sum amount of commit=true opportunities whose expected_close_date is in
the period (any status); won_amount = sum amount of won with close date in the period;
commit_vs_closed = won_amount / committed_amount.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hw_support import kpis, opp, rows_by, write_source

P = "2024-03"

OPPS = {
    "opportunities": [
        # no, salesperson, customer, expected close, amount, status, commit, close date
        opp("O1", "SP1", "C1", "2024-02-28", 1000, "won", "true", "2024-03-05"),
        opp("O2", "SP1", "C1", "2024-03-10", 500, "lost", "false", "2024-03-12"),
        opp("O3", "SP2", "C2", "2024-03-20", 2000, "won", "true", ""),  # close -> expected
        opp("O4", "SP2", "C2", "2024-03-25", 3000, "open", "true"),
        opp("O5", "SP1", "C1", "2024-03-30", 700, "won", "true", "2024-04-02"),
        opp("O6", "SP2", "C2", "2024-03-15", 400, "lost", "false", "2024-02-27"),
        opp("O7", "SP1", "C1", "2024-03-28", 800, "lost", "true", "2024-03-28"),
        opp("O8", "SP2", "C2", "2024-03-15", 1500, "won", "false", "2024-03-15"),
        opp("O9", "SP2", "C2", "2024-04-10", 900, "open", "true"),
    ],
}


def test_close_ratio_and_commit_vs_closed(tmp_path):
    out = kpis(write_source(tmp_path, OPPS), P)
    # closed in March: won O1 (03-05), O3 (expected 03-20), O8 (03-15);
    # lost O2 (03-12), O7 (03-28). O5 closes in April, O6 in February -> 3/(3+2)
    assert out["close_ratio"] == pytest.approx(3 / 5)
    # commit=true with expected close in March: O3 2000 + O4 3000 + O5 700 + O7 800 = 6500
    # (O1 expected in Feb, O8 not committed, O9 expected in April)
    assert out["committed_amount"] == pytest.approx(6500)
    # won with close date in March: O1 1000 + O3 2000 + O8 1500 = 4500
    assert out["won_amount"] == pytest.approx(4500)
    assert out["commit_vs_closed"] == pytest.approx(4500 / 6500)  # = 9/13


def test_close_ratio_by_salesperson(tmp_path):
    out = kpis(write_source(tmp_path, OPPS), P, "--by", "salesperson")
    rows = rows_by(out, "salesperson")
    # SP1: won O1; lost O2, O7 -> 1/3; committed O5 700 + O7 800 = 1500; won 1000
    assert rows["SP1"]["close_ratio"] == pytest.approx(1 / 3)
    assert rows["SP1"]["committed_amount"] == pytest.approx(1500)
    assert rows["SP1"]["won_amount"] == pytest.approx(1000)
    assert rows["SP1"]["commit_vs_closed"] == pytest.approx(1000 / 1500)
    # SP2: won O3, O8; no loss in March (O6 lost in Feb) -> 2/2; committed O3 2000 +
    # O4 3000 = 5000; won 2000 + 1500 = 3500
    assert rows["SP2"]["close_ratio"] == pytest.approx(2 / 2)
    assert rows["SP2"]["committed_amount"] == pytest.approx(5000)
    assert rows["SP2"]["won_amount"] == pytest.approx(3500)
    assert rows["SP2"]["commit_vs_closed"] == pytest.approx(3500 / 5000)
    # won counts recombine: 1/3*3 + 2/2*2 = 3 won of 5 closed
    assert out["close_ratio"] == pytest.approx(
        (rows["SP1"]["close_ratio"] * 3 + rows["SP2"]["close_ratio"] * 2) / 5
    )


def test_close_ratio_zero_wins_is_zero_not_null(tmp_path):
    out = kpis(write_source(tmp_path, OPPS), "2024-02")
    # February: lost O6 (close 02-27), nothing won -> 0/1 = 0 (a value)
    assert out["close_ratio"] is not None
    assert out["close_ratio"] == pytest.approx(0.0)
    # committed with expected close in Feb: O1 1000; won in Feb: none -> 0/1000 = 0
    assert out["committed_amount"] == pytest.approx(1000)
    assert out["won_amount"] == pytest.approx(0)
    assert out["commit_vs_closed"] == pytest.approx(0.0)


def test_close_ratio_nothing_closed_is_null(tmp_path):
    out = kpis(write_source(tmp_path, OPPS), "2024-06")
    # nothing closed, nothing committed in June -> both ratios 0/0 -> no value
    assert out["close_ratio"] is None
    assert out["commit_vs_closed"] is None


def test_commit_vs_closed_won_but_nothing_committed_is_null(tmp_path):
    src = write_source(
        tmp_path,
        {
            "opportunities": [
                opp("Q1", "SP1", "C1", "2024-03-10", 250, "won", "false", "2024-03-10"),
            ]
        },
    )
    out = kpis(src, P)
    assert out["won_amount"] == pytest.approx(250)
    assert out["committed_amount"] == pytest.approx(0)  # no commit=true line
    assert out["commit_vs_closed"] is None  # 250 / 0 -> no value
    assert out["close_ratio"] == pytest.approx(1.0)  # 1 won / 1 closed
