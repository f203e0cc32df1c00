"""The review sheets after a headless Refresh, on a 3-item data set worked out by hand.

Current period 2026-01 (plan 2026-01 … 2026-12), 24 months of history 2024-01 … 2025-12,
one invoice per item and month at MAIN: A 10/month, B 20/month, C 5/month. Constant
series: every candidate model (seasonal naive, exponential smoothing, Theta, their mean)
forecasts the constant, so the baseline is A 10, B 20, C 5 in every plan period whatever
the model chosen.

Layers (by hand):
- override: A 2026-01 +7.
- events: "Spring campaign" +10 % on category WIDGETS (A, C) in 2026-02 → A +1, C +0.5;
  "Spiff" +6 units on item B in 2026-03 → B +6.
- commits: C 2026-03: O1 committed 30 (in full) + O2 40 × 50 % = 20 → +50; O4 (A, 2027-06)
  is outside the horizon; O3 is won (not pipeline).
- consensus: A 17, 11, 10 …; B 20, 20, 26, 20 …; C 5, 5.5, 55, 5 ….

Rough-cut capacity (routings A: ASSEMBLY 0.5 h; B: ASSEMBLY 0.25 h, PAINT 0.1 h; C none):
ASSEMBLY 2026-01 = 17 × 0.5 + 20 × 0.25 = 13.5 h vs 12 available → utilisation 1.125
(overload); 2026-02 = 11 × 0.5 + 20 × 0.25 = 10.5 h; 2026-03 = 10 × 0.5 + 26 × 0.25 = 11.5 h.
PAINT 2026-01 = 20 × 0.1 = 2.0 h; 2026-03 = 26 × 0.1 = 2.6 h.

Projected inventory (on hand at 2025-12: A 30, B 50, C 20; open supply: production order
A 25 due 2026-02; past-due production order B 15 planned − 5 finished = 10 → first period;
purchase order C 40 expected 2026-03):
A: 30 − 17 = 13; 13 + 25 − 11 = 27; 27 − 10 = 17; 7; −3 (2026-05, first negative).
B: 50 + 10 − 20 = 40; 20; 20 − 26 = −6 (2026-03).
C: 20 − 5 = 15; 9.5; 9.5 + 40 − 55 = −5.5 (2026-03).
Days of supply A 2026-01 (look-ahead 3): 13 ÷ ((11 + 10 + 10) ÷ (28 + 31 + 30)) = 13 × 89 / 31.

Finance 2026-01 (prices A 20, B 8, C 4; costs 10, 5, 2): volume 17 + 20 + 5 = 42;
revenue 340 + 160 + 20 = 520; COGS 170 + 100 + 10 = 280; margin 240.
Cash need 2026-01 at labour rate 10/h: labour = (13.5 + 2.0) h × 10 = 155; material =
A 17 × (10 − 0.5 × 10) + B 20 × (5 − 0.35 × 10) + C 5 × 2 = 85 + 30 + 10 = 125.
Constrained supply 2026-01: ASSEMBLY factor 12 ÷ 13.5; A 17 × 12/13.5, B 20 × 12/13.5, C 5.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from sources import MASTER, write_source

from sop_workbook.actions import plan_history, refresh, roll_forward
from sop_workbook.workbook.headless import HeadlessWorkbook

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"
ITEMS = [
    {"item_no": "A", "description": "Widget A", "category": "WIDGETS",
     "gen_prod_posting_group": "RETAIL", "unit_cost": 10, "unit_price": 20},
    {"item_no": "B", "description": "Gadget B", "category": "GADGETS",
     "gen_prod_posting_group": "RETAIL", "unit_cost": 5, "unit_price": 8},
    {"item_no": "C", "description": "Part C", "category": "WIDGETS",
     "gen_prod_posting_group": "RETAIL", "unit_cost": 2, "unit_price": 4},
]
MONTHLY = {"A": 10, "B": 20, "C": 5}


def _source(folder: Path) -> Path:
    invoices = []
    n = 0
    for year in (2024, 2025):
        for month in range(1, 13):
            for item, qty in MONTHLY.items():
                n += 1
                price = next(i for i in ITEMS if i["item_no"] == item)
                invoices.append({
                    "invoice_no": f"I{n:04d}", "line_no": 1,
                    "posting_date": f"{year}-{month:02d}-15", "customer_no": "C1",
                    "item_no": item, "location_code": "MAIN", "quantity": qty,
                    "amount": qty * price["unit_price"], "cost_amount": qty * price["unit_cost"]})
    return write_source(
        folder,
        items=ITEMS,
        customers=MASTER["customers"],
        sales_invoices=invoices,
        inventory=[
            {"period": "2025-12", "item_no": "A", "location_code": "MAIN", "quantity": 30,
             "value": 300},
            {"period": "2025-12", "item_no": "B", "location_code": "MAIN", "quantity": 50,
             "value": 250},
            {"period": "2025-12", "item_no": "C", "location_code": "MAIN", "quantity": 20,
             "value": 40},
        ],
        production_orders=[
            {"prod_order_no": "PA1", "item_no": "A", "location_code": "MAIN",
             "due_date": "2026-02-10", "planned_quantity": 25, "status": "released",
             "work_center": "ASSEMBLY"},
            {"prod_order_no": "PB0", "item_no": "B", "location_code": "MAIN",
             "due_date": "2025-12-20", "planned_quantity": 15, "finished_quantity": 5,
             "status": "released", "work_center": "ASSEMBLY"},
        ],
        purchase_orders=[
            {"order_no": "PO1", "line_no": 1, "vendor_no": "V1", "item_no": "C",
             "location_code": "MAIN", "expected_receipt_date": "2026-03-05",
             "outstanding_quantity": 40},
        ],
        opportunities=[
            {"opportunity_no": "O1", "salesperson": "JO", "customer_no": "C1",
             "expected_close_date": "2026-03-10", "amount": 120, "status": "open",
             "item_no": "C", "quantity": 30, "probability": 0.9, "commit": "true"},
            {"opportunity_no": "O2", "salesperson": "JO", "customer_no": "C1",
             "expected_close_date": "2026-03-20", "amount": 160, "status": "open",
             "item_no": "C", "quantity": 40, "probability": 0.5, "commit": "false"},
            {"opportunity_no": "O3", "salesperson": "KE", "customer_no": "C2",
             "expected_close_date": "2025-11-20", "amount": 500, "status": "won",
             "item_no": "B", "quantity": 60, "probability": 1, "commit": "true",
             "close_date": "2025-11-18"},
            {"opportunity_no": "O4", "salesperson": "KE", "customer_no": "C2",
             "expected_close_date": "2027-06-01", "amount": 900, "status": "open",
             "item_no": "A", "quantity": 100, "probability": 0.25, "commit": "false"},
        ],
        routings=[
            {"item_no": "A", "work_center": "ASSEMBLY", "hours_per_unit": 0.5},
            {"item_no": "B", "work_center": "ASSEMBLY", "hours_per_unit": 0.25},
            {"item_no": "B", "work_center": "PAINT", "hours_per_unit": 0.1},
        ],
        capacity=[
            {"work_center": wc, "period": p, "available_hours": hours}
            for wc, hours in (("ASSEMBLY", 12), ("PAINT", 10))
            for p in ("2026-01", "2026-02", "2026-03")
        ],
    )


@pytest.fixture(scope="module")
def book_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("review")
    source = _source(folder / "data")
    path = folder / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    book.set_value("cfg_current_period", "2026-01")
    book.set_value("cfg_labour_rate", 10)
    book.write_table("plan_overrides", pd.DataFrame([{
        "item_no": "A", "location_code": "MAIN", "period": "2026-01", "quantity": 7,
        "reason_code": "Promotion", "comment": "trade show", "entered_by": "ann"}]))
    book.write_table("plan_events", pd.DataFrame([
        {"event": "Spring campaign", "kind": "campaign", "category": "WIDGETS",
         "period_from": "2026-02", "period_to": "2026-02", "uplift_pct": 0.1},
        {"event": "Spiff", "kind": "spiff", "item_no": "B", "period_from": "2026-03",
         "uplift_units": 6},
    ]))
    refresh(book, str(source))
    book.save()
    return path


def _sheet_rows(path: Path, table: str) -> tuple[HeadlessWorkbook, pd.DataFrame]:
    book = HeadlessWorkbook(path)
    return book, book.read_table(table)


def _cell(book: HeadlessWorkbook, table: str, match: dict, column: str):
    """The shown value of ``column`` in the table row matching ``match``, read from the
    sheet cell where a planner sees it (sheet, column letter, row)."""
    frame = book.read_table(table)
    mask = pd.Series(True, index=frame.index)
    for key, value in match.items():
        mask &= frame[key].astype(str) == value
    rows = frame.index[mask]
    assert len(rows) == 1, f"{table} {match}: {len(rows)} rows"
    sheet, header = book.table_position(table)
    coord = f"{book.column_letter(table, column)}{header + 1 + int(rows[0])}"
    return book.result_at(sheet, coord)


def test_demand_layers_and_consensus_in_the_plan_grid(book_path):
    book = HeadlessWorkbook(book_path)
    sheet, header = book.table_position("plan_demand")
    # the layout a planner learns: plan grid header on row 27, history h24…h01 in F…AC,
    # the 12 plan periods p01…p12 in AD…AO
    assert (sheet, header) == ("2 Demand", 27)
    assert book.column_letter("plan_demand", "h24") == "F"
    assert book.column_letter("plan_demand", "p01") == "AD"
    expected = {  # (item, layer): p01, p02, p03, p04
        ("A", "baseline"): (10, 10, 10, 10), ("A", "override"): (7, 0, 0, 0),
        ("A", "events"): (0, 1, 0, 0), ("A", "consensus"): (17, 11, 10, 10),
        ("B", "events"): (0, 0, 6, 0), ("B", "consensus"): (20, 20, 26, 20),
        ("C", "commits"): (0, 0, 50, 0), ("C", "events"): (0, 0.5, 0, 0),
        ("C", "consensus"): (5, 5.5, 55, 5),
    }
    for (item, layer), values in expected.items():
        for i, value in enumerate(values):
            got = _cell(book, "plan_demand", {"item_no": item, "layer": layer},
                        f"p{i + 1:02d}")
            assert got == pytest.approx(value, abs=1e-9), (item, layer, i + 1)
    # history next to the plan: invoiced 2025-12 (h01) and shipped layer present
    assert _cell(book, "plan_demand", {"item_no": "B", "layer": "invoiced"}, "h01") == 20
    assert _cell(book, "plan_demand", {"item_no": "B", "layer": "invoiced"}, "h24") == 20


def test_category_rollup_and_charts(book_path):
    book = HeadlessWorkbook(book_path)
    # WIDGETS = A + C: consensus p03 = 10 + 55
    got = _cell(book, "demand_rollup", {"category": "WIDGETS", "location_code": "(all)",
                                        "layer": "consensus"}, "p03")
    assert got == pytest.approx(65)
    ws = book.wb["2 Demand"]
    titles = sorted(c.title.tx.rich.p[0].r[0].t if c.title and c.title.tx else "" for c in
                    ws._charts)
    assert any(t.startswith("GADGETS") for t in titles)
    assert any(t.startswith("WIDGETS") for t in titles)


def test_rough_cut_capacity(book_path):
    book = HeadlessWorkbook(book_path)
    cap = {"work_center": "ASSEMBLY"}
    assert _cell(book, "supply_capacity", {**cap, "measure": "load"}, "p01") == \
        pytest.approx(13.5)
    assert _cell(book, "supply_capacity", {**cap, "measure": "load"}, "p02") == \
        pytest.approx(10.5)
    assert _cell(book, "supply_capacity", {**cap, "measure": "load"}, "p03") == \
        pytest.approx(11.5)
    assert _cell(book, "supply_capacity", {**cap, "measure": "utilisation"}, "p01") == \
        pytest.approx(13.5 / 12)
    assert _cell(book, "supply_capacity", {"work_center": "PAINT", "measure": "load"},
                 "p03") == pytest.approx(2.6)


def test_projected_inventory_and_days_of_supply(book_path):
    book = HeadlessWorkbook(book_path)
    projected = {"A": (13, 27, 17, 7, -3), "B": (40, 20, -6), "C": (15, 9.5, -5.5)}
    for item, values in projected.items():
        for i, value in enumerate(values):
            got = _cell(book, "supply_projection", {"item_no": item, "measure": "projected"},
                        f"p{i + 1:02d}")
            assert got == pytest.approx(value), (item, i + 1)
    dos = _cell(book, "supply_projection", {"item_no": "A", "measure": "days_of_supply"},
                "p01")
    assert dos == pytest.approx(13 * 89 / 31)
    exceptions = book.read_table("supply_exceptions")
    negative = exceptions[exceptions["exception"].astype(str) == "negative"]
    first = dict(zip(negative["item_no"], negative["period"].astype(str), strict=False))
    assert first == {"A": "2026-05", "B": "2026-03", "C": "2026-03"}


def test_finance_volume_to_value_and_cash(book_path):
    book = HeadlessWorkbook(book_path)
    row = {"period": "2026-01", "category": "(all)"}
    assert _cell(book, "fin_value_summary", row, "volume") == pytest.approx(42)
    assert _cell(book, "fin_value_summary", row, "revenue") == pytest.approx(520)
    assert _cell(book, "fin_value_summary", row, "cogs") == pytest.approx(280)
    assert _cell(book, "fin_value_summary", row, "margin") == pytest.approx(240)
    row = {"period": "2026-01"}
    assert _cell(book, "fin_cash_need", row, "labour") == pytest.approx(155)
    assert _cell(book, "fin_cash_need", row, "material") == pytest.approx(125)


def test_constrained_scenario(book_path):
    book = HeadlessWorkbook(book_path)
    got = _cell(book, "presop_scenario_periods", {"period": "2026-01"}, "constrained_volume")
    assert got == pytest.approx(17 * 12 / 13.5 + 20 * 12 / 13.5 + 5)
    assert _cell(book, "presop_scenario_periods", {"period": "2026-01"},
                 "consensus_volume") == pytest.approx(42)


def test_roll_forward_keeps_the_stage_sheets(book_path, tmp_path):
    path = tmp_path / "wb.xlsm"
    shutil.copy(book_path, path)
    book = HeadlessWorkbook(path)
    roll_forward(book)
    book.save()
    book = HeadlessWorkbook(path)
    assert book.get_value("cfg_current_period") == "2026-02"
    # the A override on 2026-01 left the horizon; the events and commits stay
    assert _cell(book, "plan_demand", {"item_no": "A", "layer": "consensus"}, "p01") == \
        pytest.approx(11)
    assert _cell(book, "plan_demand", {"item_no": "C", "layer": "consensus"}, "p02") == \
        pytest.approx(55)
    history = plan_history(book)  # one row per snapshot × period × item × location
    a = history[(history["item_no"] == "A") & (history["period"] == "2026-01")]
    assert a["quantity"].astype(float).tolist() == [17]
    assert _cell(book, "supply_capacity", {"work_center": "ASSEMBLY",
                                           "measure": "load"}, "p01") == \
        pytest.approx(10.5)
