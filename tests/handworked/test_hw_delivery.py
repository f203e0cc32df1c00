"""Hand-worked: sales OTD, fill rate (line/unit/order, promised/requested), vendor OTD.

Period under test: 2024-03 (31 days). Definitions from domain.md:
- Sales OTD: shipment lines whose shipment date <= promised date (+ tolerance days) /
  shipment lines shipped in the period; no promised date -> requested date.
- Fill rate: lines due in the period (by promised date) whose full ordered quantity had
  shipped on or before the promised date (+ tolerance); unit / line / order variants.
- Vendor OTD: receipt lines received inside [expected - early, expected + late] /
  receipt lines received in the period. Defaults late 0, early unlimited.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hw_support import kpis, rcpt, rows_by, sh, sl, write_source

P = "2024-03"

# ------------------------------------------------------------------ sales OTD
OTD = {
    "sales_lines": [
        sl("OT1", 1, promised="2024-03-10", qty=10),
        sl("OT1", 2, promised="2024-03-15", qty=5),
        sl("OT2", 1, promised="", requested="2024-03-20", qty=8, loc="WH2"),
        sl("OT3", 1, promised="2024-03-05", qty=4),
        sl("OT4", 1, promised="2024-02-28", qty=3),
        sl("OT5", 1, promised="2024-03-25", qty=6, loc="WH2"),
        sl("OT6", 1, promised="2024-03-30", qty=2, loc="WH2"),
    ],
    "sales_shipments": [
        sh("OS1", 1, "OT1", 1, "2024-03-10", 10),  # = promised: on time at tol 0 (boundary)
        sh("OS1", 2, "OT1", 2, "2024-03-17", 5),  # promised+2: late @0/@1, on time @2 (boundary)
        sh("OS2", 1, "OT2", 1, "2024-03-19", 8),  # no promised -> requested 03-20: on time
        sh("OS3", 1, "OT3", 1, "2024-03-08", 4),  # promised+3: late @0, @1 and @2
        sh("OS4", 1, "OT4", 1, "2024-02-29", 3),  # shipped in February: not in March at all
        sh("OS5", 1, "OT5", 1, "2024-03-26", 6),  # promised+1: late @0, on time @1 and @2
        sh("OS6", 1, "OT6", 1, "2024-04-01", 2),  # shipped in April: not in March
    ],
}


def test_sales_otd_default_tolerance_0(tmp_path):
    out = kpis(write_source(tmp_path, OTD), P)
    # March shipment lines: OS1/1, OS1/2, OS2/1, OS3/1, OS5/1 = 5 (OS4 Feb, OS6 Apr excluded)
    # on time @0: OS1/1 (03-10 <= 03-10), OS2/1 (03-19 <= requested 03-20) -> 2/5
    assert out["sales_otd"] == pytest.approx(2 / 5)


def test_sales_otd_tolerance_0_explicit(tmp_path):
    out = kpis(write_source(tmp_path, OTD), P, "--tolerance-days", "0")
    assert out["sales_otd"] == pytest.approx(2 / 5)  # same as default, see above


def test_sales_otd_tolerance_1(tmp_path):
    out = kpis(write_source(tmp_path, OTD), P, "--tolerance-days", "1")
    # on time @1: OS1/1, OS2/1, OS5/1 (03-26 <= 03-25+1); OS1/2 (+2) and OS3/1 (+3) late
    assert out["sales_otd"] == pytest.approx(3 / 5)


def test_sales_otd_tolerance_2_boundary(tmp_path):
    out = kpis(write_source(tmp_path, OTD), P, "--tolerance-days", "2")
    # on time @2: OS1/1, OS1/2 (03-17 <= 03-15+2 exactly), OS2/1, OS5/1; OS3/1 (+3) late
    assert out["sales_otd"] == pytest.approx(4 / 5)


def test_sales_otd_missing_promised_falls_back_to_requested(tmp_path):
    src = write_source(
        tmp_path,
        {
            "sales_lines": [
                sl("FB1", 1, promised="", requested="2024-03-20", qty=1),
                sl("FB2", 1, promised="", requested="2024-03-20", qty=1),
            ],
            "sales_shipments": [
                sh("FS1", 1, "FB1", 1, "2024-03-19", 1),  # before requested -> on time
                sh("FS2", 1, "FB2", 1, "2024-03-21", 1),  # after requested -> late
            ],
        },
    )
    out = kpis(src, P)
    # 1 on time of 2 lines shipped (would be 2/2 or 0/2 if the empty date were ignored)
    assert out["sales_otd"] == pytest.approx(1 / 2)


# ------------------------------------------------------------------ fill rate
FILL = {
    "sales_lines": [
        sl("FR1", 1, promised="2024-03-10", requested="2024-03-10", qty=10),
        sl("FR1", 2, promised="2024-03-15", requested="2024-03-15", qty=5),
        sl("FR2", 1, promised="2024-03-20", requested="2024-03-18", qty=8, loc="WH2"),
        sl("FR3", 1, promised="2024-03-25", requested="2024-03-25", qty=4),
        sl("FR3", 2, promised="2024-03-28", requested="2024-03-28", qty=10),
        sl("FR4", 1, promised="2024-04-02", requested="2024-03-29", qty=3, loc="WH2"),
        sl("FR5", 1, promised="2024-02-28", requested="2024-02-27", qty=7),
        sl("FR6", 1, promised="2024-03-12", requested="", qty=2, loc="WH2"),
    ],
    "sales_shipments": [
        sh("FS1", 1, "FR1", 1, "2024-03-05", 6),  # FR1/1 partial before promise
        sh("FS2", 1, "FR1", 1, "2024-03-10", 4),  # FR1/1 completed on the promised date
        sh("FS1", 2, "FR1", 2, "2024-03-14", 4),  # FR1/2 partial before promise (4 of 5)
        sh("FS3", 1, "FR1", 2, "2024-03-20", 1),  # FR1/2 remainder 5 days after promise
        sh("FS4", 1, "FR2", 1, "2024-03-19", 8),  # FR2/1 full, 1 day before promise
        sh("FS5", 1, "FR3", 1, "2024-03-22", 6),  # FR3/1 over-shipped 6 of 4, on time
        # FR3/2: nothing shipped
        sh("FS6", 1, "FR4", 1, "2024-03-30", 3),  # FR4/1 due April (promised 04-02)
        sh("FS7", 1, "FR5", 1, "2024-03-02", 7),  # FR5/1 due February
        sh("FS8", 1, "FR6", 1, "2024-03-12", 2),  # FR6/1 full on promised date
    ],
}
# Lines due in March by promised date: FR1/1, FR1/2, FR2/1, FR3/1, FR3/2, FR6/1 (6 lines,
# qty 10+5+8+4+10+2 = 39, orders FR1, FR2, FR3, FR6). FR4/1 is due April, FR5/1 February.


def test_fill_rate_line_default(tmp_path):
    out = kpis(write_source(tmp_path, FILL), P)
    # FR1/1 6+4=10 by 03-10 ok; FR1/2 4 of 5 by 03-15 miss; FR2/1 ok; FR3/1 6>=4 ok;
    # FR3/2 0 miss; FR6/1 ok -> 4/6
    assert out["fill_rate"] == pytest.approx(4 / 6)


def test_fill_rate_line_explicit(tmp_path):
    out = kpis(write_source(tmp_path, FILL), P, "--fill-level", "line", "--fill-basis", "promised")
    assert out["fill_rate"] == pytest.approx(4 / 6)  # as the default case


def test_fill_rate_unit(tmp_path):
    out = kpis(write_source(tmp_path, FILL), P, "--fill-level", "unit")
    # on-time qty capped at ordered: FR1/1 10, FR1/2 4, FR2/1 8, FR3/1 min(6,4)=4, FR3/2 0,
    # FR6/1 2 -> 28; due qty 39 -> 28/39
    assert out["fill_rate"] == pytest.approx(28 / 39)


def test_fill_rate_order(tmp_path):
    out = kpis(write_source(tmp_path, FILL), P, "--fill-level", "order")
    # FR1 (line 2 missed) miss, FR2 ok, FR3 (line 2 missed) miss, FR6 ok -> 2/4
    assert out["fill_rate"] == pytest.approx(2 / 4)


def test_fill_rate_tolerance_5_line_unit_order(tmp_path):
    src = write_source(tmp_path, FILL)
    # with +5 days FR1/2 gets 4+1 = 5 by 03-20 -> ok; FR3/2 still 0 -> miss
    line = kpis(src, P, "--tolerance-days", "5")
    assert line["fill_rate"] == pytest.approx(5 / 6)  # only FR3/2 misses
    unit = kpis(src, P, "--tolerance-days", "5", "--fill-level", "unit")
    assert unit["fill_rate"] == pytest.approx(29 / 39)  # 10+5+8+4+0+2 = 29 of 39
    order = kpis(src, P, "--tolerance-days", "5", "--fill-level", "order")
    assert order["fill_rate"] == pytest.approx(3 / 4)  # FR1, FR2, FR6 ok; FR3 miss


def test_fill_rate_requested_basis(tmp_path):
    src = write_source(tmp_path, FILL)
    # due by requested date (empty -> promised): FR1/1 03-10, FR1/2 03-15, FR2/1 03-18,
    # FR3/1 03-25, FR3/2 03-28, FR4/1 03-29, FR6/1 (-> promised) 03-12 = 7 lines, qty
    # 10+5+8+4+10+3+2 = 42, orders FR1 FR2 FR3 FR4 FR6; FR5/1 requested in February.
    # FR1/1 10 by 03-10 ok; FR1/2 4 by 03-15 miss; FR2/1 0 by 03-18 miss;
    # FR3/1 6>=4 ok; FR3/2 miss; FR4/1 0 by 03-29 (shipped 03-30) miss; FR6/1 2 ok
    line = kpis(src, P, "--fill-basis", "requested")
    assert line["fill_rate"] == pytest.approx(3 / 7)  # FR1/1, FR3/1, FR6/1
    assert "requested" in str(line["parameters"])  # basis written next to the figure
    unit = kpis(src, P, "--fill-basis", "requested", "--fill-level", "unit")
    assert unit["fill_rate"] == pytest.approx(20 / 42)  # 10+4+0+4+0+0+2 = 20 of 42
    order = kpis(src, P, "--fill-basis", "requested", "--fill-level", "order")
    assert order["fill_rate"] == pytest.approx(1 / 5)  # only FR6 of FR1 FR2 FR3 FR4 FR6


def test_fill_rate_by_location(tmp_path):
    out = kpis(write_source(tmp_path, FILL), P, "--by", "location")
    rows = rows_by(out, "location")
    # WH1 due lines: FR1/1 ok, FR1/2 miss, FR3/1 ok, FR3/2 miss -> 2/4
    assert rows["WH1"]["fill_rate"] == pytest.approx(2 / 4)
    # WH2 due lines: FR2/1 ok, FR6/1 ok -> 2/2
    assert rows["WH2"]["fill_rate"] == pytest.approx(2 / 2)
    # recombine: (0.5*4 + 1.0*2) / 6 = 4/6 = total
    assert out["fill_rate"] == pytest.approx(
        (rows["WH1"]["fill_rate"] * 4 + rows["WH2"]["fill_rate"] * 2) / 6
    )


# ------------------------------------------------------------------ vendor OTD
VENDOR = {
    "purchase_receipts": [
        rcpt("R1", 1, "V1", "2024-03-10", "2024-03-10"),  # exactly on expected
        rcpt("R1", 2, "V1", "2024-03-10", "2024-03-01", item="I2"),  # 9 days early
        rcpt("R2", 1, "V2", "2024-03-15", "2024-03-16"),  # 1 day late
        rcpt("R2", 2, "V2", "2024-03-20", "2024-03-17", item="I2"),  # 3 days early
        rcpt("R3", 1, "V1", "2024-02-25", "2024-03-05"),  # 9 days late
        rcpt("R0", 1, "V1", "2024-02-20", "2024-02-20"),  # received Feb: not in March
        rcpt("R4", 1, "V2", "2024-03-31", "2024-04-01"),  # received Apr: not in March
    ],
}
# Receipt lines received in March: R1/1, R1/2, R2/1, R2/2, R3/1 = 5


def test_vendor_otd_defaults(tmp_path):
    out = kpis(write_source(tmp_path, VENDOR), P)
    # late 0, early unlimited: R1/1 ok, R1/2 ok (early), R2/1 miss, R2/2 ok, R3/1 miss -> 3/5
    assert out["vendor_otd"] == pytest.approx(3 / 5)


def test_vendor_otd_days_late_1(tmp_path):
    out = kpis(write_source(tmp_path, VENDOR), P, "--days-late", "1")
    # R2/1 (1 late) now ok: R1/1, R1/2, R2/1, R2/2 -> 4/5
    assert out["vendor_otd"] == pytest.approx(4 / 5)


def test_vendor_otd_days_early_3_boundary(tmp_path):
    out = kpis(write_source(tmp_path, VENDOR), P, "--days-early", "3")
    # window [exp-3, exp]: R1/1 ok, R1/2 (9 early) miss, R2/1 miss, R2/2 (3 early) ok -> 2/5
    assert out["vendor_otd"] == pytest.approx(2 / 5)


def test_vendor_otd_days_early_2(tmp_path):
    out = kpis(write_source(tmp_path, VENDOR), P, "--days-early", "2")
    # [exp-2, exp]: only R1/1 -> 1/5
    assert out["vendor_otd"] == pytest.approx(1 / 5)


def test_vendor_otd_early_3_late_1(tmp_path):
    out = kpis(write_source(tmp_path, VENDOR), P, "--days-early", "3", "--days-late", "1")
    # [exp-3, exp+1]: R1/1, R2/1, R2/2 ok; R1/2 (9 early), R3/1 (9 late) miss -> 3/5
    assert out["vendor_otd"] == pytest.approx(3 / 5)


def test_vendor_otd_by_vendor(tmp_path):
    out = kpis(write_source(tmp_path, VENDOR), P, "--by", "vendor")
    rows = rows_by(out, "vendor")
    assert rows["V1"]["vendor_otd"] == pytest.approx(2 / 3)  # R1/1 ok, R1/2 ok, R3/1 late
    assert rows["V2"]["vendor_otd"] == pytest.approx(1 / 2)  # R2/1 late, R2/2 ok
    assert out["vendor_otd"] == pytest.approx((2 + 1) / (3 + 2))  # recombines to 3/5
