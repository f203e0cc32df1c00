"""Hand-worked: a negative shipment line (an undo, a return, a correction) is never a
delivery and nets against the earlier shipments of its sales line.

domain.md: sales OTD = shipment lines with shipment date <= promised date (+ tolerance)
/ shipment lines shipped in the period; a negative shipment line is not a delivery: it
nets against the shipments of its sales line. Reading taken: a negative line cancels its
sales line's earlier shipments, latest first; a shipment cancelled in full is not a
delivery, one cancelled in part still is. The same figures through the SQL path
(load_aggregates, DuckDB) and the workbook's UDF over agg_sales.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hw_support import kpis, sh, sl, write_source

from sop_workbook.kpi import ratios
from sop_workbook.sql import load_aggregates

P = "2024-03"

SOURCE = {
    "sales_lines": [
        sl("SO1", 1, "2024-03-10", 10),  # L1
        sl("SO1", 2, "2024-03-20", 10),  # L2
        sl("SO2", 1, "2024-03-05", 5),  # L3
    ],
    "sales_shipments": [
        sh("SH1", 1, "SO1", 1, "2024-03-08", 10),  # L1 on time ... but undone next day
        sh("SH2", 1, "SO1", 1, "2024-03-09", -10),  # undo of SH1: cancels it in full
        sh("SH3", 1, "SO1", 1, "2024-03-15", 10),  # L1 shipped again, late
        sh("SH4", 1, "SO1", 2, "2024-03-18", 10),  # L2 on time
        sh("SH5", 1, "SO1", 2, "2024-03-25", -4),  # L2 partial return: SH4 still delivered
        sh("SH6", 1, "SO2", 1, "2024-03-05", 5),  # L3 on time
    ],
}


def test_negative_lines_net_and_never_deliver(tmp_path):
    out = kpis(write_source(tmp_path, SOURCE), P)
    # deliveries: SH3 (late: 03-15 > 03-10), SH4 (on time), SH6 (on time);
    # SH1 is cancelled in full by SH2; SH2 and SH5 are negative -> 2 / 3
    assert out["sales_otd"] == pytest.approx(2 / 3)
    assert out["detail"]["sales_otd"] == {"numerator": 2, "denominator": 3}
    # fill rate: L1 shipped by 03-10 = 10 - 10 = 0 < 10 (not filled); L2 by 03-20 = 10
    # (filled); L3 5 (filled) -> 2 / 3
    assert out["fill_rate"] == pytest.approx(2 / 3)


def test_same_figures_through_sql_and_the_workbook(tmp_path):
    tables = load_aggregates(str(write_source(tmp_path, SOURCE))).tables
    agg = tables["agg_sales"]
    march = agg[agg["period"] == P]
    # 3 deliveries in March, 2 on time (as above); net shipped 10-10+10+10-4+5 = 21
    assert march["otd_lines"].sum() == 3
    assert march["otd_on_time"].sum() == 2
    assert march["shipped_qty"].sum() == pytest.approx(21)
    assert ratios.sales_otd(agg, P) == pytest.approx(2 / 3)


def test_undo_after_the_reshipment_cancels_the_latest_first(tmp_path):
    source = {
        "sales_lines": [sl("SO9", 1, "2024-03-10", 10)],
        "sales_shipments": [
            sh("S1", 1, "SO9", 1, "2024-03-05", 10),  # on time
            sh("S2", 1, "SO9", 1, "2024-03-12", 10),  # late, shipped twice by mistake
            sh("S3", 1, "SO9", 1, "2024-03-13", -10),  # undo of the latest (S2)
        ],
    }
    out = kpis(write_source(tmp_path, source), P)
    # S3 cancels S2 (latest first); S1 stays a delivery, on time -> 1 / 1
    assert out["sales_otd"] == pytest.approx(1.0)
    assert out["detail"]["sales_otd"] == {"numerator": 1, "denominator": 1}
    sql = load_aggregates(str(tmp_path / "src")).tables["agg_sales"]
    assert (sql["otd_lines"].sum(), sql["otd_on_time"].sum()) == (1, 1)
