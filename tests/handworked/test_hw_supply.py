"""Hand-worked: schedule attainment, inventory turns, days of supply.

Definitions from domain.md / data-contract.md:
- Schedule attainment: for production orders due in the period,
  sum min(qty finished by the due date, planned) / sum planned; an order finished after
  its due date counts 0; an open order (no finished date/qty) counts 0.
- Inventory turns: annualised COGS / average inventory value; for months m1..mn the
  average is mean(end(m0), end(m1) ... end(mn)), annualised COGS = COGS(n months)*12/n.
  COGS = sum sales_invoices.cost_amount posted in the months.
- Days of supply (looking back): on-hand qty at period end / (qty shipped in the period /
  days in the period); a total over items is sum on-hand / sum average daily demand.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hw_support import inv, kpis, prod, rows_by, sh, sl, stock, write_source

P = "2024-03"

PROD = {
    "production_orders": [
        # due 03-10, 120 finished 03-09 against 100 planned -> capped at 100
        prod(
            "P1",
            "2024-03-10",
            100,
            "2024-03-09",
            120,
            item="I1",
            loc="WH1",
            status="finished",
            work_center="WC1",
        ),
        # due 03-15, 40 of 50 finished on the due date itself -> 40
        prod(
            "P2",
            "2024-03-15",
            50,
            "2024-03-15",
            40,
            item="I2",
            loc="WH1",
            status="finished",
            work_center="WC2",
        ),
        # due 03-20, all 30 finished 03-22 (after due) -> 0
        prod(
            "P3",
            "2024-03-20",
            30,
            "2024-03-22",
            30,
            item="I1",
            loc="WH2",
            status="finished",
            work_center="WC1",
        ),
        # due 03-25, still open (no finished date / qty) -> 0
        prod("P4", "2024-03-25", 20, item="I2", loc="WH2", status="released", work_center="WC2"),
        # due in April: not in March even though finished in March
        prod(
            "P5",
            "2024-04-05",
            70,
            "2024-03-30",
            70,
            item="I1",
            loc="WH1",
            status="finished",
            work_center="WC1",
        ),
        # due in February, finished (late) in March: not in March
        prod(
            "P6",
            "2024-02-20",
            40,
            "2024-03-01",
            40,
            item="I1",
            loc="WH1",
            status="finished",
            work_center="WC2",
        ),
    ],
}


def test_schedule_attainment(tmp_path):
    out = kpis(write_source(tmp_path, PROD), P)
    # due in March: P1..P4, planned 100+50+30+20 = 200
    # credited: P1 min(120,100)=100, P2 40, P3 0 (late), P4 0 (open) = 140 -> 140/200 = 0.7
    # (uncapped would give 160/200 = 0.8)
    assert out["schedule_attainment"] == pytest.approx(140 / 200)


def test_schedule_attainment_by_work_center(tmp_path):
    out = kpis(write_source(tmp_path, PROD), P, "--by", "work_center")
    rows = rows_by(out, "work_center")
    assert rows["WC1"]["schedule_attainment"] == pytest.approx(100 / 130)  # P1 100, P3 0 of 100+30
    assert rows["WC2"]["schedule_attainment"] == pytest.approx(40 / 70)  # P2 40, P4 0 of 50+20


def test_schedule_attainment_nothing_due_is_null(tmp_path):
    out = kpis(write_source(tmp_path, PROD), "2024-05")
    assert out["schedule_attainment"] is None  # no order due in May: 0/0 -> no value


# ------------------------------------------------------------------ inventory
STOCK = {
    "inventory": [
        # period-end values: Dec 1000+200=1200, Jan 1100+400=1500, Feb 1300+500=1800,
        # Mar 1500+600=2100. Quantities: Jan 110+40=150, Feb 90+30=120, Mar 150+60=210
        stock("2023-12", 100, 1000, item="I1"),
        stock("2023-12", 40, 200, item="I2"),
        stock("2024-01", 110, 1100, item="I1"),
        stock("2024-01", 40, 400, item="I2"),
        stock("2024-02", 90, 1300, item="I1"),
        stock("2024-02", 30, 500, item="I2"),
        stock("2024-03", 150, 1500, item="I1"),
        stock("2024-03", 60, 600, item="I2"),
    ],
    "sales_invoices": [
        # COGS: Dec 777 (outside every window below), Jan 300, Feb 450, Mar 400+200 = 600,
        # Apr 999 (after the period)
        inv("CI0", 1, "2023-12-15", 1500, cost=777),
        inv("CI1", 1, "2024-01-20", 600, cost=300),
        inv("CI2", 1, "2024-02-20", 900, cost=450),
        inv("CI3", 1, "2024-03-05", 800, cost=400, item="I1"),
        inv("CI3", 2, "2024-03-25", 400, cost=200, item="I2"),
        inv("CI4", 1, "2024-04-02", 2000, cost=999),
    ],
    "sales_lines": [
        sl("DS1", 1, promised="2024-03-10", qty=62, item="I1"),
        sl("DS1", 2, promised="2024-03-12", qty=31, item="I2"),
        sl("DS2", 1, promised="2024-02-10", qty=58, item="I1"),
    ],
    "sales_shipments": [
        sh("DSS1", 1, "DS1", 1, "2024-03-09", 62),  # March demand I1
        sh("DSS1", 2, "DS1", 2, "2024-03-12", 31),  # March demand I2
        sh("DSS2", 1, "DS2", 1, "2024-02-10", 58),  # February demand I1
    ],
}


def test_inventory_turns_one_month_default(tmp_path):
    out = kpis(write_source(tmp_path, STOCK), P)
    # COGS Mar 600 * 12 = 7200; avg inventory mean(end Feb 1800, end Mar 2100) = 1950
    assert out["inventory_turns"] == pytest.approx(7200 / 1950)  # = 3.6923


def test_inventory_turns_one_month_explicit(tmp_path):
    out = kpis(write_source(tmp_path, STOCK), P, "--turns-months", "1")
    assert out["inventory_turns"] == pytest.approx(7200 / 1950)  # as above


def test_inventory_turns_three_months(tmp_path):
    out = kpis(write_source(tmp_path, STOCK), P, "--turns-months", "3")
    # months Jan..Mar: COGS 300+450+600 = 1350, annualised 1350*12/3 = 5400
    # avg inventory mean(end Dec 1200, Jan 1500, Feb 1800, Mar 2100) = 6600/4 = 1650
    assert out["inventory_turns"] == pytest.approx(5400 / 1650)  # = 3.2727


def test_inventory_turns_january(tmp_path):
    out = kpis(write_source(tmp_path, STOCK), "2024-01")
    # COGS Jan 300*12 = 3600; mean(end Dec 1200, end Jan 1500) = 1350 -> 8/3
    assert out["inventory_turns"] == pytest.approx(3600 / 1350)


def test_days_of_supply_march(tmp_path):
    out = kpis(write_source(tmp_path, STOCK), P)
    # on-hand end Mar 150+60 = 210; shipped in Mar 62+31 = 93 over 31 days = 3/day -> 70
    assert out["days_of_supply"] == pytest.approx(210 / (93 / 31))


def test_days_of_supply_february_leap_year(tmp_path):
    out = kpis(write_source(tmp_path, STOCK), "2024-02")
    # on-hand end Feb 90+30 = 120; shipped in Feb 58 over 29 days (2024 leap) = 2/day -> 60
    assert out["days_of_supply"] == pytest.approx(120 / (58 / 29))


def test_days_of_supply_no_demand_is_null(tmp_path):
    out = kpis(write_source(tmp_path, STOCK), "2024-01")
    # on-hand end Jan 150 but nothing shipped in January: 150 / (0/31) -> no value
    assert out["days_of_supply"] is None


def test_days_of_supply_by_item_and_total(tmp_path):
    out = kpis(write_source(tmp_path, STOCK), P, "--by", "item")
    rows = rows_by(out, "item")
    assert rows["I1"]["days_of_supply"] == pytest.approx(150 / (62 / 31))  # 150/2 = 75
    assert rows["I2"]["days_of_supply"] == pytest.approx(60 / (31 / 31))  # 60/1 = 60
    # total = sum on-hand / sum daily demand = 210/3 = 70, not the mean of rows (67.5)
    assert out["days_of_supply"] == pytest.approx(70)


def test_inventory_turns_no_inventory_is_null(tmp_path):
    src = write_source(tmp_path, {"sales_invoices": [inv("Z1", 1, "2024-03-10", 200, cost=100)]})
    out = kpis(src, P)
    # COGS 100*12 but average inventory mean(0, 0) = 0 -> no value
    assert out["inventory_turns"] is None
