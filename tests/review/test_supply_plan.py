"""Supply review cores, against a worked example computed by hand.

THE WORKED EXAMPLE (also used by tests/review/test_finance_plan.py and test_scenarios.py)

Current period 2026-04; the 12 plan periods and their days:
  p01 2026-04 (30)  p02 2026-05 (31)  p03 2026-06 (30)  p04 2026-07 (31)
  p05 2026-08 (31)  p06 2026-09 (30)  p07 2026-10 (31)  p08 2026-11 (30)
  p09 2026-12 (31)  p10 2027-01 (31)  p11 2027-02 (28)  p12 2027-03 (31)

Items: A (BIKES, RETAIL, cost 60, price 100) manufactured on ASSY 2 h/unit;
       B (BIKES, RETAIL, cost 40, no unit price) manufactured on ASSY 1 h + PAINT 0.5 h;
       C (PARTS, PARTS, cost 5, price 8) bought in (no routing), open purchase orders.
Consensus: A@MAIN 100 every period but 150 in p03; A@EAST 20 every period;
           B@MAIN 60 every period but 100 in p03; C@MAIN 300 every period.
Capacity: ASSY 330 h every period (and a 2026-03 row outside the horizon);
          PAINT 60 h in p01..p06 only (no row for p07..p12).
On hand at the end of 2026-03 (the last closed period): A@MAIN 100, B@MAIN 50,
C@MAIN 400; A@EAST has no on-hand history; a 2026-02 row (999) must be ignored.
Open supply: A@MAIN production 80 due 2026-02 (past due → p01), 100 in p01, 100 in p02;
B@MAIN production 60 in p01, 100 in p03; C@MAIN purchase 600 in p02, 300 in p04 and
999 in 2027-06 (after the horizon → ignored).
"""

from __future__ import annotations

import pandas as pd
import pytest

from sop_workbook.review.supply import (
    capacity_grid,
    capacity_load,
    projected_inventory,
    projection_exceptions,
    projection_grid,
)

CURRENT = "2026-04"
PERIODS = ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10",
           "2026-11", "2026-12", "2027-01", "2027-02", "2027-03"]
DAYS = [30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 28, 31]
NAN = float("nan")


def example_plan() -> pd.DataFrame:
    rows = []
    for k, p in enumerate(PERIODS):
        rows.append(("A", "MAIN", p, 150 if k == 2 else 100))
        rows.append(("A", "EAST", p, 20))
        rows.append(("B", "MAIN", p, 100 if k == 2 else 60))
        rows.append(("C", "MAIN", p, 300))
    return pd.DataFrame(rows, columns=["item_no", "location_code", "period", "consensus"])


def example_items() -> pd.DataFrame:
    return pd.DataFrame({
        "item_no": ["A", "B", "C"],
        "description": ["Bike A", "Bike B", "Part C"],
        "category": ["BIKES", "BIKES", "PARTS"],
        "gen_prod_posting_group": ["RETAIL", "RETAIL", "PARTS"],
        "unit_cost": [60.0, 40.0, 5.0],
        "unit_price": [100.0, NAN, 8.0],
    })


def example_routings() -> pd.DataFrame:
    return pd.DataFrame({"item_no": ["A", "B", "B"], "work_center": ["ASSY", "ASSY", "PAINT"],
                         "hours_per_unit": [2.0, 1.0, 0.5]})


def example_capacity() -> pd.DataFrame:
    rows = [("ASSY", p, 330.0) for p in PERIODS] + [("PAINT", p, 60.0) for p in PERIODS[:6]]
    rows.append(("ASSY", "2026-03", 999.0))
    return pd.DataFrame(rows, columns=["work_center", "period", "available_hours"])


def example_agg_sales() -> pd.DataFrame:
    rows = [("2026-03", "A", "BIKES", "MAIN", 100.0), ("2026-03", "B", "BIKES", "MAIN", 50.0),
            ("2026-03", "C", "PARTS", "MAIN", 400.0), ("2026-02", "A", "BIKES", "MAIN", 999.0)]
    frame = pd.DataFrame(rows, columns=["period", "item_no", "category", "location_code",
                                        "on_hand_qty"])
    frame["shipped_qty"] = 1.0
    frame["invoiced_qty"] = 1.0
    return frame


