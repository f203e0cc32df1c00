"""Hand-worked: adherence to standard lead times (by salesperson) and labour absorption
(by work center), through `sop kpis` (in memory) and the workbook path (SQL aggregates and
the UDFs' functions).

domain.md: adherence = sales lines ordered in the period whose promised date >= order
date + the item's lead_time_days / those lines; lines of items without a standard lead
time are left out and counted apart. Labour absorption = standard hours earned (sum of
finished quantity x routing hours per unit, production finished in the period) / hours
worked in the period (capacity ledger); over/under-absorbed payroll = (earned - worked)
x labour rate (positive = over-absorbed). A promised date left empty falls back to the
requested date (the contract's rule for every due date).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hw_support import MASTER, kpis, prod, rows_by, sl, write_source

from sop_workbook.kpi import ratios
from sop_workbook.sql import load_aggregates

P = "2024-03"
LEAD = {"I1": 10, "I2": 5, "I3": "", "I4": 0}  # I3 has no standard lead time
ITEMS = [{**item, "lead_time_days": LEAD[item["item_no"]]} for item in MASTER["items"]]


def ledger(no, centre, date, hours):
    return {"entry_no": no, "work_center": centre, "posting_date": date, "hours": hours,
            "cost_amount": hours * 40}


SOURCE = {
    "sales_lines": [
        # C1 = salesperson SP1
        sl("SO1", 1, "2024-03-11", 5, order_date="2024-03-01"),  # I1: 10 d >= 10 -> kept
        sl("SO1", 2, "2024-03-08", 5, order_date="2024-03-01"),  # I1: 7 d < 10 -> missed
        sl("SO1", 3, "2024-03-03", 5, item="I3", order_date="2024-03-02"),  # no standard
        # C2 = salesperson SP2
        sl("SO2", 1, "", 5, requested="2024-03-22", customer="C2", item="I2",
           order_date="2024-03-15"),  # I2: requested 7 d >= 5 -> kept
        sl("SO2", 2, "2024-04-05", 5, customer="C2", item="I2",
           order_date="2024-03-31"),  # I2: 5 d >= 5 -> kept
        sl("SO3", 1, "2024-03-10", 5, customer="C2", order_date="2024-02-20"),  # February
    ],
    "routings": [
        {"item_no": "I1", "work_center": "WC1", "hours_per_unit": 0.5},
        {"item_no": "I1", "work_center": "WC2", "hours_per_unit": 0.25},
        {"item_no": "I2", "work_center": "WC1", "hours_per_unit": 1.0},
    ],
    "production_orders": [
        prod("P1", "2024-03-12", 100, "2024-03-10", 100, work_center="WC1"),
        prod("P2", "2024-03-25", 30, "2024-03-20", 30, item="I2", work_center="WC1"),
        prod("P3", "2024-02-28", 40, "2024-02-27", 40, work_center="WC1"),  # February
        prod("P4", "2024-03-31", 50, item="I2"),  # open: earns nothing
    ],
    "capacity_ledger": [
        ledger(1, "WC1", "2024-03-10", 60),
        ledger(2, "WC1", "2024-03-20", 40),
        ledger(3, "WC2", "2024-03-10", 20),
        ledger(4, "WC1", "2024-02-27", 22),  # February
    ],
}


def source(tmp_path):
    return write_source(tmp_path, SOURCE, replace={"items": ITEMS})


def test_lead_time_adherence_and_labour_absorption(tmp_path):
    out = kpis(source(tmp_path), P, "--labour-rate", "40")
    # March lines with a standard: SO1/1 kept, SO1/2 missed, SO2/1 kept, SO2/2 kept -> 3/4
    assert out["lead_time_adherence"] == pytest.approx(3 / 4)
    assert out["detail"]["lead_time_adherence"]["without_standard"] == 1  # SO1/3 (I3)
    # earned: WC1 100 x 0.5 + 30 x 1.0 = 80, WC2 100 x 0.25 = 25 -> 105
    # worked (March ledger): WC1 60 + 40 = 100, WC2 20 -> 120
    assert out["labour_absorption"] == pytest.approx(105 / 120)  # 0.875
    assert out["absorbed_payroll"] == pytest.approx((105 - 120) * 40)  # -600: under-absorbed


def test_no_labour_rate_no_payroll(tmp_path):
    out = kpis(source(tmp_path), P)
    assert out["absorbed_payroll"] is None
    assert out["labour_absorption"] == pytest.approx(105 / 120)


def test_by_their_natural_dimensions(tmp_path):
    src = source(tmp_path)
    people = rows_by(kpis(src, P, "--by", "salesperson"), "salesperson")
    assert people["SP1"]["lead_time_adherence"] == pytest.approx(1 / 2)  # SO1/1 of SO1/1-2
    assert people["SP2"]["lead_time_adherence"] == pytest.approx(2 / 2)  # SO2/1, SO2/2
    centres = rows_by(kpis(src, P, "--by", "work_center", "--labour-rate", "40"),
                      "work_center")
    assert centres["WC1"]["labour_absorption"] == pytest.approx(80 / 100)
    assert centres["WC1"]["absorbed_payroll"] == pytest.approx((80 - 100) * 40)  # -800
    assert centres["WC2"]["labour_absorption"] == pytest.approx(25 / 20)
    assert centres["WC2"]["absorbed_payroll"] == pytest.approx((25 - 20) * 40)  # +200


def test_workbook_path_gives_the_same_figures(tmp_path):
    tables = load_aggregates(str(source(tmp_path))).tables
    lead, labour = tables["agg_lead_time"], tables["agg_labour"]
    assert ratios.lead_time_adherence(lead, P) == pytest.approx(3 / 4)
    assert ratios.lead_time_adherence(lead, P, "salesperson", "SP1") == pytest.approx(0.5)
    assert lead[lead["period"] == P]["lt_without_standard"].sum() == 1
    assert ratios.labour_absorption(labour, P) == pytest.approx(105 / 120)
    assert ratios.labour_absorption(labour, P, "work_center", "WC2") == \
        pytest.approx(25 / 20)
    assert ratios.absorbed_payroll(labour, P, 40) == pytest.approx(-600)
    by_centre = ratios.labour_by_work_center(labour, P, 40).set_index("work_center")
    assert by_centre.loc["WC1", "absorbed_payroll"] == pytest.approx(-800)
    assert by_centre.loc["WC1", "worked_hours"] == pytest.approx(100)
