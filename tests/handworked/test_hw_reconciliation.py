"""Hand-worked: the budget reconciliation as a controller reads it.

Revenue (sales account, budget amount) and cost of sales (COGS account, budgeted quantity
x item unit cost) through the posting setup; accounts outside the sales budget listed
apart; income sign inconsistencies named in a warning; every output format carries the
variance.

Master (hw_support.MASTER): C1 = DOM, C2 = EXP; I1 (unit cost 5), I2 (8) = RETAIL;
DOM+RETAIL -> sales 4000 / COGS 5000, EXP+RETAIL -> 4100 / 5000, DOM+FREIGHT -> 6100 /
5000; 6000 (Marketing, expense) is named by no setup row.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hw_support import bud, kpis, run_cli, write_source

P = "2024-05"

BUDGET = {
    "sales_budget": [
        bud(P, 1000, customer="C1", item="I1", qty=40),  # 4000: 1000; 5000: 40 x 5 = 200
        bud(P, 600, customer="C1", item="I2", qty=25),  # 4000: 600; 5000: 25 x 8 = 200
        bud(P, 300, customer="C2", item="I1", qty=12),  # 4100: 300; 5000: 12 x 5 = 60
    ],
}


def gl(account, amount, period=P):
    return {"gl_account": account, "period": period, "amount": amount}


GL = {"gl_budget": [gl("4000", 1500), gl("4100", 400), gl("5000", 500), gl("6000", 250)]}


def rows(out):
    return {r["gl_account"]: r for r in out["budget_variance"]}


def test_revenue_and_cost_of_sales_through_the_posting_setup(tmp_path):
    out = kpis(write_source(tmp_path, BUDGET, GL), P)
    r = rows(out)
    # 4000 income: 1000 + 600 = 1600 vs 1500 -> +100, 100 / 1500 = 6.67 %, favourable
    assert r["4000"]["sales_budget"] == pytest.approx(1600)
    assert r["4000"]["variance"] == pytest.approx(100)
    assert r["4000"]["variance_pct"] == pytest.approx(100 / 1500)
    assert r["4000"]["assessment"] == "favourable"
    # 4100 income: 300 vs 400 -> -100, -25 %, unfavourable
    assert r["4100"]["variance"] == pytest.approx(-100)
    assert r["4100"]["variance_pct"] == pytest.approx(-0.25)
    assert r["4100"]["assessment"] == "unfavourable"
    # 5000 COGS (expense): 200 + 200 + 60 = 460 vs 500 -> -40, -8 %: less cost, favourable
    assert r["5000"]["sales_budget"] == pytest.approx(460)
    assert r["5000"]["variance"] == pytest.approx(-40)
    assert r["5000"]["variance_pct"] == pytest.approx(-0.08)
    assert r["5000"]["assessment"] == "favourable"
    # 6000: no setup row names it -> outside, with its financial budget, never judged
    assert r["6000"]["assessment"] == "outside the sales budget"
    assert r["6000"]["financial_budget"] == pytest.approx(250)
    assert r["6000"]["variance"] is None and r["6000"]["sales_budget"] is None
    # listed apart: after every account the sales budget feeds
    order = [x["gl_account"] for x in out["budget_variance"]]
    assert order == ["4000", "4100", "5000", "6000"]


def test_table_output_lists_outside_accounts_apart(tmp_path):
    proc = run_cli("kpis", "--source", write_source(tmp_path, BUDGET, GL), "--period", P)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "Sales budget vs financial budget — 2024-05" in text
    assert "Outside the sales budget" in text
    fed, outside = text.split("Outside the sales budget", 1)
    assert "Marketing" in outside and "Marketing" not in fed
    assert "favourable" not in outside


def test_csv_carries_the_variance(tmp_path):
    proc = run_cli("kpis", "--source", write_source(tmp_path, BUDGET, GL), "--period", P,
                   "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    records = list(csv.DictReader(io.StringIO(proc.stdout)))
    got = {(r["kpi"], r["gl_account"]): r["value"] for r in records}
    assert float(got[("budget_variance.variance", "4000")]) == pytest.approx(100)
    assert float(got[("budget_variance.sales_budget", "5000")]) == pytest.approx(460)
    assert got[("budget_variance.assessment", "6000")] == "outside the sales budget"
    assert got[("budget_variance.variance", "6000")] == ""


def test_csv_by_dimension_carries_the_variance_too(tmp_path):
    proc = run_cli("kpis", "--source", write_source(tmp_path, BUDGET, GL), "--period", P,
                   "--format", "csv", "--by", "item")
    assert proc.returncode == 0, proc.stderr
    records = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert any(r["kpi"] == "budget_variance.variance" and r["gl_account"] == "4100"
               and float(r["value"]) == pytest.approx(-100) for r in records)
    assert any(r["dimension"] == "item" and r["member"] == "I1" for r in records)


def test_negative_sign_on_positive_budget_warns_naming_the_accounts(tmp_path):
    source = write_source(tmp_path, BUDGET, GL)
    proc = run_cli("kpis", "--source", source, "--period", P, "--gl-income-sign", "negative")
    assert proc.returncode == 0, proc.stderr
    # 4000 and 4100 become -1500 and -400 after normalisation: 2 of 2 income lines negative
    warning = [line for line in proc.stderr.splitlines() if "income" in line]
    assert warning, proc.stderr
    assert "4000 Sales domestic" in warning[0] and "4100 Sales export" in warning[0]
    assert "--gl-income-sign positive" in warning[0]


def test_one_negative_income_line_is_named(tmp_path):
    gl_rows = {"gl_budget": [gl("4000", 1500), gl("4100", -250), gl("4000", 900, "2024-06"),
                             gl("4100", 400, "2024-06")]}
    out = kpis(write_source(tmp_path, BUDGET, gl_rows), P)
    # 1 of 4 income lines negative: not a wrong sign setting, an inconsistent line
    found = [w for w in out["warnings"] if "4100 Sales export" in w]
    assert found and "4000" not in found[0]
    # the variance is still shown as stored: 300 - (-250) = 550
    assert rows(out)["4100"]["variance"] == pytest.approx(550)