def example_supply_open() -> pd.DataFrame:
    rows = [("2026-02", "A", "MAIN", 0.0, 80.0), ("2026-04", "A", "MAIN", 0.0, 100.0),
            ("2026-05", "A", "MAIN", 0.0, 100.0), ("2026-04", "B", "MAIN", 0.0, 60.0),
            ("2026-06", "B", "MAIN", 0.0, 100.0), ("2026-05", "C", "MAIN", 600.0, 0.0),
            ("2026-07", "C", "MAIN", 300.0, 0.0), ("2027-06", "C", "MAIN", 999.0, 0.0)]
    return pd.DataFrame(rows, columns=["period", "item_no", "location_code", "po_qty",
                                       "production_qty"])


def cell(frame: pd.DataFrame, **keys) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for k, v in keys.items():
        mask &= frame[k] == v
    rows = frame[mask]
    assert len(rows) == 1, (keys, rows)
    return rows.iloc[0]


# ----------------------------------------------------------------------------- capacity

def test_capacity_load_worked_example():
    load = capacity_load(example_plan(), example_routings(), example_capacity(), PERIODS)
    assert list(load.columns) == ["work_center", "period", "load_hours", "available_hours",
                                  "utilisation", "overload"]
    assert len(load) == 2 * 12  # ASSY and PAINT × 12 periods; the 2026-03 row is outside
    # ASSY, usual period: A (100 MAIN + 20 EAST) × 2 h = 240, B 60 × 1 h = 60 → 300 h
    # of 330 available → 300 / 330 = 0.9090…, no overload
    r = cell(load, work_center="ASSY", period="2026-04")
    assert r["load_hours"] == pytest.approx(300.0)
    assert r["available_hours"] == pytest.approx(330.0)
    assert r["utilisation"] == pytest.approx(300 / 330)
    assert not r["overload"]
    # ASSY in 2026-06: A (150 + 20) × 2 = 340, B 100 × 1 = 100 → 440 h > 330 → overload,
    # utilisation 440 / 330 = 1.3333
    r = cell(load, work_center="ASSY", period="2026-06")
    assert r["load_hours"] == pytest.approx(440.0)
    assert r["utilisation"] == pytest.approx(4 / 3)
    assert r["overload"]
    assert load.loc[load["work_center"] == "ASSY", "overload"].sum() == 1
    # PAINT: B 60 × 0.5 = 30 h of 60 → 0.5; in 2026-06 100 × 0.5 = 50 h → 50/60
    r = cell(load, work_center="PAINT", period="2026-05")
    assert (r["load_hours"], r["utilisation"]) == (pytest.approx(30.0), pytest.approx(0.5))
    assert cell(load, work_center="PAINT", period="2026-06")["utilisation"] == \
        pytest.approx(50 / 60)
    # PAINT has no capacity row from 2026-10: available and utilisation are None (not 0),
    # no overload can be stated; the load is still 30 h
    r = cell(load, work_center="PAINT", period="2026-10")
    assert r["load_hours"] == pytest.approx(30.0)
    assert r["available_hours"] is None and r["utilisation"] is None
    assert not r["overload"]


def test_capacity_grid_is_wide_by_measure():
    load = capacity_load(example_plan(), example_routings(), example_capacity(), PERIODS)
    grid = capacity_grid(load, PERIODS)
    assert list(grid.columns) == ["work_center", "measure", *[f"p{i:02d}" for i in
                                                             range(1, 13)]]
    assert grid[["work_center", "measure"]].values.tolist() == [
        ["ASSY", "load"], ["ASSY", "available"], ["ASSY", "utilisation"],
        ["PAINT", "load"], ["PAINT", "available"], ["PAINT", "utilisation"]]
    assert grid.attrs["periods"] == PERIODS
    assert grid.iloc[0]["p03"] == pytest.approx(440.0)  # ASSY load in 2026-06 (above)
    assert grid.iloc[2]["p01"] == pytest.approx(300 / 330)
    assert grid.iloc[4]["p07"] is None  # PAINT available, 2026-10: no capacity row
    assert grid.iloc[4]["p06"] == pytest.approx(60.0)


def test_capacity_load_without_routings_is_empty_and_without_capacity_has_no_check():
    assert capacity_load(example_plan(), pd.DataFrame(), example_capacity(), PERIODS).empty
    empty_routings = pd.DataFrame(columns=["item_no", "work_center", "hours_per_unit"])
    assert capacity_load(example_plan(), empty_routings, None, PERIODS).empty
    load = capacity_load(example_plan(), example_routings(), pd.DataFrame(
        columns=["work_center", "period", "available_hours"]), PERIODS)
    assert len(load) == 24
    assert load["available_hours"].isna().all()
    assert load["utilisation"].isna().all()
    assert not load["overload"].any()
    # the load itself does not need capacity: ASSY 2026-06 = 440 h as above
    assert cell(load, work_center="ASSY", period="2026-06")["load_hours"] == \
        pytest.approx(440.0)


