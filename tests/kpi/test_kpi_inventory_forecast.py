"""Hand-worked figures for inventory turns, days of supply and forecast KPIs."""

import pytest
from sources import line, ship, write_source

from sop_workbook.kpi import (
    build_facts,
    days_of_supply,
    forecast_error,
    inventory_turns,
    tracking_signal,
)
from sop_workbook.loader import load_source

P = "2026-03"


def stock(period, item, location, qty, value):
    return {"period": period, "item_no": item, "location_code": location, "quantity": qty,
            "value": value}


def invoice(no, date, item, location, amount, cost=0, customer="C1", qty=1):
    return {"invoice_no": no, "line_no": 1, "posting_date": date, "customer_no": customer,
            "item_no": item, "location_code": location, "quantity": qty, "amount": amount,
            "cost_amount": cost}


def budget(period, customer, item, location, amount, qty=1):
    return {"period": period, "customer_no": customer, "item_no": item,
            "location_code": location, "quantity": qty, "amount": amount}


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    src = write_source(
        tmp_path_factory.mktemp("inventory"),
        inventory=[
            stock("2026-01", "A", "MAIN", 100, 1000), stock("2026-01", "B", "MAIN", 50, 250),
            stock("2026-02", "A", "MAIN", 80, 800), stock("2026-02", "B", "MAIN", 40, 200),
            stock("2026-03", "A", "MAIN", 60, 600), stock("2026-03", "A", "EAST", 20, 200),
        ],
        sales_invoices=[
            invoice("I1", "2026-02-10", "A", "MAIN", 400, 200),
            invoice("I2", "2026-02-15", "B", "MAIN", 80, 50),
            invoice("I3", "2026-03-05", "A", "MAIN", 400, 200),
            invoice("I4", "2026-03-20", "B", "EAST", 320, 200),
        ],
        sales_lines=[line("O1", 1, 31, "2026-03-10"),
                     line("O2", 1, 62, "2026-03-15", item="B", location="EAST")],
        sales_shipments=[ship("S1", 1, "O1", 1, "2026-03-10", 31),
                         ship("S2", 1, "O2", 1, "2026-03-15", 62)],
    )
    return build_facts(load_source(src))


def test_inventory_turns_one_month(inventory):
    # COGS March = 200 + 200 = 400 → ×12 = 4800; average of end Feb (800+200=1000) and
    # end March (600+200=800) = 900 → 4800/900
    assert inventory_turns(inventory, P).value == pytest.approx(4800 / 900)


def test_inventory_turns_windows(inventory):
    # 2 months (Feb, Mar): COGS 250 + 400 = 650 → ×12/2 = 3900;
    # average of end Jan 1250, Feb 1000, Mar 800 = 3050/3 → 3900 / (3050/3)
    assert inventory_turns(inventory, P, months=2).value == pytest.approx(3900 / (3050 / 3))
    # 3 months (Jan–Mar): the opening end-Dec is not in the source (unknown, left out):
    # COGS 0 + 650 → ×12/3 = 2600; average of Jan, Feb, Mar = 3050/3
    assert inventory_turns(inventory, P, months=3).value == pytest.approx(2600 / (3050 / 3))


def test_inventory_turns_cuts(inventory):
    by_item = inventory_turns(inventory, P, by="item")
    # A: COGS 200 ×12 = 2400 / mean(800, 600+200) = 800 → 3; B: 2400 / mean(200, 0) = 24
    assert by_item.loc["A", "value"] == pytest.approx(3.0)
    assert by_item.loc["B", "value"] == pytest.approx(24.0)
    by_loc = inventory_turns(inventory, P, by="location")
    # MAIN: 2400 / mean(1000, 600) = 3; EAST: 2400 / mean(0, 200) = 24
    assert by_loc.loc["MAIN", "value"] == pytest.approx(3.0)
    assert by_loc.loc["EAST", "value"] == pytest.approx(24.0)


def test_days_of_supply(inventory):
    # on hand end March 60 + 20 = 80; shipped 31 + 62 = 93 in 31 days = 3/day → 80/3
    assert days_of_supply(inventory, P).value == pytest.approx(80 / 3)
    by_item = days_of_supply(inventory, P, by="item")
    assert by_item.loc["A", "value"] == pytest.approx(80.0)  # 80 / (31/31)
    assert by_item.loc["B", "value"] == pytest.approx(0.0)  # no B on hand, 2/day demand
    by_loc = days_of_supply(inventory, P, by="location")
    assert by_loc.loc["MAIN", "value"] == pytest.approx(60.0)  # 60 / (31/31)
    assert by_loc.loc["EAST", "value"] == pytest.approx(10.0)  # 20 / (62/31)
    assert days_of_supply(inventory, "2026-02").value is None  # 120 on hand, no demand
    assert days_of_supply(inventory, "2026-04").value is None  # no inventory rows at all


