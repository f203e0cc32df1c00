"""Hand-worked: sales budget -> GL mapping, unmapped lines, budget variance, BC sign.

domain.md: each sales-budget line maps to a sales GL account through the general posting
setup (customer's gen. bus. posting group, item's gen. prod. posting group) -> sales
account; a line with no mapping is an error to report, not a line to drop.
Budget variance per GL account and period: variance = sales budget (mapped) - financial
budget; variance % = variance / |financial budget|; for revenue accounts a positive
variance is favourable, for cost accounts unfavourable. Income stored as negative (BC) is
normalised on load by a configured sign. The same posting-setup pair maps budgeted
quantity x item unit cost to the setup's COGS account; an account no setup row names is
"outside the sales budget" (never favourable or unfavourable).

Master (hw_support.MASTER): C1 = DOM, C2 = EXP; I1, I2 = RETAIL, I3 = SERVICE,
I4 = FREIGHT; DOM+RETAIL -> 4000 (income), EXP+RETAIL -> 4100 (income),
DOM+FREIGHT -> 6100 (expense); every setup row has COGS account 5000; 6000 is an
expense account no setup row names; no setup for SERVICE. Unit costs: I1 5, I2 8, I4 0.
Every budget line here has quantity 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hw_support import bud, kpis, write_source

P = "2024-03"

SALES_BUDGET = {
    "sales_budget": [
        bud("2024-03", 1000, customer="C1", item="I1", loc="WH1"),  # DOM+RETAIL -> 4000
        bud("2024-03", 500, customer="C1", item="I2", loc="WH2"),  # DOM+RETAIL -> 4000
        bud("2024-03", 800, customer="C2", item="I1", loc="WH1"),  # EXP+RETAIL -> 4100
        bud("2024-03", 250, customer="C1", item="I3", loc="WH1"),  # DOM+SERVICE -> unmapped
        bud("2024-03", 300, customer="C1", item="I4", loc="WH1"),  # DOM+FREIGHT -> 6100
        bud("2024-04", 2000, customer="C1", item="I1", loc="WH1"),  # -> 4000 (April)
        bud("2024-04", 400, customer="C2", item="I1", loc="WH1"),  # -> 4100 (April)
        bud("2024-04", 90, customer="C2", item="I3", loc="WH1"),  # EXP+SERVICE -> unmapped
    ],
}


def gl(account, period, amount):
    return {"gl_account": account, "period": period, "amount": amount}


GL_POSITIVE = {
    "gl_budget": [
        gl("4000", "2024-03", 1200),
        gl("4100", "2024-03", 1000),
        gl("6000", "2024-03", 500),
        gl("6100", "2024-03", 200),
        gl("4000", "2024-02", 999),  # other period
        gl("4000", "2024-04", 2000),
    ],
}

# Same budget as Business Central stores it: income accounts negative, expenses positive.
GL_BC = {
    "gl_budget": [
        gl("4000", "2024-03", -1200),
        gl("4100", "2024-03", -1000),
        gl("6000", "2024-03", 500),
        gl("6100", "2024-03", 200),
        gl("4000", "2024-02", -999),
        gl("4000", "2024-04", -2000),
    ],
}


def by_account(out):
    rows = {str(r["gl_account"]): r for r in out["budget_variance"]}
    assert len(rows) == len(out["budget_variance"]), "one row per GL account expected"
    return rows


def check_march(rows):
    assert set(rows) == {"4000", "4100", "5000", "6000", "6100"}
    for r in rows.values():
        assert r["period"] == P
    r = rows["4000"]  # income
    assert r["sales_budget"] == pytest.approx(1500)  # 1000 + 500
    assert r["financial_budget"] == pytest.approx(1200)
    assert r["variance"] == pytest.approx(300)  # 1500 - 1200
    assert r["variance_pct"] == pytest.approx(0.25)  # 300 / |1200|
    assert r["assessment"] == "favourable"  # income, positive variance
    r = rows["4100"]  # income
    assert r["sales_budget"] == pytest.approx(800)
    assert r["financial_budget"] == pytest.approx(1000)
    assert r["variance"] == pytest.approx(-200)  # 800 - 1000
    assert r["variance_pct"] == pytest.approx(-0.2)  # -200 / |1000|
    assert r["assessment"] == "unfavourable"  # income, negative variance
    r = rows["5000"]  # COGS: qty x unit cost of the mapped lines, no financial budget
    # C1 I1 1x5 + C1 I2 1x8 + C2 I1 1x5 + C1 I4 1x0 = 18 (C1 I3 has no setup row)
    assert r["sales_budget"] == pytest.approx(18)
    assert r["financial_budget"] == pytest.approx(0)
    assert r["variance"] == pytest.approx(18)  # 18 - 0
    assert r["variance_pct"] is None  # 18 / |0| -> no value
    assert r["assessment"] == "unfavourable"  # cost account, positive variance
    r = rows["6000"]  # expense no posting-setup row names: outside the sales budget
    assert r["sales_budget"] is None
    assert r["financial_budget"] == pytest.approx(500)
    assert r["variance"] is None
    assert r["variance_pct"] is None
    assert r["assessment"] == "outside the sales budget"
    r = rows["6100"]  # expense, mapped from the I4 (FREIGHT) line
    assert r["sales_budget"] == pytest.approx(300)
    assert r["financial_budget"] == pytest.approx(200)
    assert r["variance"] == pytest.approx(100)  # 300 - 200
    assert r["variance_pct"] == pytest.approx(0.5)  # 100 / |200|
    assert r["assessment"] == "unfavourable"  # cost account, positive variance


def test_budget_variance_march(tmp_path):
    out = kpis(write_source(tmp_path, SALES_BUDGET, GL_POSITIVE), P)
    check_march(by_account(out))


def test_budget_variance_explicit_positive_sign(tmp_path):
    out = kpis(write_source(tmp_path, SALES_BUDGET, GL_POSITIVE), P, "--gl-income-sign", "positive")
    check_march(by_account(out))


def test_budget_variance_bc_negative_income_normalised(tmp_path):
    out = kpis(write_source(tmp_path, SALES_BUDGET, GL_BC), P, "--gl-income-sign", "negative")
    # income amounts x -1 on load (4000: 1200, 4100: 1000); expenses untouched -> as March
    check_march(by_account(out))


def test_budget_variance_bc_data_without_flag_is_taken_as_stored(tmp_path):
    out = kpis(write_source(tmp_path, SALES_BUDGET, GL_BC), P)
    rows = by_account(out)
    # default sign positive: -1200 used as is -> variance 1500 - (-1200) = 2700,
    # pct 2700 / |-1200| = 2.25 (no silent flip)
    assert rows["4000"]["financial_budget"] == pytest.approx(-1200)
    assert rows["4000"]["variance"] == pytest.approx(2700)
    assert rows["4000"]["variance_pct"] == pytest.approx(2.25)
    assert rows["6000"]["financial_budget"] == pytest.approx(500)  # expense unaffected


def test_budget_variance_april_on_budget_and_zero_financial_budget(tmp_path):
    out = kpis(write_source(tmp_path, SALES_BUDGET, GL_POSITIVE), "2024-04")
    rows = by_account(out)
    # the I3 line (unmapped) makes no row; 5000: C1 I1 1x5 + C2 I1 1x5 = 10 of cost
    assert set(rows) == {"4000", "4100", "5000"}
    assert rows["5000"]["sales_budget"] == pytest.approx(10)
    r = rows["4000"]
    assert r["sales_budget"] == pytest.approx(2000)
    assert r["financial_budget"] == pytest.approx(2000)
    assert r["variance"] == pytest.approx(0)  # 2000 - 2000
    assert r["variance_pct"] == pytest.approx(0)  # 0 / 2000
    assert r["assessment"] == "on budget"
    r = rows["4100"]
    assert r["sales_budget"] == pytest.approx(400)
    assert r["financial_budget"] == pytest.approx(0)  # no gl_budget line for 4100 in April
    assert r["variance"] == pytest.approx(400)  # 400 - 0
    assert r["variance_pct"] is None  # 400 / |0| -> no value
    assert r["assessment"] == "favourable"  # income, positive variance


def _unmapped(out):
    return sorted(
        (
            u["period"],
            u["customer_no"],
            u["item_no"],
            u["location_code"],
            u["gen_bus_posting_group"],
            u["gen_prod_posting_group"],
            float(u["amount"]),
        )
        for u in out["unmapped_budget_lines"]
    )


def test_unmapped_budget_lines_of_the_period(tmp_path):
    out = kpis(write_source(tmp_path, SALES_BUDGET, GL_POSITIVE), P)
    # I3 is SERVICE; no posting setup for DOM+SERVICE: only March's line is listed
    assert _unmapped(out) == [("2024-03", "C1", "I3", "WH1", "DOM", "SERVICE", 250.0)]
    assert out["unmapped_budget_lines_all_periods"] == 2


def test_unmapped_budget_lines_reported_all_periods(tmp_path):
    out = kpis(write_source(tmp_path, SALES_BUDGET, GL_POSITIVE), P, "--unmapped", "all")
    # I3 is SERVICE; no posting setup for DOM+SERVICE or EXP+SERVICE
    assert _unmapped(out) == [
        ("2024-03", "C1", "I3", "WH1", "DOM", "SERVICE", 250.0),
        ("2024-04", "C2", "I3", "WH1", "EXP", "SERVICE", 90.0),
    ]