def test_zero_available_hours_is_an_overload_without_utilisation():
    plan = pd.DataFrame({"item_no": ["X"], "location_code": ["L"], "period": ["2026-04"],
                         "consensus": [10.0]})
    routings = pd.DataFrame({"item_no": ["X"], "work_center": ["W"], "hours_per_unit": [1.5]})
    capacity = pd.DataFrame({"work_center": ["W", "IDLE"], "period": ["2026-04", "2026-04"],
                             "available_hours": [0.0, 40.0]})
    load = capacity_load(plan, routings, capacity, ["2026-04"])
    w = cell(load, work_center="W")
    # 10 × 1.5 = 15 h against 0 h: overload, utilisation undefined (÷ 0)
    assert w["load_hours"] == pytest.approx(15.0)
    assert w["utilisation"] is None and w["overload"]
    # a centre with capacity but no routed item is listed with 0 load: 0 / 40 = 0
    idle = cell(load, work_center="IDLE")
    assert (idle["load_hours"], idle["utilisation"], idle["overload"]) == (0.0, 0.0, False)


# ----------------------------------------------------------------------------- inventory

def test_projected_inventory_worked_example_a_main():
    proj = projected_inventory(example_plan(), example_agg_sales(), example_supply_open(),
                               CURRENT)
    a = proj[(proj["item_no"] == "A") & (proj["location_code"] == "MAIN")]
    assert a["period"].tolist() == PERIODS
    # opening 100 (2026-03; the 999 of 2026-02 is ignored); supply p01 = 80 past due +
    # 100 due = 180, p02 100; demand 100, 100, 150, then 100.
    # projected: 100+180−100 = 180; 180+100−100 = 180; 180−150 = 30; 30−100 = −70; then
    # −100 each period down to −870 in p12.
    assert a["supply"].tolist() == [180, 100] + [0] * 10
    assert a["demand"].tolist() == [100, 100, 150] + [100] * 9
    assert a["projected"].tolist() == [180, 180, 30, -70, -170, -270, -370, -470, -570,
                                       -670, -770, -870]
    assert a["opening"].tolist() == [100, 180, 180, 30, -70, -170, -270, -370, -470,
                                     -570, -670, -770]
    # days of supply (next 3 periods after this one):
    # p01: 180 ÷ ((100+150+100) ÷ (31+30+31)) = 180 × 92 / 350 = 47.314
    # p02: next 06, 07, 08: (150+100+100) ÷ (30+31+31) → 180 × 92 / 350
    # p03: next 07, 08, 09: 300 ÷ (31+31+30) → 30 × 92 / 300 = 9.2
    # p04: next 08, 09, 10: 300 ÷ (31+30+31) → −70 × 92 / 300 = −21.467
    # p10 (2027-01): only 02, 03 remain: 200 ÷ (28+31) → −670 × 59 / 200
    # p11: only 03: 100 ÷ 31 → −770 × 31 / 100; p12: none remain → None
    dos = a["days_of_supply"].tolist()
    assert dos[0] == pytest.approx(180 * 92 / 350)
    assert dos[1] == pytest.approx(180 * 92 / 350)
    assert dos[2] == pytest.approx(9.2)
    assert dos[3] == pytest.approx(-70 * 92 / 300)
    assert dos[9] == pytest.approx(-670 * 59 / 200)
    assert dos[10] == pytest.approx(-770 * 31 / 100)
    assert dos[11] is None
    # safety = 14 days × the same average daily demand
    # p01: 14 × 350/92 = 53.26 (180 is above); p03: 14 × 300/92 = 45.65 > 30 → below
    safety = a["safety_qty"].tolist()
    assert safety[0] == pytest.approx(14 * 350 / 92)
    assert safety[2] == pytest.approx(14 * 300 / 92)
    assert safety[11] is None
    assert a["below_safety"].tolist() == [False, False, True] + [True] * 8 + [False]
    assert a["negative"].tolist() == [False, False, False] + [True] * 9


