"""Hand-worked figures for sales budget → GL, budget variance, close ratio and commit vs
closed. Master data (tests/sources.py): C1 is DOMESTIC, C2 EXPORT; items A and B are
RETAIL; the posting setup maps only DOMESTIC × RETAIL → 6110."""

import pandas as pd
import pytest
from sources import write_source

from sop_workbook.kpi import (
    budget_variance,
    build_facts,
    close_ratio,
    commit_vs_closed,
    map_sales_budget_to_gl,
    variance_detail,
)
from sop_workbook.loader import load_source

P = "2026-03"


def budget(customer, item, location, amount, period=P):
    return {"period": period, "customer_no": customer, "item_no": item,
            "location_code": location, "quantity": 1, "amount": amount}


def gl(account, amount, period=P):
    return {"gl_account": account, "period": period, "amount": amount}


@pytest.fixture(scope="module")
def finance_src(tmp_path_factory):
    return write_source(
        tmp_path_factory.mktemp("finance"),
        sales_budget=[budget("C1", "A", "MAIN", 1000), budget("C1", "B", "MAIN", 400),
                      budget("C2", "A", "EAST", 300)],
        gl_budget=[gl("6110", 1500), gl("6120", 200), gl("7110", 800)],
    )


def test_mapping_reports_unmapped_lines(finance_src):
    mapping = map_sales_budget_to_gl(load_source(finance_src))
    assert sorted(mapping.mapped["amount"]) == [400, 1000]
    assert set(mapping.mapped["gl_account"]) == {"6110"}
    # C2 (EXPORT) × A (RETAIL) has no posting setup: reported with the missing pair
    assert len(mapping.unmapped) == 1
    row = mapping.unmapped.iloc[0]
    assert (row["gen_bus_posting_group"], row["gen_prod_posting_group"]) == ("EXPORT", "RETAIL")
    assert row["amount"] == 300


def test_budget_variance(finance_src):
    v = budget_variance(load_source(finance_src), period=P).set_index("gl_account")
    # 6110 income: 1000 + 400 − 1500 = −100 → unfavourable, −100/1500
    assert v.loc["6110", "variance"] == pytest.approx(-100)
    assert v.loc["6110", "variance_pct"] == pytest.approx(-100 / 1500)
    assert v.loc["6110", "assessment"] == "unfavourable"
    # 6120: no posting-setup row names it → outside the sales budget, not judged
    assert pd.isna(v.loc["6120", "variance"])
    assert v.loc["6120", "assessment"] == "outside the sales budget"
    # 7110 expense, DOMESTIC/RETAIL's COGS account: C1×A 1 × 10 + C1×B 1 × 5 = 15 of cost
    # (C2 is EXPORT: unmapped) − 800 = −785 → below a cost budget → favourable
    assert v.loc["7110", "sales_budget"] == pytest.approx(15)
    assert v.loc["7110", "variance_pct"] == pytest.approx(-785 / 800)
    assert v.loc["7110", "assessment"] == "favourable"


def test_budget_variance_business_central_sign(tmp_path):
    src = write_source(tmp_path, sales_budget=[budget("C1", "A", "MAIN", 1800)],
                       gl_budget=[gl("6110", -1500), gl("7110", 800)])
    v = budget_variance(load_source(src, gl_income_sign="negative"), period=P)
    v = v.set_index("gl_account")
    # income stored as −1500 → 1500 in natural sign; 1800 − 1500 = +300 → favourable
    assert v.loc["6110", "financial_budget"] == 1500
    assert v.loc["6110", "variance"] == pytest.approx(300)
    assert v.loc["6110", "assessment"] == "favourable"
    assert v.loc["7110", "financial_budget"] == 800  # expense amounts keep their sign
    # read with the default (natural) sign, the mostly-negative income budget is flagged
    assert any("negative" in w for w in load_source(src).warnings)


def test_variance_detail_drills_to_customers_and_items(finance_src):
    mapping = map_sales_budget_to_gl(load_source(finance_src))
    detail = variance_detail(mapping, "6110", P)
    assert detail[["customer_no", "item_no", "amount"]].values.tolist() == [
        ["C1", "A", 1000], ["C1", "B", 400]]


@pytest.fixture(scope="module")
def funnel(tmp_path_factory):
    def opp(no, person, customer, expected, amount, status, close="", commit="false"):
        return {"opportunity_no": no, "salesperson": person, "customer_no": customer,
                "expected_close_date": expected, "amount": amount, "status": status,
                "close_date": close, "commit": commit}

    src = write_source(
        tmp_path_factory.mktemp("funnel"),
        opportunities=[
            opp("OP1", "JO", "C1", "2026-03-15", 1000, "won", "2026-03-10", "true"),
            opp("OP2", "JO", "C1", "2026-03-20", 500, "lost", "2026-03-22"),
            opp("OP3", "KE", "C2", "2026-03-25", 2000, "open", commit="true"),
            opp("OP4", "KE", "C2", "2026-02-28", 700, "won", commit="true"),
            opp("OP5", "KE", "C2", "2026-04-10", 300, "won", "2026-03-30"),
            opp("OP6", "JO", "C1", "2026-03-05", 800, "lost"),
        ],
    )
    return build_facts(load_source(src))


def test_close_ratio(funnel):
    # closed in March: OP1 won, OP2 lost, OP5 won (closed early), OP6 lost (no close
    # date → expected 03-05) → 2 / 4. OP3 is open; OP4 closed in February.
    assert close_ratio(funnel, P).value == pytest.approx(0.5)
    by_person = close_ratio(funnel, P, by="salesperson")
    assert by_person.loc["JO", "value"] == pytest.approx(1 / 3)  # OP1 of OP1, OP2, OP6
    assert by_person.loc["KE", "value"] == pytest.approx(1.0)  # OP5
    assert close_ratio(funnel, "2026-02").value == pytest.approx(1.0)  # OP4
    assert close_ratio(funnel, "2026-05").value is None


def test_commit_vs_closed(funnel):
    cvc = commit_vs_closed(funnel, P)
    assert cvc.committed == pytest.approx(3000)  # OP1 1000 + OP3 2000 (commit, due March)
    assert cvc.won == pytest.approx(1300)  # OP1 1000 + OP5 300 won in March
    assert cvc.ratio == pytest.approx(1300 / 3000)
    assert commit_vs_closed(funnel, "2026-05").ratio is None
    frame = commit_vs_closed(funnel, P, by="salesperson")
    assert frame.loc["KE", "committed"] == pytest.approx(2000)
    assert frame.loc["KE", "won"] == pytest.approx(300)
