"""Hand-worked: forecast accuracy, bias and tracking signal on a bare source.

domain.md: at the item x location x period grain, accuracy = max(0, 1 - sum|A-F| / sum A),
bias = sum(F-A) / sum A; with no plan snapshots A = invoiced revenue
(sales_invoices.amount), F = sales-budget amount (summed over customers into the cell);
cells present on either side count, a missing side is 0. Tracking signal =
sum_t(A_t - F_t) / MAD, MAD = mean_t |A_t - F_t| over the last n periods that have data
(default 6) up to the requested period, A_t / F_t being period totals; no value with fewer
than 3 such periods (a month without data is not an error of 0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hw_support import bud, inv, kpis, rows_by, write_source

P = "2024-03"

FC = {
    "sales_invoices": [
        # March actuals by cell: (I1,WH1) 600+400 = 1000, (I2,WH1) 500, (I1,WH2) 300 -> 1800
        inv("FI1", 1, "2024-03-05", 600, customer="C1", item="I1", loc="WH1"),
        inv("FI2", 1, "2024-03-06", 400, customer="C2", item="I1", loc="WH1"),
        inv("FI3", 1, "2024-03-10", 500, customer="C1", item="I2", loc="WH1"),
        inv("FI4", 1, "2024-03-15", 300, customer="C1", item="I1", loc="WH2"),
        # earlier months, one cell each (I1, WH1)
        inv("FO1", 1, "2023-10-10", 500),
        inv("FN1", 1, "2023-11-10", 600),
        inv("FD1", 1, "2023-12-10", 700),
        inv("FJ1", 1, "2024-01-10", 1000),
        inv("FF1", 1, "2024-02-10", 800),
        # after the period: must not count
        inv("FA1", 1, "2024-04-10", 5000),
    ],
    "sales_budget": [
        # March forecast by cell: (I1,WH1) 800 (C1) + 300 (C2) = 1100, (I2,WH1) 450,
        # (I2,WH2) 200 (no actuals) -> 1750
        bud("2024-03", 800, customer="C1", item="I1", loc="WH1"),
        bud("2024-03", 300, customer="C2", item="I1", loc="WH1"),
        bud("2024-03", 450, customer="C1", item="I2", loc="WH1"),
        bud("2024-03", 200, customer="C2", item="I2", loc="WH2"),
        # earlier months (I1, WH1, C1); October has no budget
        bud("2023-09", 1000),  # 7th month back: outside a 6-period window
        bud("2023-11", 700),
        bud("2023-12", 700),
        bud("2024-01", 900),
        bud("2024-02", 1000),
        bud("2024-04", 100),  # after the period
    ],
}


def test_forecast_accuracy_and_bias_march(tmp_path):
    out = kpis(write_source(tmp_path, FC), P)
    # cells: (I1,WH1) |1000-1100| = 100; (I2,WH1) |500-450| = 50; (I1,WH2) |300-0| = 300;
    # (I2,WH2) |0-200| = 200 -> sum 650; sum A = 1800
    # (a customer-grain sum would give |600-800|+|400-300| = 300 for the first cell)
    assert out["forecast_accuracy"] == pytest.approx(1 - 650 / 1800)  # = 23/36 = 0.6389
    # sum F = 1100+450+0+200 = 1750; (1750-1800)/1800 = -50/1800 (under-forecast)
    assert out["forecast_bias"] == pytest.approx(-50 / 1800)


def test_forecast_accuracy_and_bias_february(tmp_path):
    out = kpis(write_source(tmp_path, FC), "2024-02")
    # one cell (I1,WH1): A 800, F 1000 -> 1 - 200/800 = 0.75; bias +200/800 = 0.25
    assert out["forecast_accuracy"] == pytest.approx(0.75)
    assert out["forecast_bias"] == pytest.approx(0.25)


def test_tracking_signal_default_6_periods(tmp_path):
    out = kpis(write_source(tmp_path, FC), P)
    # Oct..Mar A-F: Oct 500-0 = 500, Nov 600-700 = -100, Dec 700-700 = 0,
    # Jan 1000-900 = 100, Feb 800-1000 = -200, Mar 1800-1750 = 50  (Sep 0-1000 excluded)
    # sum = 350; MAD = (500+100+0+100+200+50)/6 = 950/6 -> 350*6/950 = 42/19 = 2.2105
    assert out["tracking_signal"] == pytest.approx(350 / (950 / 6))


def test_tracking_signal_3_periods(tmp_path):
    out = kpis(write_source(tmp_path, FC), P, "--ts-periods", "3")
    # Jan..Mar: 100 - 200 + 50 = -50; MAD = (100+200+50)/3 = 350/3 -> -150/350 = -3/7
    assert out["tracking_signal"] == pytest.approx(-50 / (350 / 3))


def test_forecast_by_location_recombines(tmp_path):
    out = kpis(write_source(tmp_path, FC), P, "--by", "location")
    rows = rows_by(out, "location")
    # WH1 cells (I1,WH1) 1000 vs 1100, (I2,WH1) 500 vs 450: sum|A-F| 150, sum A 1500
    assert rows["WH1"]["forecast_accuracy"] == pytest.approx(1 - 150 / 1500)  # 0.9
    assert rows["WH1"]["forecast_bias"] == pytest.approx((1550 - 1500) / 1500)  # 1/30
    # WH2 cells (I1,WH2) 300 vs 0, (I2,WH2) 0 vs 200: 1 - 500/300 < 0 -> floored at 0
    assert rows["WH2"]["forecast_accuracy"] == pytest.approx(0.0)
    assert rows["WH2"]["forecast_bias"] == pytest.approx((200 - 300) / 300)  # -1/3
    # bias numerators recombine: (1/30*1500 + (-1/3)*300) / 1800 = (50-100)/1800
    assert out["forecast_bias"] == pytest.approx(
        (rows["WH1"]["forecast_bias"] * 1500 + rows["WH2"]["forecast_bias"] * 300) / 1800
    )


def test_forecast_accuracy_floored_at_zero(tmp_path):
    src = write_source(
        tmp_path,
        {
            "sales_invoices": [inv("X1", 1, "2024-03-10", 100)],
            "sales_budget": [bud("2024-03", 400)],
        },
    )
    out = kpis(src, P)
    # 1 - |100-400|/100 = 1 - 3 = -2 -> max(0, -2) = 0 (a value, not null)
    assert out["forecast_accuracy"] is not None
    assert out["forecast_accuracy"] == pytest.approx(0.0)
    assert out["forecast_bias"] == pytest.approx(3.0)  # (400-100)/100
    # only March has data: 1 period < 3 -> no tracking signal (not -6 from empty months)
    assert out["tracking_signal"] is None
    assert out["tracking_signal_flag"] is None


def test_forecast_no_actuals_is_null(tmp_path):
    src = write_source(tmp_path, {"sales_budget": [bud("2024-03", 400)]})
    out = kpis(src, P)
    # sum A = 0 -> accuracy and bias have no value
    assert out["forecast_accuracy"] is None
    assert out["forecast_bias"] is None
    # tracking signal: one period with data (March) < 3 -> no value
    assert out["tracking_signal"] is None


def test_tracking_signal_perfect_forecast_is_null(tmp_path):
    src = write_source(
        tmp_path,
        {
            "sales_invoices": [inv("Y1", 1, "2024-03-10", 500), inv("Y2", 1, "2024-02-10", 300)],
            "sales_budget": [bud("2024-03", 500), bud("2024-02", 300)],
        },
    )
    out = kpis(src, P)
    assert out["forecast_accuracy"] == pytest.approx(1.0)  # 1 - 0/500
    assert out["forecast_bias"] == pytest.approx(0.0)  # 0/500
    assert out["tracking_signal"] is None  # MAD = 0 -> no value


def test_tracking_signal_window_counts_only_periods_with_data(tmp_path):
    src = write_source(
        tmp_path,
        {
            "sales_invoices": [inv("G1", 1, "2024-01-10", 300), inv("G3", 1, "2024-03-10", 500)],
            "sales_budget": [bud("2024-01", 200), bud("2024-03", 300)],
        },
    )
    out = kpis(src, P, "--ts-periods", "3")
    # periods with data: Jan (+100) and Mar (+200); February has none -> 2 periods < 3
    assert out["tracking_signal"] is None


def test_tracking_signal_window_reaches_back_over_a_gap(tmp_path):
    src = write_source(
        tmp_path,
        {
            "sales_invoices": [
                inv("G0", 1, "2023-11-10", 100),
                inv("G1", 1, "2024-01-10", 300),
                inv("G3", 1, "2024-03-10", 500),
            ],
            "sales_budget": [bud("2023-11", 400), bud("2024-01", 200), bud("2024-03", 300)],
        },
    )
    out = kpis(src, P, "--ts-periods", "3")
    # the last 3 periods with data: Nov 100-400 = -300, Jan +100, Mar +200 (Dec, Feb empty)
    # sum = 0 -> 0 / ((300 + 100 + 200) / 3) = 0.0
    assert out["tracking_signal"] == pytest.approx(0.0)
    out = kpis(src, P, "--ts-periods", "2")
    # n = 2 periods with data (Jan, Mar) < 3 -> no value, whatever the window asked
    assert out["tracking_signal"] is None


def test_tracking_signal_with_three_periods_of_data(tmp_path):
    src = write_source(
        tmp_path,
        {
            "sales_invoices": [
                inv("G1", 1, "2024-01-10", 300),
                inv("G2", 1, "2024-02-10", 400),
                inv("G3", 1, "2024-03-10", 500),
            ],
            "sales_budget": [bud("2024-01", 200), bud("2024-02", 400), bud("2024-03", 300)],
        },
    )
    out = kpis(src, P)  # default window 6, only 3 periods have data
    # Jan +100, Feb 0, Mar +200: sum 300, MAD = (100 + 0 + 200) / 3 = 100 -> 3.0, no flag
    assert out["tracking_signal"] == pytest.approx(300 / ((100 + 0 + 200) / 3))
    assert out["tracking_signal_flag"] is False