def test_projected_inventory_worked_example_other_items():
    proj = projected_inventory(example_plan(), example_agg_sales(), example_supply_open(),
                               CURRENT)
    assert proj[["item_no", "location_code"]].drop_duplicates().values.tolist() == [
        ["A", "EAST"], ["A", "MAIN"], ["B", "MAIN"], ["C", "MAIN"]]
    # A@EAST: no on-hand history → opening 0, no supply, demand 20 → −20, −40 … −240
    e = proj[(proj["item_no"] == "A") & (proj["location_code"] == "EAST")]
    assert e["opening"].iloc[0] == 0
    assert e["projected"].tolist() == [-20.0 * (k + 1) for k in range(12)]
    # p01 DOS: −20 ÷ (60 / 92) = −30.667; safety 14 × 60/92 = 9.13
    assert e["days_of_supply"].iloc[0] == pytest.approx(-20 * 92 / 60)
    assert e["safety_qty"].iloc[0] == pytest.approx(14 * 60 / 92)
    # B@MAIN: opening 50, supply 60 (p01), 100 (p03); demand 60, 60, 100, 60 …
    # 50+60−60 = 50; 50−60 = −10; −10+100−100 = −10; −70; … −10 − 9×60 = −550
    b = proj[proj["item_no"] == "B"]
    assert b["projected"].tolist() == [50, -10, -10] + [-10 - 60 * k for k in range(1, 10)]
    # p01: 50 ÷ ((60+100+60) / 92) = 20.909; safety 14 × 220/92 = 33.48 → not below
    assert b["days_of_supply"].iloc[0] == pytest.approx(50 * 92 / 220)
    assert not b["below_safety"].iloc[0]
    # C@MAIN: opening 400, PO 600 (p02) and 300 (p04) (999 in 2027-06 ignored), demand 300
    # 100, 400, 100, 100, −200, −500 … −2300
    c = proj[proj["item_no"] == "C"]
    assert c["supply"].sum() == 900
    assert c["projected"].tolist() == [100, 400, 100, 100] + [100 - 300 * k for k in
                                                              range(1, 9)]
    # p01: 100 ÷ (900/92) = 10.222; safety 14 × 900/92 = 136.96 > 100 → below safety
    assert c["days_of_supply"].iloc[0] == pytest.approx(100 * 92 / 900)
    assert c["below_safety"].iloc[0]
    # p02: 400 ÷ (900 / (30+31+31)) = 40.889, above safety 136.96
    assert c["days_of_supply"].iloc[1] == pytest.approx(400 * 92 / 900)
    assert not c["below_safety"].iloc[1]


def test_projection_exceptions_first_period_per_flag():
    proj = projected_inventory(example_plan(), example_agg_sales(), example_supply_open(),
                               CURRENT)
    ex = projection_exceptions(proj)
    assert list(ex.columns) == ["item_no", "location_code", "exception", "period",
                                "projected", "safety_qty", "shortfall"]
    # by hand (tests above): A@EAST below safety and negative in p01; C below safety p01;
    # B below safety and negative p02; A@MAIN below safety p03, negative p04; C negative
    # p05 (100 + 0 − 300 = −200)
    assert ex[["item_no", "location_code", "exception", "period"]].values.tolist() == [
        ["A", "EAST", "below_safety", "2026-04"], ["A", "EAST", "negative", "2026-04"],
        ["C", "MAIN", "below_safety", "2026-04"],
        ["B", "MAIN", "below_safety", "2026-05"], ["B", "MAIN", "negative", "2026-05"],
        ["A", "MAIN", "below_safety", "2026-06"], ["A", "MAIN", "negative", "2026-07"],
        ["C", "MAIN", "negative", "2026-08"]]
    # shortfalls: A@EAST below safety 14×60/92 − (−20); negative: 0 − (−20) = 20;
    # C below safety 14×900/92 − 100; A@MAIN below safety 14×300/92 − 30
    assert ex["shortfall"].tolist() == pytest.approx([
        14 * 60 / 92 + 20, 20, 14 * 900 / 92 - 100, 14 * 220 / 92 + 10, 10,
        14 * 300 / 92 - 30, 70, 200])
    assert ex.loc[1, "safety_qty"] == pytest.approx(14 * 60 / 92)


