"""Hand-worked figures for sales OTD, fill rate, vendor OTD and schedule attainment.

Every expected number is worked out on paper from docs/kpis.md; the arithmetic is in
the comment next to it.
"""

import pytest
from sources import line, ship, write_source

from sop_workbook.kpi import (
    build_facts,
    fill_rate,
    sales_otd,
    schedule_attainment,
    vendor_otd,
)
from sop_workbook.loader import load_source

P = "2026-03"


@pytest.fixture(scope="module")
def delivery(tmp_path_factory):
    src = write_source(
        tmp_path_factory.mktemp("delivery"),
        sales_lines=[
            line("O1", 1, 10, "2026-03-10"),
            line("O1", 2, 5, "2026-03-20", item="B"),
            line("O2", 1, 4, "", "2026-03-05", customer="C2", location="EAST"),
            line("O3", 1, 6, "2026-03-31", "2026-03-25", customer="C2", item="B",
                 location="EAST"),
            line("O4", 1, 8, "2026-04-02"),
        ],
        sales_shipments=[
            ship("S1", 1, "O1", 1, "2026-03-10", 10),  # exactly on the promised date
            ship("S1", 2, "O1", 2, "2026-03-19", 3),  # partial, before promise
            ship("S2", 1, "O1", 2, "2026-03-25", 2),  # rest, after promise
            ship("S3", 1, "O2", 1, "2026-03-06", 4),  # no promise: requested 03-05 → 1 d late
            ship("S4", 1, "O3", 1, "2026-03-30", 6),  # before promise, after request
            ship("S5", 1, "O4", 1, "2026-03-31", 8),  # early for an April promise
        ],
    )
    return build_facts(load_source(src))


def test_sales_otd_total_and_tolerance(delivery):
    # March shipment lines: S1/1 on, S1/2 on, S2/1 late, S3/1 late, S4/1 on, S5/1 on → 4/6
    assert sales_otd(delivery, P).value == pytest.approx(4 / 6)
    # tolerance 1 d: S3/1 (03-06 ≤ 03-05 + 1) becomes on time; S2/1 (03-25 > 03-21) stays late
    assert sales_otd(delivery, P, tolerance_days=1).value == pytest.approx(5 / 6)


def test_sales_otd_by_location(delivery):
    frame = sales_otd(delivery, P, by="location")
    # MAIN: S1/1 on, S1/2 on, S2/1 late, S5/1 on → 3/4; EAST: S3/1 late, S4/1 on → 1/2
    assert frame.loc["MAIN", "value"] == pytest.approx(3 / 4)
    assert frame.loc["EAST", "value"] == pytest.approx(1 / 2)


def test_fill_rate_levels(delivery):
    # due in March (promised basis): O1/1 (03-10) filled 10/10; O1/2 (03-20) 3 of 5 by then
    # → not; O2/1 (requested 03-05) nothing by then → not; O3/1 (03-31) 6/6 → filled.
    # O4/1 is due in April and not counted.
    assert fill_rate(delivery, P).value == pytest.approx(2 / 4)
    # unit: (min(10,10) + min(3,5) + 0 + min(6,6)) / (10+5+4+6) = 19/25
    assert fill_rate(delivery, P, level="unit").value == pytest.approx(19 / 25)
    # order: O1 has an unfilled line → no; O2 no; O3 yes → 1/3
    assert fill_rate(delivery, P, level="order").value == pytest.approx(1 / 3)


def test_fill_rate_tolerance_and_basis(delivery):
    # tolerance 1 d: O2/1 shipped 03-06 ≤ 03-05+1 → filled; O1/2 still 3 of 5 by 03-21 → 3/4
    assert fill_rate(delivery, P, tolerance_days=1).value == pytest.approx(3 / 4)
    # requested basis: O1/1 (no request → promise 03-10) filled; O1/2 (→ 03-20) no;
    # O2/1 (03-05) no; O3/1 requested 03-25, shipped 03-30 → no → 1/4
    assert fill_rate(delivery, P, basis="requested").value == pytest.approx(1 / 4)


def test_fill_rate_early_shipment_and_empty_period(delivery):
    # April: only O4/1 due (04-02), shipped in full on 03-31 → 1/1
    assert fill_rate(delivery, "2026-04").value == pytest.approx(1.0)
    # May: no line due → no value, not 0 and not 1
    assert fill_rate(delivery, "2026-05").value is None
    assert sales_otd(delivery, "2026-05").value is None


