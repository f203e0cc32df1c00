"""Finance review cores on the worked example of tests/review/test_supply_plan.py, by hand.

Finance data added to the example:
- Sales mix (agg_item_mix): A — DOMESTIC 30 units / 3,000, EXPORT 10 units / 1,000
  (amount shares 0.75 / 0.25); B — DOMESTIC 10 / 900, WHOLESALE 30 / 2,100 (shares
  0.3 / 0.7; B has no unit price → realised price (900 + 2,100) / (10 + 30) = 75);
  C has no sales history.
- Posting setup: DOMESTIC×RETAIL → sales 6110 / cogs 7110; WHOLESALE×RETAIL → 6120 /
  7120; DOMESTIC×PARTS → sales 6210, no cogs account. EXPORT×RETAIL has no row.
- Prices: A 100 (unit price), B 75 (realised), C 8. Costs: A 60, B 40, C 5.
- Volumes (Σ over locations): A 120 (170 in 2026-06), B 60 (100 in 2026-06), C 300.
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_supply_plan import (
    NAN,
    PERIODS,
    example_capacity,
    example_items,
    example_plan,
    example_routings,
)

from sop_workbook.review.finance import (
    UNMAPPED,
    cash_need,
    item_prices,
    material_cost_per_unit,
    value_summary,
    volume_to_value,
)
from sop_workbook.review.supply import capacity_load


def example_mix() -> pd.DataFrame:
    return pd.DataFrame({
        "item_no": ["A", "A", "B", "B"],
        "gen_bus_posting_group": ["DOMESTIC", "EXPORT", "DOMESTIC", "WHOLESALE"],
        "invoiced_qty": [30.0, 10.0, 10.0, 30.0],
        "invoiced_amount": [3000.0, 1000.0, 900.0, 2100.0],
        "cost_amount": [1800.0, 600.0, 400.0, 1200.0],
    })


def example_setup() -> pd.DataFrame:
    return pd.DataFrame({
        "gen_bus_posting_group": ["DOMESTIC", "WHOLESALE", "DOMESTIC"],
        "gen_prod_posting_group": ["RETAIL", "RETAIL", "PARTS"],
        "sales_account": ["6110", "6120", "6210"],
        "cogs_account": ["7110", "7120", None],
    })


def example_gl() -> pd.DataFrame:
    return pd.DataFrame({
        "gl_account": ["6110", "6120", "6210", "7110", "7120"],
        "name": ["Sales bikes domestic", "Sales bikes wholesale", "Sales parts",
                 "COGS bikes domestic", "COGS bikes wholesale"],
        "account_type": ["income", "income", "income", "expense", "expense"],
        "category": ["sales"] * 3 + ["cogs"] * 2,
    })


def example_value():
    return volume_to_value(example_plan(), example_items(), example_mix(), example_setup(),
                           example_gl())


def amounts(lines: pd.DataFrame, period: str) -> dict[tuple[str, str, str], float]:
    rows = lines[lines["period"] == period]
    return {(c, g, line): a for c, g, line, a in
            rows[["category", "gl_account", "line", "amount"]].itertuples(index=False)}


def test_prices_unit_price_else_realised():
    prices = item_prices(example_items(), example_mix())
    assert prices["price"].to_dict() == {"A": 100.0, "B": 75.0, "C": 8.0}
    assert prices["price_source"].to_dict() == {"A": "unit_price", "B": "realised",
                                                "C": "unit_price"}


def test_volume_to_value_by_gl_worked_example():
    lines = example_value().lines
    assert list(lines.columns) == ["period", "category", "gl_account", "gl_name", "line",
                                   "amount"]
    # 2026-04, BIKES:
    #  A revenue 120 × 100 = 12,000 → 6110: 0.75 × 12,000 = 9,000; EXPORT 3,000 unmapped
    #  B revenue 60 × 75 = 4,500 → 6110: 0.3 × 4,500 = 1,350; 6120: 0.7 × 4,500 = 3,150
    #  A cogs 120 × 60 = 7,200 → 7110 5,400; unmapped 1,800
    #  B cogs 60 × 40 = 2,400 → 7110 720; 7120 1,680
    # PARTS: C has no history, the one PARTS setup row is used: revenue 300 × 8 = 2,400 →
    #  6210; cogs 300 × 5 = 1,500 → the row has no cogs account → unmapped
    assert amounts(lines, "2026-04") == pytest.approx({
        ("BIKES", "6110", "revenue"): 9000 + 1350,
        ("BIKES", "6120", "revenue"): 3150,
        ("BIKES", UNMAPPED, "revenue"): 3000,
        ("BIKES", "7110", "cogs"): 5400 + 720,
        ("BIKES", "7120", "cogs"): 1680,
        ("BIKES", UNMAPPED, "cogs"): 1800,
        ("PARTS", "6210", "revenue"): 2400,
        ("PARTS", UNMAPPED, "cogs"): 1500,
    })
    # 2026-06: A 170 × 100 = 17,000 (6110 12,750, unmapped 4,250); B 100 × 75 = 7,500
    # (6110 2,250, 6120 5,250); A cogs 10,200 (7110 7,650, unmapped 2,550); B cogs 4,000
    # (7110 1,200, 7120 2,800)
    june = amounts(lines, "2026-06")
    assert june[("BIKES", "6110", "revenue")] == pytest.approx(12750 + 2250)
    assert june[("BIKES", "6120", "revenue")] == pytest.approx(5250)
    assert june[("BIKES", UNMAPPED, "revenue")] == pytest.approx(4250)
    assert june[("BIKES", "7110", "cogs")] == pytest.approx(7650 + 1200)
    assert june[("BIKES", UNMAPPED, "cogs")] == pytest.approx(2550)
    names = dict(zip(lines["gl_account"], lines["gl_name"], strict=True))
    assert names["6120"] == "Sales bikes wholesale"
    assert pd.isna(names[UNMAPPED])


def test_unmapped_amounts_are_listed_with_their_pair():
    value = example_value()
    un = value.unmapped
    assert list(un.columns) == ["period", "item_no", "category", "gen_bus_posting_group",
                                "gen_prod_posting_group", "line", "amount", "reason"]
    # A × EXPORT × RETAIL: revenue and cogs in each of 12 periods; C cogs in 12 periods
    assert len(un) == 36
    a = un[(un["item_no"] == "A") & (un["period"] == "2026-04")]
    assert set(zip(a["gen_bus_posting_group"], a["gen_prod_posting_group"], a["line"],
                   strict=True)) == {("EXPORT", "RETAIL", "revenue"),
                                     ("EXPORT", "RETAIL", "cogs")}
    assert a["amount"].tolist() == pytest.approx([3000, 1800])
    c = un[un["item_no"] == "C"]
    assert set(c["line"]) == {"cogs"} and set(c["gen_bus_posting_group"]) == {"DOMESTIC"}
    assert c["reason"].iloc[0] == "posting-setup row has no cogs_account"
    # nothing is dropped: Σ GL lines = Σ revenue + cogs. Revenue over the horizon:
    # A 1,490 units × 100 + B 760 × 75 + C 3,600 × 8 = 149,000 + 57,000 + 28,800
    # COGS: 1,490 × 60 + 760 × 40 + 3,600 × 5 = 89,400 + 30,400 + 18,000
    lines = value.lines
    assert lines.loc[lines["line"] == "revenue", "amount"].sum() == pytest.approx(234800)
    assert lines.loc[lines["line"] == "cogs", "amount"].sum() == pytest.approx(137800)
    assert value.missing_price.empty and value.missing_cost.empty


def test_value_summary_per_period_and_category():
    summary = value_summary(example_value())
    assert list(summary.columns) == ["period", "category", "volume", "volume_unpriced",
                                     "revenue", "cogs", "margin", "margin_pct"]
    apr = summary[summary["period"] == "2026-04"].set_index("category")
    assert list(apr.index) == ["BIKES", "PARTS", "(all)"]
    # 2026-04 total: volume 120 + 60 + 300 = 480; revenue 12,000 + 4,500 + 2,400 = 18,900;
    # cogs 7,200 + 2,400 + 1,500 = 11,100; margin 7,800; 7,800 / 18,900 = 0.4127
    assert apr.loc["(all)", ["volume", "revenue", "cogs", "margin"]].tolist() == \
        pytest.approx([480, 18900, 11100, 7800])
    assert apr.loc["(all)", "margin_pct"] == pytest.approx(7800 / 18900)
    # BIKES: 180 units, revenue 16,500, cogs 9,600, margin 6,900
    assert apr.loc["BIKES", ["volume", "revenue", "cogs", "margin"]].tolist() == \
        pytest.approx([180, 16500, 9600, 6900])
    # 2026-06 total: revenue 17,000 + 7,500 + 2,400 = 26,900; cogs 10,200 + 4,000 + 1,500
    jun = summary[(summary["period"] == "2026-06") & (summary["category"] == "(all)")]
    assert jun[["revenue", "cogs", "margin"]].iloc[0].tolist() == pytest.approx(
        [26900, 15700, 11200])


def test_item_without_any_price_is_listed_not_zero():
    items = pd.concat([example_items(), pd.DataFrame({
        "item_no": ["D"], "description": ["Kit"], "category": ["PARTS"],
        "gen_prod_posting_group": ["PARTS"], "unit_cost": [2.0], "unit_price": [0.0]})])
    plan = pd.concat([example_plan(), pd.DataFrame({
        "item_no": ["D", "D"], "location_code": ["MAIN", "EAST"], "period": ["2026-04"] * 2,
        "consensus": [7.0, 3.0]})])
    value = volume_to_value(plan, items, example_mix(), example_setup(), example_gl())
    # D: unit price 0 (read as not given) and no sales history → no price
    assert value.missing_price.to_dict("records") == [
        {"item_no": "D", "category": "PARTS", "volume": 10.0}]
    # no revenue line for D: PARTS revenue in 2026-04 stays C's 2,400; D's cogs 10 × 2 = 20
    # joins C's 1,500 on the unmapped PARTS cogs
    apr = amounts(value.lines, "2026-04")
    assert apr[("PARTS", "6210", "revenue")] == pytest.approx(2400)
    assert apr[("PARTS", UNMAPPED, "cogs")] == pytest.approx(1520)
    parts = value_summary(value)
    parts = parts[(parts["period"] == "2026-04") & (parts["category"] == "PARTS")].iloc[0]
    assert (parts["volume"], parts["volume_unpriced"]) == (310.0, 10.0)


def test_no_history_and_ambiguous_setup_is_unmapped():
    items = pd.DataFrame({"item_no": ["K"], "description": ["k"], "category": ["TOOLS"],
                          "gen_prod_posting_group": ["TOOLS"], "unit_cost": [1.0],
                          "unit_price": [4.0]})
    setup = pd.DataFrame({"gen_bus_posting_group": ["DOMESTIC", "EXPORT"],
                          "gen_prod_posting_group": ["TOOLS", "TOOLS"],
                          "sales_account": ["6300", "6310"], "cogs_account": ["7300", "7310"]})
    plan = pd.DataFrame({"item_no": ["K"], "location_code": ["L"], "period": ["2026-04"],
                         "consensus": [5.0]})
    value = volume_to_value(plan, items, None, setup, None)
    # two TOOLS rows and no history → neither can be chosen: 5 × 4 = 20 revenue and
    # 5 × 1 = 5 cogs go to (unmapped)
    assert amounts(value.lines, "2026-04") == {("TOOLS", UNMAPPED, "revenue"): 20.0,
                                               ("TOOLS", UNMAPPED, "cogs"): 5.0}
    assert value.unmapped["reason"].str.startswith("no sales history").all()
    # with a single TOOLS row the fallback maps it
    value = volume_to_value(plan, items, None, setup.iloc[:1], None)
    assert amounts(value.lines, "2026-04") == {("TOOLS", "6300", "revenue"): 20.0,
                                               ("TOOLS", "7300", "cogs"): 5.0}
    assert value.unmapped.empty


def test_cash_need_worked_example():
    load = capacity_load(example_plan(), example_routings(), example_capacity(), PERIODS)
    cash = cash_need(example_plan(), example_items(), example_routings(), load, 10.0)
    assert list(cash.columns) == ["period", "material", "labour", "total",
                                  "volume_without_cost"]
    assert cash["period"].tolist() == PERIODS
    # material per unit: A 60 − 2 h × 10 = 40; B 40 − (1 + 0.5) h × 10 = 25; C 5 (bought)
    # 2026-04: material 120 × 40 + 60 × 25 + 300 × 5 = 4,800 + 1,500 + 1,500 = 7,800;
    # labour (ASSY 300 h + PAINT 30 h) × 10 = 3,300; total 11,100 (= that period's COGS,
    # as it must be under chase with standard costs)
    apr = cash.iloc[0]
    assert apr[["material", "labour", "total"]].tolist() == pytest.approx([7800, 3300, 11100])
    # 2026-06: 170 × 40 + 100 × 25 + 1,500 = 10,800; (440 + 50) × 10 = 4,900 → 15,700
    jun = cash.iloc[2]
    assert jun[["material", "labour", "total"]].tolist() == pytest.approx([10800, 4900, 15700])
    # PAINT has no capacity row from 2026-10 but its load still costs labour: 3,300
    assert cash.iloc[6]["labour"] == pytest.approx(3300)
    assert cash["total"].sum() == pytest.approx(11 * 11100 + 15700)
    assert (cash["volume_without_cost"] == 0).all()


def test_material_cost_floor_rate_per_centre_and_empty_routings():
    items = pd.DataFrame({"item_no": ["M", "N"], "description": ["m", "n"],
                          "category": ["X", "X"], "gen_prod_posting_group": ["G", "G"],
                          "unit_cost": [10.0, NAN], "unit_price": [NAN, NAN]})
    routings = pd.DataFrame({"item_no": ["M", "M"], "work_center": ["W1", "W2"],
                             "hours_per_unit": [1.0, 2.0]})
    # M: 10 − (1 h × 4 + 2 h × 5) = −4 → floored at 0
    per_unit = material_cost_per_unit(items, routings, {"W1": 4.0, "W2": 5.0})
    assert per_unit["M"] == 0.0 and pd.isna(per_unit["N"])
    plan = pd.DataFrame({"item_no": ["M", "N"], "location_code": ["L", "L"],
                         "period": ["2026-04", "2026-04"], "consensus": [3.0, 2.0]})
    load = capacity_load(plan, routings, None, ["2026-04"])
    cash = cash_need(plan, items, routings, load, {"W1": 4.0, "W2": 5.0})
    # labour: W1 3 h × 4 + W2 6 h × 5 = 42; material 0; N has no cost → 2 units reported
    assert cash.iloc[0][["material", "labour", "total", "volume_without_cost"]].tolist() == \
        [0.0, 42.0, 42.0, 2.0]
    # no routings and no capacity: everything is bought in at unit cost, no labour
    empty = pd.DataFrame(columns=["item_no", "work_center", "hours_per_unit"])
    load = capacity_load(plan, empty, None, ["2026-04"])
    assert load.empty
    cash = cash_need(plan, items, empty, load, 4.0)
    assert cash.iloc[0][["material", "labour"]].tolist() == [30.0, 0.0]


def test_zero_demand_has_no_margin_pct():
    plan = pd.DataFrame({"item_no": ["A"], "location_code": ["MAIN"], "period": ["2026-04"],
                         "consensus": [0.0]})
    summary = value_summary(volume_to_value(plan, example_items(), example_mix(),
                                            example_setup(), example_gl()))
    total = summary[summary["category"] == "(all)"].iloc[0]
    assert (total["volume"], total["revenue"], total["margin"]) == (0.0, 0.0, 0.0)
    assert total["margin_pct"] is None