def test_projection_grid_layout():
    proj = projected_inventory(example_plan(), example_agg_sales(), example_supply_open(),
                               CURRENT)
    grid = projection_grid(proj)
    assert list(grid.columns[:3]) == ["item_no", "location_code", "measure"]
    assert list(grid.columns[3:]) == [f"p{i:02d}" for i in range(1, 13)]
    assert len(grid) == 4 * 4
    a = grid[(grid["item_no"] == "A") & (grid["location_code"] == "MAIN")]
    assert a["measure"].tolist() == ["demand", "supply", "projected", "days_of_supply"]
    assert a.iloc[1]["p01"] == 180  # supply: 80 past due + 100
    assert a.iloc[2]["p04"] == -70
    assert a.iloc[3]["p03"] == pytest.approx(9.2)
    assert a.iloc[3]["p12"] is None


# ----------------------------------------------------------------------------- edge cases

def test_zero_demand_gives_no_days_of_supply_and_zero_safety():
    plan = pd.DataFrame({"item_no": "Z", "location_code": "L", "period": PERIODS[:3],
                         "consensus": [5.0, 0.0, 0.0]})
    sales = pd.DataFrame({"period": ["2026-03"], "item_no": ["Z"], "category": ["X"],
                          "location_code": ["L"], "on_hand_qty": [20.0]})
    proj = projected_inventory(plan, sales, None, CURRENT)
    # 20 − 5 = 15 then stays 15; forward demand is 0 everywhere → DOS None, safety 0,
    # never below safety (15 ≥ 0), never negative
    assert proj["projected"].tolist() == [15.0] * 12
    assert proj["days_of_supply"].isna().all()
    assert proj["safety_qty"].iloc[:11].tolist() == [0.0] * 11
    assert proj["safety_qty"].iloc[11] is None
    assert not proj["below_safety"].any() and not proj["negative"].any()
    assert projection_exceptions(proj).empty


def test_item_without_on_hand_history_and_stock_only_items():
    plan = pd.DataFrame({"item_no": "N", "location_code": "L", "period": PERIODS,
                         "consensus": 10.0})
    supply = pd.DataFrame({"period": ["2026-05"], "item_no": ["N"], "location_code": ["L"],
                           "po_qty": [25.0], "production_qty": [NAN]})
    sales = pd.DataFrame({"period": ["2026-03", "2026-03"], "item_no": ["S", "Q"],
                          "category": ["X", "X"], "location_code": ["L", "L"],
                          "on_hand_qty": [7.0, 0.0]})
    proj = projected_inventory(plan, sales, supply, CURRENT, safety_days=0, lookahead=1)
    n = proj[proj["item_no"] == "N"]
    # opening 0; −10; −10 + 25 − 10 = 5; −5; …
    assert n["projected"].tolist()[:4] == [-10, 5, -5, -15]
    # lookahead 1: p01 DOS = −10 ÷ (10 / 31); safety_days 0 → safety 0
    assert n["days_of_supply"].iloc[0] == pytest.approx(-10 * 31 / 10)
    assert n["below_safety"].tolist()[:3] == [True, False, True]
    # an item with stock but no plan and no supply is listed (7 on hand, flat, no DOS);
    # one with 0 on hand and nothing else is not
    s = proj[proj["item_no"] == "S"]
    assert s["projected"].tolist() == [7.0] * 12 and s["days_of_supply"].isna().all()
    assert "Q" not in set(proj["item_no"])


def test_empty_inputs_give_empty_projection():
    proj = projected_inventory(pd.DataFrame(columns=["item_no", "location_code", "period",
                                                     "consensus"]), None, None, CURRENT)
    assert proj.empty and "days_of_supply" in proj.columns
    assert projection_exceptions(proj).empty
    assert projection_grid(proj, PERIODS).empty


def test_numeric_item_numbers_match_text_ones():
    # a sheet may hand back item 1001 as the float 1001.0 in one table and text in another
    plan = pd.DataFrame({"item_no": [1001.0], "location_code": ["L"], "period": ["2026-04"],
                         "consensus": [4.0]})
    sales = pd.DataFrame({"period": ["2026-03"], "item_no": ["1001"], "category": ["X"],
                          "location_code": ["L"], "on_hand_qty": [10.0]})
    routings = pd.DataFrame({"item_no": [1001], "work_center": ["W"], "hours_per_unit": [2.0]})
    proj = projected_inventory(plan, sales, None, CURRENT)
    # one pair "1001"@L: 10 − 4 = 6
    assert proj["item_no"].unique().tolist() == ["1001"]
    assert proj["projected"].iloc[0] == 6.0
    # 4 × 2 h = 8 h on W
    load = capacity_load(plan, routings, None, PERIODS)
    assert cell(load, work_center="W", period="2026-04")["load_hours"] == 8.0