@pytest.fixture(scope="module")
def forecast(tmp_path_factory):
    src = write_source(
        tmp_path_factory.mktemp("forecast"),
        sales_invoices=[
            invoice("J1", "2026-01-15", "A", "MAIN", 100),
            invoice("F1", "2026-02-15", "A", "MAIN", 100),
            invoice("M1", "2026-03-03", "A", "MAIN", 100),
            invoice("M2", "2026-03-04", "A", "MAIN", 50, customer="C2"),
            invoice("M3", "2026-03-09", "B", "EAST", 200, customer="C2"),
        ],
        sales_budget=[
            budget("2026-01", "C1", "A", "MAIN", 80),
            budget("2026-02", "C1", "A", "MAIN", 90),
            budget("2026-03", "C1", "A", "MAIN", 120),
            budget("2026-03", "C2", "A", "MAIN", 60),
            budget("2026-03", "C1", "B", "EAST", 150),
            budget("2026-03", "C1", "B", "MAIN", 40),
        ],
    )
    return build_facts(load_source(src))


def test_forecast_accuracy_and_bias(forecast):
    err = forecast_error(forecast, P)
    # cells (item, location): (A,MAIN) A=150 F=180 → 30; (B,EAST) A=200 F=150 → 50;
    # (B,MAIN) A=0 F=40 → 40. Σ|A−F| = 120, ΣA = 350, ΣF = 370
    assert err.accuracy == pytest.approx(1 - 120 / 350)
    assert err.bias == pytest.approx((370 - 350) / 350)


def test_forecast_accuracy_by_customer_floors_at_zero(forecast):
    frame = forecast_error(forecast, P, by="customer")
    # C1: (A,MAIN) 100 vs 120 → 20; (B,EAST) 0 vs 150 → 150; (B,MAIN) 0 vs 40 → 40
    #     Σ|A−F| = 210, ΣA = 100 → 1 − 2.1 < 0 → 0; bias (310 − 100)/100 = 2.1
    assert frame.loc["C1", "accuracy"] == 0.0
    assert frame.loc["C1", "bias"] == pytest.approx(2.1)
    # C2: (A,MAIN) 50 vs 60 → 10; (B,EAST) 200 vs 0 → 200 → 1 − 210/250 = 0.16
    assert frame.loc["C2", "accuracy"] == pytest.approx(0.16)
    assert frame.loc["C2", "bias"] == pytest.approx((60 - 250) / 250)


def test_tracking_signal(forecast):
    # errors A−F per period: Jan 100−80 = +20, Feb 100−90 = +10, Mar 350−370 = −20
    # Σ = 10; MAD = (20 + 10 + 20)/3 → TS = 10 / (50/3) = 0.6
    assert tracking_signal(forecast, P, periods=3) == pytest.approx(0.6)
    # a 6-period window: Oct–Dec have no data, so they are not periods of the window:
    # the same 3 periods → 0.6 (not 10 / (50/6) = 1.2 with empty months as errors of 0)
    assert tracking_signal(forecast, P, periods=6) == pytest.approx(0.6)
    # Jan alone: 1 period with data < 3 → no value
    assert tracking_signal(forecast, "2026-01", periods=1) is None
    assert tracking_signal(forecast, P, periods=2) is None  # 2 periods < 3
    assert tracking_signal(forecast, "2025-06", periods=3) is None  # no data → no MAD
    assert forecast_error(forecast, "2025-06").accuracy is None


def test_tracking_signal_total_from_month_errors_equals_the_grid(tmp_path):
    """The whole business's tracking signal reads the per-month errors build_facts keeps
    (Facts.month_errors); it equals the general path (the item × location × month grid)
    for every period, before, inside and after the data, and every window."""
    import dataclasses
    import math

    from sop_workbook import demo_data
    from sop_workbook.kpi import build_facts
    from sop_workbook.loader import load_source

    demo_data.write(tmp_path, items=10, months=14)
    facts = build_facts(load_source(tmp_path))
    grid = dataclasses.replace(facts, month_errors=None)
    first, _err, had = facts.month_errors
    assert had.sum() >= 12
    checked = 0
    for month in range(first - 2, first + len(had) + 3):
        period = f"{month // 12:04d}-{month % 12 + 1:02d}"
        for n in (1, 3, 6, 12):
            a, b = tracking_signal(facts, period, periods=n), tracking_signal(grid, period,
                                                                             periods=n)
            assert (a is None) == (b is None), (period, n, a, b)
            if a is not None:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (period, n)
                checked += 1
    assert checked > 20