def test_fill_rate_cuts(delivery):
    by_customer = fill_rate(delivery, P, by="customer")
    # C1: O1/1 filled, O1/2 not → 1/2; C2: O2/1 not, O3/1 filled → 1/2
    assert by_customer.loc["C1", "value"] == pytest.approx(1 / 2)
    assert by_customer.loc["C2", "value"] == pytest.approx(1 / 2)
    by_person = fill_rate(delivery, P, by="salesperson")
    assert by_person.loc["JO", "value"] == pytest.approx(1 / 2)  # JO sells to C1
    by_category = fill_rate(delivery, P, level="order", by="category")
    # WIDGETS (item A): O1 via line 1 (filled) yes, O2 no → 1/2
    # GADGETS (item B): O1 via line 2 (not filled) no, O3 yes → 1/2
    assert by_category.loc["WIDGETS", "value"] == pytest.approx(1 / 2)
    assert by_category.loc["GADGETS", "value"] == pytest.approx(1 / 2)


@pytest.fixture(scope="module")
def supply(tmp_path_factory):
    def receipt(no, vendor, item, expected, received):
        return {"receipt_no": no, "line_no": 1, "vendor_no": vendor, "item_no": item,
                "expected_receipt_date": expected, "receipt_date": received, "quantity": 5}

    def prod(no, item, due, planned, finished_date="", finished_qty=""):
        return {"prod_order_no": no, "item_no": item, "location_code": "MAIN",
                "due_date": due, "planned_quantity": planned, "finished_date": finished_date,
                "finished_quantity": finished_qty, "work_center": "WC" + item}

    src = write_source(
        tmp_path_factory.mktemp("supply"),
        purchase_receipts=[
            receipt("R1", "V1", "A", "2026-03-10", "2026-03-10"),  # on the day
            receipt("R5", "V1", "B", "2026-03-10", "2026-03-12"),  # 2 d late
            receipt("R2", "V2", "A", "2026-03-20", "2026-03-05"),  # 15 d early
            receipt("R3", "V2", "B", "2026-03-30", "2026-04-01"),  # received in April
            receipt("R4", "V1", "A", "2026-02-25", "2026-03-01"),  # 4 d late
        ],
        production_orders=[
            prod("P1", "A", "2026-03-10", 100, "2026-03-09", 120),  # over-produced: capped
            prod("P2", "A", "2026-03-15", 50, "2026-03-16", 50),  # finished late → 0
            prod("P3", "B", "2026-03-20", 40, "2026-03-20", 30),  # short, on the due date
            prod("P4", "B", "2026-03-31", 60),  # still open → 0
            prod("P5", "A", "2026-04-05", 70),  # due in April
        ],
    )
    return build_facts(load_source(src))


def test_vendor_otd_windows(supply):
    # March receipts: R1 on, R5 late, R2 early (on: early unlimited), R4 late → 2/4
    assert vendor_otd(supply, P).value == pytest.approx(2 / 4)
    # 2 days late allowed: R5 (03-12 ≤ 03-12) on; R4 (03-01 > 02-27) late → 3/4
    assert vendor_otd(supply, P, days_late=2).value == pytest.approx(3 / 4)
    # 5 d early, 2 d late: R2 (03-05 < 03-15) now off-window → R1, R5 → 2/4
    assert vendor_otd(supply, P, days_early=5, days_late=2).value == pytest.approx(2 / 4)
    # April: R3 one day late → 0/1 = 0 (a real zero, not "no value")
    assert vendor_otd(supply, "2026-04").value == 0.0


def test_vendor_otd_by_vendor(supply):
    frame = vendor_otd(supply, P, by="vendor")
    assert frame.loc["V1", "value"] == pytest.approx(1 / 3)  # R1 on; R5, R4 late
    assert frame.loc["V2", "value"] == pytest.approx(1.0)  # R2 early → on


def test_schedule_attainment(supply):
    # Σ min(finished by due, planned) = 100 (P1 capped) + 0 (P2 late) + 30 (P3) + 0 (P4 open)
    # Σ planned = 100 + 50 + 40 + 60 = 250 → 130/250
    assert schedule_attainment(supply, P).value == pytest.approx(130 / 250)
    frame = schedule_attainment(supply, P, by="item")
    assert frame.loc["A", "value"] == pytest.approx(100 / 150)  # P1 100 + P2 0 of 150
    assert frame.loc["B", "value"] == pytest.approx(30 / 100)  # P3 30 + P4 0 of 100
    assert schedule_attainment(supply, "2026-02").value is None  # nothing due
