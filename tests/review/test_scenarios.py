"""Pre-S&OP scenarios and gaps on the worked example of tests/review/test_supply_plan.py, by hand.

Prices A 100, B 75 (realised, tests/review/test_finance_plan.py), C 8; costs A 60, B 40, C 5.
ASSY in 2026-06: load 440 h, 330 available → factor 330/440 = 0.75; PAINT 50 h of 60 →
factor 1; every other ASSY/PAINT period is within capacity (PAINT from 2026-10 has no
capacity row → unconstrained). So A and B are cut to 75 % in 2026-06 (B: min(0.75, 1)),
C (no routing) is never cut.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_supply_plan import (
    CURRENT,
    PERIODS,
    cell,
    example_agg_sales,
    example_capacity,
    example_items,
    example_plan,
    example_routings,
    example_supply_open,
)

from sop_workbook.review.presop import (
    compare_scenarios,
    constrained_volume,
    gaps,
    price_lookup,
    scenario_grid,
)

PRICES = {"A": 100.0, "B": 75.0, "C": 8.0}


def example_comparison(price_of=PRICES) -> pd.DataFrame:
    return compare_scenarios(example_plan(), example_items(), example_routings(),
                             example_capacity(), example_agg_sales(), example_supply_open(),
                             CURRENT, price_of)


def test_constrained_volume_cuts_items_on_the_overloaded_centre():
    vol = constrained_volume(example_plan(), example_routings(), example_capacity(), CURRENT)
    jun = vol[vol["period"] == "2026-06"].set_index(["item_no", "location_code"])
    # A@MAIN 150 × 0.75 = 112.5; A@EAST 20 × 0.75 = 15; B 100 × 0.75 = 75; C 300 × 1
    assert jun["constrained"].to_dict() == pytest.approx({
        ("A", "EAST"): 15.0, ("A", "MAIN"): 112.5, ("B", "MAIN"): 75.0,
        ("C", "MAIN"): 300.0})
    assert jun["factor"].to_dict() == pytest.approx({
        ("A", "EAST"): 0.75, ("A", "MAIN"): 0.75, ("B", "MAIN"): 0.75, ("C", "MAIN"): 1.0})
    # no other period is cut
    other = vol[vol["period"] != "2026-06"]
    assert (other["factor"] == 1.0).all()
    assert (other["constrained"] == other["consensus"]).all()


def test_compare_scenarios_worked_example():
    cmp = example_comparison()
    assert list(cmp.columns) == ["scenario", "period", "volume", "revenue", "cogs", "margin",
                                 "margin_pct", "ending_inventory_qty",
                                 "ending_inventory_value", "unpriced_volume",
                                 "volume_without_cost"]
    assert len(cmp) == 2 * 13
    con = cmp[cmp["scenario"] == "consensus"].set_index("period")
    cut = cmp[cmp["scenario"] == "constrained supply"].set_index("period")
    # 2026-04, both scenarios: volume 480, revenue 18,900, cogs 11,100 (test_finance_plan)
    for s in (con, cut):
        assert s.loc["2026-04", ["volume", "revenue", "cogs", "margin"]].tolist() == \
            pytest.approx([480, 18900, 11100, 7800])
    # ending inventory 2026-04: A@MAIN 100 + 180 − 100 = 180; A@EAST 0 − 20 → floored 0;
    # B 50 + 60 − 60 = 50; C 400 − 300 = 100 → 330 units;
    # value 180 × 60 + 50 × 40 + 100 × 5 = 10,800 + 2,000 + 500 = 13,300
    assert con.loc["2026-04", ["ending_inventory_qty", "ending_inventory_value"]].tolist() \
        == pytest.approx([330, 13300])
    # 2026-06 consensus: volume 170 + 100 + 300 = 570; revenue 26,900; cogs 15,700
    assert con.loc["2026-06", ["volume", "revenue", "cogs"]].tolist() == \
        pytest.approx([570, 26900, 15700])
    # 2026-06 constrained: 127.5 + 75 + 300 = 502.5; revenue 127.5 × 100 + 75 × 75 + 2,400
    # = 12,750 + 5,625 + 2,400 = 20,775; cogs 127.5 × 60 + 75 × 40 + 1,500 = 7,650 + 3,000
    # + 1,500 = 12,150; margin 8,625
    assert cut.loc["2026-06", ["volume", "revenue", "cogs", "margin"]].tolist() == \
        pytest.approx([502.5, 20775, 12150, 8625])
    assert cut.loc["2026-06", "margin_pct"] == pytest.approx(8625 / 20775)
    # ending inventory 2026-06, cumulative then floored:
    # consensus: A@MAIN 30, A@EAST −60 → 0, B −10 → 0, C 100 → 130 units;
    #   value 30 × 60 + 100 × 5 = 2,300
    # constrained: A@MAIN 100 + 280 − (100 + 100 + 112.5) = 67.5; A@EAST −55 → 0;
    #   B 50 + 160 − (60 + 60 + 75) = 15; C 100 → 182.5 units;
    #   value 67.5 × 60 + 15 × 40 + 100 × 5 = 4,050 + 600 + 500 = 5,150
    assert con.loc["2026-06", ["ending_inventory_qty", "ending_inventory_value"]].tolist() \
        == pytest.approx([130, 2300])
    assert cut.loc["2026-06", ["ending_inventory_qty", "ending_inventory_value"]].tolist() \
        == pytest.approx([182.5, 5150])
    # 2026-07 constrained: A@MAIN 67.5 − 100 → 0; B 15 − 60 → 0; C 100 + 300 − 300 = 100
    assert cut.loc["2026-07", ["ending_inventory_qty", "ending_inventory_value"]].tolist() \
        == pytest.approx([100, 500])
    # totals: consensus volume A 1,490 + B 760 + C 3,600 = 5,850, revenue 234,800, cogs
    # 137,800 (test_finance_plan); constrained loses 67.5 units, 6,125 revenue
    # (26,900 − 20,775) and 3,550 cogs (15,700 − 12,150)
    assert con.loc["total", ["volume", "revenue", "cogs", "margin"]].tolist() == \
        pytest.approx([5850, 234800, 137800, 97000])
    assert cut.loc["total", ["volume", "revenue", "cogs", "margin"]].tolist() == \
        pytest.approx([5782.5, 228675, 134250, 94425])
    # ending inventory of the total = 2027-03's: every item is in deficit by then → 0
    assert con.loc["total", "ending_inventory_qty"] == 0
    assert (cmp["unpriced_volume"] == 0).all()


def test_scenario_grid_side_by_side():
    grid = scenario_grid(example_comparison())
    assert list(grid.columns) == ["measure", "scenario", *[f"p{i:02d}" for i in
                                                         range(1, 13)], "total"]
    rev = grid[grid["measure"] == "revenue"].set_index("scenario")
    assert list(rev.index) == ["consensus", "constrained supply", "difference"]
    # 2026-06 (p03): 20,775 − 26,900 = −6,125; total the same
    assert rev.loc["difference", "p03"] == pytest.approx(-6125)
    assert rev.loc["difference", "total"] == pytest.approx(-6125)
    assert rev.loc["difference", "p01"] == 0
    assert grid.attrs["periods"] == PERIODS


def test_gaps_capacity_and_inventory():
    g = gaps(example_plan(), example_items(), example_routings(), example_capacity(),
             example_agg_sales(), example_supply_open(), CURRENT, PRICES)
    assert list(g.columns) == ["gap_type", "period", "work_center", "item_no",
                               "location_code", "hours_short", "volume_at_risk",
                               "revenue_at_risk", "spare_hours_before", "decision",
                               "option_1", "option_2", "option_3"]
    cap = g[g["gap_type"] == "capacity"]
    assert len(cap) == 1
    c = cap.iloc[0]
    # ASSY 2026-06: 440 − 330 = 110 h short; at risk A 170 × 0.25 = 42.5 and B 100 × 0.25
    # = 25 → 67.5 units, 42.5 × 100 + 25 × 75 = 6,125; spare before: (330 − 300) in
    # 2026-04 and 2026-05 = 60 h
    assert (c["period"], c["work_center"]) == ("2026-06", "ASSY")
    assert c["hours_short"] == pytest.approx(110)
    assert c["volume_at_risk"] == pytest.approx(67.5)
    assert c["revenue_at_risk"] == pytest.approx(6125)
    assert c["spare_hours_before"] == pytest.approx(60)
    assert "110.0 h" in c["option_1"]
    assert "60.0 h spare" in c["option_2"] and "50.0 h still short" in c["option_2"]
    assert "67.5 units" in c["option_3"] and "6,125.00" in c["option_3"]
    inv = g[g["gap_type"] == "inventory"]
    # first negative period (test_supply_plan): A@EAST 2026-04, B 2026-05, A@MAIN 2026-07,
    # C 2026-08; volume at risk = −(lowest projection): A@EAST 240, B 550, A@MAIN 870,
    # C 2,300; revenue at risk × price: 24,000; 41,250; 87,000; 18,400
    assert inv[["item_no", "location_code", "period"]].values.tolist() == [
        ["A", "EAST", "2026-04"], ["B", "MAIN", "2026-05"], ["A", "MAIN", "2026-07"],
        ["C", "MAIN", "2026-08"]]
    assert inv["volume_at_risk"].tolist() == pytest.approx([240, 550, 870, 2300])
    assert inv["revenue_at_risk"].tolist() == pytest.approx([24000, 41250, 87000, 18400])
    # manufactured B needs 550 × (1 + 0.5) = 825 h; C is bought in → purchase order
    assert "production order" in inv.iloc[1]["option_1"] and "825.0 h" in \
        inv.iloc[1]["option_1"]
    assert "purchase order" in inv.iloc[3]["option_1"]
    # re-allocation: A@MAIN holds 180 in 2026-04 (test_supply_plan) when A@EAST goes
    # negative; B has no other location
    assert "180.0 units of A projected at other locations in 2026-04 (MAIN 180.0)" in \
        inv.iloc[0]["option_2"]
    assert "no stock of B" in inv.iloc[1]["option_2"]
    assert inv["hours_short"].isna().all()
    assert g[["option_1", "option_2", "option_3"]].notna().all().all()


def test_spare_capacity_is_consumed_by_earlier_overloads():
    periods = PERIODS[:4]
    plan = pd.DataFrame({"item_no": "X", "location_code": "L", "period": periods,
                         "consensus": [80.0, 120.0, 50.0, 130.0]})
    routings = pd.DataFrame({"item_no": ["X"], "work_center": ["W"], "hours_per_unit": [1.0]})
    capacity = pd.DataFrame({"work_center": "W", "period": periods, "available_hours": 100.0})
    g = gaps(plan, None, routings, capacity, None, None, CURRENT, {"X": 2.0})
    cap = g[g["gap_type"] == "capacity"]
    # 2026-04 spare 20; 2026-05 short 20, takes the 20 → 0 left; 2026-06 spare 50;
    # 2026-07 short 30 with 50 spare before it
    assert cap["period"].tolist() == ["2026-05", "2026-07"]
    assert cap["hours_short"].tolist() == pytest.approx([20, 30])
    assert cap["spare_hours_before"].tolist() == pytest.approx([20, 50])
    # 2026-05: 120 × (1 − 100/120) = 20 units at risk, × 2 = 40
    assert cap["volume_at_risk"].tolist() == pytest.approx([20, 30])
    assert cap["revenue_at_risk"].tolist() == pytest.approx([40, 60])
    # no on hand, no supply: X goes negative in 2026-04, short 380 at the end
    inv = g[g["gap_type"] == "inventory"].iloc[0]
    assert (inv["period"], inv["volume_at_risk"]) == ("2026-04", 380.0)


def test_item_factor_is_the_minimum_over_its_centres():
    plan = pd.DataFrame({"item_no": ["X", "Y"], "location_code": ["L", "L"],
                         "period": ["2026-04", "2026-04"], "consensus": [10.0, 10.0]})
    routings = pd.DataFrame({"item_no": ["X", "X", "Y"], "work_center": ["W1", "W2", "W2"],
                             "hours_per_unit": [1.0, 1.0, 3.0]})
    capacity = pd.DataFrame({"work_center": ["W1", "W2"], "period": ["2026-04", "2026-04"],
                             "available_hours": [5.0, 30.0]})
    vol = constrained_volume(plan, routings, capacity, CURRENT)
    # W1: load 10, 5 available → 0.5; W2: load 10 + 30 = 40, 30 available → 0.75
    # X on W1 and W2 → min(0.5, 0.75) = 0.5 → 5 units; Y on W2 → 7.5 units
    apr = vol[vol["period"] == "2026-04"].set_index("item_no")
    assert apr["constrained"].to_dict() == {"X": 5.0, "Y": 7.5}


def test_empty_routings_and_capacity_leave_the_plan_unconstrained():
    for routings, capacity in [(pd.DataFrame(), example_capacity()),
                               (example_routings(), pd.DataFrame()), (None, None)]:
        cmp = compare_scenarios(example_plan(), example_items(), routings, capacity,
                                example_agg_sales(), example_supply_open(), CURRENT, PRICES)
        con = cmp[cmp["scenario"] == "consensus"].drop(columns="scenario").reset_index(
            drop=True)
        cut = cmp[cmp["scenario"] == "constrained supply"].drop(
            columns="scenario").reset_index(drop=True)
        pd.testing.assert_frame_equal(con, cut)
        # consensus totals as in the worked example
        assert con.iloc[-1][["volume", "revenue"]].tolist() == pytest.approx([5850, 234800])
        g = gaps(example_plan(), example_items(), routings, capacity, example_agg_sales(),
                 example_supply_open(), CURRENT, PRICES)
        assert set(g["gap_type"]) == {"inventory"}


def test_missing_price_is_reported_as_unpriced_volume():
    # B has no entry: its volume counts no revenue and shows as unpriced
    cmp = example_comparison({"A": 100.0, "C": 8.0})
    con = cmp[cmp["scenario"] == "consensus"].set_index("period")
    # 2026-04: revenue 12,000 + 2,400 = 14,400; unpriced 60 (B); cogs unchanged 11,100
    assert con.loc["2026-04", ["revenue", "cogs", "unpriced_volume"]].tolist() == \
        pytest.approx([14400, 11100, 60])
    # price_of as a callable or the item_prices frame works the same way
    assert math.isnan(price_lookup(lambda i: None)("A"))
    assert math.isnan(price_lookup({"A": 1.0})("Z"))
    frame = pd.DataFrame({"price": [100.0]}, index=pd.Index(["A"], name="item_no"))
    assert price_lookup(frame)("A") == 100.0


def test_zero_demand_scenario():
    plan = pd.DataFrame({"item_no": ["A"], "location_code": ["MAIN"], "period": ["2026-04"],
                         "consensus": [0.0]})
    cmp = compare_scenarios(plan, example_items(), example_routings(), example_capacity(),
                            example_agg_sales(), None, CURRENT, PRICES)
    total = cell(cmp, scenario="consensus", period="total")
    # nothing sold: revenue 0, margin % undefined; every item with stock keeps it:
    # A 100 × 60 + B 50 × 40 + C 400 × 5 = 6,000 + 2,000 + 2,000 = 10,000 at cost
    assert (total["volume"], total["revenue"]) == (0.0, 0.0)
    assert total["margin_pct"] is None
    assert total["ending_inventory_qty"] == 550.0
    assert total["ending_inventory_value"] == pytest.approx(10000)
