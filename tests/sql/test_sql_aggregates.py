"""The SQL path (sop_workbook.sql.load_aggregates) computes exactly the tables the in-memory
path builds, on the demo data set and on small hand-made sources, for folders of CSV or
Parquet files and DuckDB database files; plus figures worked out by hand."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from sql_postgres import assert_same_tables, compare_paths, small_sources, write_small_source

from sop_workbook import demo_data
from sop_workbook.kpi.options import KpiOptions
from sop_workbook.sql import in_memory_tables, load_aggregates
from sop_workbook.sql.reference import table_differences

OPTIONS = {
    "default": KpiOptions(),
    "tolerant": KpiOptions(tolerance_days=2, fill_basis="requested", days_early=1, days_late=2),
    "early0": KpiOptions(tolerance_days=1, days_early=0, days_late=0),
}


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    demo_data.write(folder, items=15, months=14)
    return folder


@pytest.mark.parametrize("options,sign", [("default", "positive"), ("tolerant", "negative"),
                                          ("early0", "positive")])
def test_demo_folder_same_tables_as_in_memory(demo_folder, options, sign):
    got, want = compare_paths(str(demo_folder), demo_folder, OPTIONS[options], sign)
    # the comparison covers every table refresh writes, each non-trivially
    assert {"agg_sales", "agg_customer", "agg_pipeline", "fin_budget_variance"} <= set(got.tables)
    assert all(len(want[name]) > 0 for name in ("agg_sales", "agg_vendor", "agg_production",
                                                "agg_funnel", "agg_pipeline", "agg_supply_open",
                                                "fin_unmapped", "routings"))


@pytest.mark.parametrize("name", list(small_sources()))
@pytest.mark.parametrize("options", ["default", "tolerant"])
def test_small_sources_same_tables_as_in_memory(tmp_path, name, options):
    folder = write_small_source(tmp_path / name, name)
    for sign in ("positive", "negative"):
        compare_paths(str(folder), folder, OPTIONS[options], sign)


def test_comparison_detects_a_difference(demo_folder):
    """The table comparison used above is not vacuous: a changed value, a missing row and
    a changed label are each reported."""
    want = in_memory_tables(str(demo_folder))["agg_sales"]
    changed = want.copy()
    changed.loc[5, "fill_qty_on_time"] += 1e-6 * max(1.0, abs(changed.loc[5, "fill_qty_on_time"]))
    assert table_differences(want, changed)
    assert table_differences(want, want.iloc[1:])
    relabelled = want.copy()
    relabelled.loc[0, "category"] = "OTHER"
    assert table_differences(want, relabelled)
    assert not table_differences(want, want.sample(frac=1, random_state=1))


def _row(table: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for col, value in where.items():
        mask &= table[col] == value
    rows = table[mask]
    assert len(rows) == 1, (where, rows)
    return rows.iloc[0]


def test_delivery_figures_worked_by_hand(tmp_path):
    """tests/sql/sql_postgres.py 'delivery': SO1/1 10 due 03-10 ships 6 on 03-10 and 4 on
    03-11; SO1/2 (item B, no promise, requested 03-12) 5 on 03-12; SO2/1 (C2, EAST) 8 due
    03-31 (requested 03-25) ships 8 on 03-30; SO2/2 quantity 0; SO3/1 (B) 6 due 04-15
    (requested 04-20) ships 3 on 04-16 and 3 on 05-02."""
    folder = write_small_source(tmp_path / "d", "delivery")
    tables = load_aggregates(str(folder)).tables
    sales, cust = tables["agg_sales"], tables["agg_customer"]
    a_main = _row(sales, period="2026-03", item_no="A", location_code="MAIN")
    assert (a_main.otd_lines, a_main.otd_on_time, a_main.shipped_qty) == (2, 1, 10)
    assert (a_main.fill_lines_due, a_main.fill_lines_filled) == (1, 0)
    assert (a_main.fill_qty_due, a_main.fill_qty_on_time) == (10, 6)
    assert a_main.category == "WIDGETS"
    b_main = _row(sales, period="2026-03", item_no="B", location_code="MAIN")
    assert (b_main.otd_on_time, b_main.fill_lines_filled, b_main.fill_qty_on_time) == (1, 1, 5)
    a_apr = _row(sales, period="2026-04", item_no="A", location_code="MAIN")
    assert (a_apr.otd_lines, a_apr.otd_on_time, a_apr.fill_lines_due) == (1, 0, 0)  # qty 0
    c1 = _row(cust, period="2026-03", customer_no="C1")
    assert (c1.salesperson, c1.otd_lines, c1.otd_on_time) == ("JO", 3, 2)
    assert (c1.fill_lines_due, c1.fill_lines_filled, c1.fill_qty_due) == (2, 1, 15)

    # requested basis, 0 days tolerance: SO2/1 due 03-25 is late; SO3/1 due 04-20 got 3
    req = load_aggregates(str(folder), KpiOptions(fill_basis="requested")).tables["agg_sales"]
    a_east = _row(req, period="2026-03", item_no="A", location_code="EAST")
    assert (a_east.fill_lines_filled, a_east.fill_qty_on_time) == (0, 0)
    assert a_east.otd_on_time == 1  # OTD is always against the promised date
    b_apr = _row(req, period="2026-04", item_no="B", location_code="MAIN")
    assert (b_apr.fill_lines_due, b_apr.fill_lines_filled, b_apr.fill_qty_on_time) == (1, 0, 3)
    # one day of tolerance: SH2 (03-11) is on time for SO1/1 → filled
    tol = load_aggregates(str(folder), KpiOptions(tolerance_days=1)).tables["agg_sales"]
    a_tol = _row(tol, period="2026-03", item_no="A", location_code="MAIN")
    assert (a_tol.otd_on_time, a_tol.fill_lines_filled, a_tol.fill_qty_on_time) == (2, 1, 10)


def test_supply_and_funnel_figures_worked_by_hand(tmp_path):
    folder = write_small_source(tmp_path / "s", "supply")
    tables = load_aggregates(str(folder), KpiOptions(days_early=3)).tables
    vendor = tables["agg_vendor"]
    # R1 on the day, R2 8 days early (outside 3 days early) → V1 A March: 2 lines, 1 on time
    v1 = _row(vendor, period="2026-03", vendor_no="V1", item_no="A")
    assert (v1.receipt_lines, v1.receipts_on_time) == (2, 1)
    prod = tables["agg_production"]
    # P1 overproduced: capped at 100; P2 finished late: 0
    wc1 = _row(prod, period="2026-03", item_no="A", work_center="WC1")
    assert (wc1.planned_qty, wc1.attained_qty) == (150, 100)
    none_wc = _row(prod, period="2026-03", item_no="B", work_center="(none)")
    assert (none_wc.planned_qty, none_wc.attained_qty) == (40, 30)
    supply = tables["agg_supply_open"]
    # open production: P4 (70 − 20 = 50 in April); P5 is closed; purchases in May: 25 + 5
    assert _row(supply, period="2026-04", item_no="B").production_qty == 50
    may = _row(supply, period="2026-05", item_no="A")
    assert (may.po_qty, may.production_qty) == (30, 0)
    assert "2026-05" not in set(supply[supply.item_no == "B"].period)

    funnel_tables = load_aggregates(str(write_small_source(tmp_path / "f", "funnel"))).tables
    pipe = funnel_tables["agg_pipeline"]
    a = _row(pipe, period="2026-04", item_no="A")  # O3 (60 % of 10, not commit) + O5 (no p)
    assert (a.open_qty, a.commit_qty, a.weighted_qty, a.open_amount) == (12, 0, 6, 1000)
    b = _row(pipe, period="2026-04", item_no="B")  # O4 committed
    assert (b.open_qty, b.commit_qty, b.weighted_qty, b.commit_amount) == (4, 4, 0, 300)
    funnel = funnel_tables["agg_funnel"]
    jo = _row(funnel, period="2026-03", salesperson="JO", customer_no="C1")
    assert (jo.won, jo.lost, jo.won_amount) == (1, 1, 1000)
    may = _row(funnel, period="2026-05", salesperson="JO", customer_no="C2")
    assert (may.won, may.committed_amount, may.won_amount) == (1, 150, 150)


def test_finance_figures_worked_by_hand(tmp_path):
    folder = write_small_source(tmp_path / "f", "finance")
    tables = load_aggregates(str(folder), gl_income_sign="negative").tables
    var = tables["fin_budget_variance"]
    # 6110 March: sales budget C1×A 120 (DOMESTIC/RETAIL) vs financial −(−100) = 100
    march = _row(var, gl_account="6110", period="2026-03")
    assert (march.sales_budget, march.financial_budget, march.variance) == (120, 100, 20)
    assert march.variance_pct == pytest.approx(0.2)
    assert march.assessment == "favourable"
    # 7110 is DOMESTIC/RETAIL's COGS account: cost of sales = budgeted qty × unit cost,
    # C1×A 6 × 10 = 60 (C2×B is EXPORT: no setup row) vs financial 60 → variance 0
    cogs = _row(var, gl_account="7110", period="2026-03")
    assert (cogs.sales_budget, cogs.variance, cogs.assessment) == (60, 0, "on budget")
    # April: C1×A 4 × 10 + C1×B 1 × 5 = 45 of cost, no financial budget → +45 on an
    # expense account: unfavourable
    april = _row(var, gl_account="7110", period="2026-04")
    assert (april.sales_budget, april.variance, april.assessment) == (45, 45, "unfavourable")
    # 6120 is named by no posting-setup row: outside the sales budget, never judged
    outside = _row(var, gl_account="6120", period="2026-05")
    assert pd.isna(outside.sales_budget) and pd.isna(outside.variance)
    assert pd.isna(outside.variance_pct) and outside.assessment == "outside the sales budget"
    unmapped = tables["fin_unmapped"]
    assert unmapped[["customer_no", "gen_bus_posting_group", "amount"]].values.tolist() == [
        ["C2", "EXPORT", 30.0]]
    mix = tables["agg_item_mix"]
    assert _row(mix, item_no="B", gen_bus_posting_group="DOMESTIC").invoiced_amount == -8
    cust = tables["agg_customer"]
    # C1 March cells: A MAIN |100 − 120| + A EAST |40 − 0| = 60
    assert _row(cust, period="2026-03", customer_no="C1").forecast_abs_error == 60


def _to_parquet(src, dst):
    dst.mkdir()
    con = duckdb.connect()
    for path in sorted(src.glob("*.csv")):
        con.execute(f"COPY (SELECT * FROM read_csv('{path}', header = true)) "
                    f"TO '{dst / (path.stem + '.parquet')}' (FORMAT parquet)")
    con.close()
    return dst


def test_credit_notes_in_forecast_cells(demo_folder, tmp_path):
    """agg_customer's forecast error sums |Σ A − F| per month × customer × item ×
    location cell; the SQL path groups by cell only the cells with a budget line or a
    negative amount. Credit notes in a budgeted cell, and in a month without budget one
    customer's cells: item 1 invoiced 100, item 2 invoiced 10 and credited 30 (Σ −20):
    error |100| + |−20| = 120 (not |100 − 20|); every table as in memory."""
    import shutil

    folder = tmp_path / "credit"
    shutil.copytree(demo_folder, folder)
    inv = pd.read_csv(folder / "sales_invoices.csv", dtype=str)
    budget = pd.read_csv(folder / "sales_budget.csv", dtype=str)
    assert not budget["period"].str.startswith("2020").any()
    first = inv.iloc[0]
    other = inv[(inv["customer_no"] == first["customer_no"])
                & (inv["item_no"] != first["item_no"])].iloc[0]
    rows = [first, first.copy(), other, other.copy(), other.copy()]
    credits = pd.DataFrame(rows).reset_index(drop=True)
    credits["invoice_no"] = [f"CR-{i}" for i in range(len(rows))]
    credits["posting_date"] = "2020-01-15"
    credits["amount"] = [str(-3 * float(first["amount"]) - 1), "100", "10", "-30", "0"]
    credits.loc[0, "posting_date"] = first["posting_date"]  # a budgeted cell, Σ < 0
    pd.concat([inv, credits]).to_csv(folder / "sales_invoices.csv", index=False)
    got, _ = compare_paths(str(folder), folder)
    cust = got.tables["agg_customer"]
    row = cust[(cust["period"] == "2020-01") & (cust["customer_no"] == first["customer_no"])]
    assert row["forecast_abs_error"].tolist() == [120.0]


def test_parquet_folder_same_tables(demo_folder, tmp_path):
    folder = _to_parquet(demo_folder, tmp_path / "pq")
    compare_paths(str(folder), demo_folder, OPTIONS["tolerant"])


def test_duckdb_database_file_same_tables(demo_folder, tmp_path):
    """duckdb:///file: typed tables, mixed-case column names with spaces, an extra
    column; the optional purchase_orders table absent in both sources."""
    db = tmp_path / "src.duckdb"
    con = duckdb.connect(str(db))
    for path in sorted(demo_folder.glob("*.csv")):
        if path.stem == "purchase_orders":
            continue
        con.execute(f"CREATE TABLE {path.stem} AS SELECT * FROM read_csv('{path}', "
                    "header = true)")
    con.execute('ALTER TABLE items RENAME COLUMN item_no TO " Item_No "')
    con.execute("ALTER TABLE sales_lines ADD COLUMN note VARCHAR DEFAULT 'x'")
    con.close()
    (demo_folder.parent / "no_po").mkdir(exist_ok=True)
    folder = demo_folder.parent / "no_po"
    for path in demo_folder.glob("*.csv"):
        if path.stem != "purchase_orders":
            (folder / path.name).write_bytes(path.read_bytes())
    got, _ = compare_paths(f"duckdb:///{db}", folder)
    assert got.tables["agg_supply_open"]["po_qty"].sum() == 0


def test_absent_tables_warn_like_the_loader(tmp_path):
    folder = write_small_source(tmp_path / "x", "delivery")
    (folder / "inventory.csv").unlink()
    (folder / "routings.csv").unlink()  # optional: no warning
    from sop_workbook.loader import load_source

    got = load_aggregates(str(folder))
    assert got.warnings == load_source(folder).warnings
    assert any(w.startswith("inventory:") for w in got.warnings)
    assert_same_tables(in_memory_tables(str(folder)), got.tables)
