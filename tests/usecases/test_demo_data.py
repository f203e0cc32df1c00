"""The demo data set: deterministic, in the contract, and realistic enough to plan with."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sop_workbook import demo_data
from sop_workbook.contract import BOOL, DATE, PERIOD, TABLES
from sop_workbook.errors import SopError

END = "2026-10"
HISTORY_START = pd.Timestamp("2024-11-01")  # 24 months ending 2026-10
HISTORY_END = pd.Timestamp("2026-10-31")


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return demo_data.generate()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo")
    seen: list[str] = []
    counts = demo_data.write(path, progress=seen.append)
    assert seen == list(TABLES)
    assert counts == {name: len(frame) for name, frame in demo_data.generate().items()}
    return path


def _mapped_budget(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Sales budget lines with their (bus, prod) groups and sales account (NaN = unmapped)."""
    return (
        t["sales_budget"]
        .merge(t["customers"][["customer_no", "gen_bus_posting_group"]], on="customer_no")
        .merge(t["items"][["item_no", "gen_prod_posting_group"]], on="item_no")
        .merge(t["posting_setup"], on=["gen_bus_posting_group", "gen_prod_posting_group"],
               how="left")
    )


# --------------------------------------------------------------------------- the contract


def test_same_arguments_write_identical_bytes(tmp_path, folder):
    demo_data.write(tmp_path / "again")
    for name in TABLES:
        assert (tmp_path / "again" / f"{name}.csv").read_bytes() == \
            (folder / f"{name}.csv").read_bytes(), name


def test_another_seed_gives_other_data(tables):
    other = demo_data.generate(seed=8)
    assert not other["sales_lines"].equals(tables["sales_lines"])


def test_every_table_is_written_with_the_contract_columns(folder):
    assert sorted(p.stem for p in folder.glob("*.csv")) == sorted(TABLES)
    for name, spec in TABLES.items():
        with open(folder / f"{name}.csv", newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        assert header == list(spec.columns), name


def test_generate_returns_the_contract_columns(tables):
    assert list(tables) == list(TABLES)
    for name, spec in TABLES.items():
        assert list(tables[name].columns) == list(spec.columns), name
        if name not in ("purchase_orders",):
            assert len(tables[name]) > 0, name


def test_csv_cells_are_in_contract_form(folder):
    iso_date = re.compile(r"^\d{4}-\d{2}-\d{2}$")
    period = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
    for name, spec in TABLES.items():
        frame = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        for col in spec.columns:
            values = frame[col]
            kind = spec.type_of(col)
            if kind == DATE:
                filled = values[values != ""]
                assert filled.str.match(iso_date).all(), (name, col)
            elif kind == PERIOD:
                assert values.str.match(period).all(), (name, col)
            elif kind == BOOL:
                assert values.isin(["true", "false"]).all(), (name, col)
            if col in spec.required and col not in spec.nullable:
                assert (values != "").all(), (name, col)


def test_keys_are_unique(tables):
    for name, spec in TABLES.items():
        frame = tables[name]
        assert not frame.duplicated(list(spec.key)).any(), name
        assert frame[list(spec.key)].notna().all().all(), name


def test_references_are_valid(tables):
    for name, spec in TABLES.items():
        for ref in spec.references:
            values = tables[name][list(ref.columns)].dropna()
            target = tables[ref.table][list(ref.key)]
            known = set(map(tuple, target.astype(str).to_numpy()))
            unknown = [v for v in map(tuple, values.astype(str).to_numpy()) if v not in known]
            assert not unknown, (name, ref.columns, unknown[:3])
    for name in ("capacity", "routings"):
        assert set(tables[name]["work_center"]) <= set(demo_data.WORK_CENTERS)
    work_centers = tables["production_orders"]["work_center"]
    assert set(work_centers) <= set(demo_data.WORK_CENTERS)


def test_enums_and_signs(tables):
    assert set(tables["gl_accounts"]["account_type"]) == {"income", "expense"}
    assert set(tables["opportunities"]["status"]) == {"open", "won", "lost"}
    numbers = {
        "sales_lines": ["quantity", "unit_price"],
        "sales_shipments": ["quantity"],
        "sales_invoices": ["quantity", "amount", "cost_amount"],
        "sales_budget": ["quantity", "amount"],
        "purchase_receipts": ["quantity"],
        "purchase_orders": ["outstanding_quantity"],
        "production_orders": ["planned_quantity", "finished_quantity"],
        "inventory": ["quantity", "value"],
        "opportunities": ["amount", "quantity", "probability"],
        "capacity": ["available_hours"],
        "routings": ["hours_per_unit"],
        "items": ["unit_cost", "unit_price", "lead_time_days"],
    }
    for name, cols in numbers.items():
        for col in cols:
            assert (tables[name][col].dropna() >= 0).all(), (name, col)
    for name in ("sales_lines", "sales_shipments", "purchase_receipts"):
        assert (tables[name]["quantity"] > 0).all(), name
    assert tables["opportunities"]["probability"].between(0, 1).all()


def test_the_loader_accepts_the_folder_with_no_problem(folder):
    loader = pytest.importorskip("sop_workbook.loader")
    data = loader.load_source(folder)  # raises SourceValidationError listing any problem
    assert set(data.tables) >= set(TABLES)
    assert len(data["sales_lines"]) == len(pd.read_csv(folder / "sales_lines.csv"))


# --------------------------------------------------------------------------- the time line


def test_history_budget_and_plan_windows(tables):
    history = pd.period_range("2024-11", END, freq="M").strftime("%Y-%m").tolist()
    plan = pd.period_range("2026-11", periods=12, freq="M").strftime("%Y-%m").tolist()
    assert sorted(set(tables["inventory"]["period"])) == ["2024-10", *history]
    assert sorted(set(tables["sales_budget"]["period"])) == history + plan
    assert sorted(set(tables["gl_budget"]["period"])) == history + plan
    assert sorted(set(tables["capacity"]["period"])) == history + plan
    for name, col in [("sales_shipments", "shipment_date"), ("sales_invoices", "posting_date"),
                      ("purchase_receipts", "receipt_date")]:
        dates = tables[name][col]
        assert dates.min() >= HISTORY_START and dates.max() <= HISTORY_END, name
    lines = tables["sales_lines"]
    assert lines["order_date"].max() <= HISTORY_END
    # the opening backlog: ordered the month before, due inside the history
    backlog = lines[lines["order_date"] < HISTORY_START]
    assert len(backlog) > 0
    assert (backlog["promised_date"].fillna(backlog["requested_date"]) >= HISTORY_START).all()


def test_open_supply_lies_in_the_plan_horizon(tables):
    po = tables["purchase_orders"]
    assert len(po) > 0
    assert po["expected_receipt_date"].min() > HISTORY_END
    prod = tables["production_orders"]
    open_ = prod[prod["finished_date"].isna()]
    assert open_["finished_quantity"].isna().all()
    assert (open_["status"] != "Finished").all()
    assert (open_["due_date"] > HISTORY_END).sum() > 0
    overdue = open_[open_["due_date"] <= HISTORY_END]
    assert len(overdue) > 0 and (overdue["due_date"] >= pd.Timestamp("2026-10-01")).all()
    due_in_history = prod[prod["due_date"] <= HISTORY_END]
    assert due_in_history["finished_date"].notna().mean() > 0.95
    assert (prod.loc[prod["finished_date"].notna(), "finished_date"] <= HISTORY_END).all()


# --------------------------------------------------------------------------- the story


def _shipments_with_lines(t):
    return t["sales_shipments"].merge(
        t["sales_lines"], left_on=["order_no", "order_line_no"],
        right_on=["order_no", "line_no"], suffixes=("", "_line"))


def test_sales_orders_have_several_lines_and_some_empty_promised_dates(tables):
    lines = tables["sales_lines"]
    assert 10_000 <= len(lines) <= 30_000
    per_order = lines.groupby("order_no").size()
    assert per_order.mean() > 2 and per_order.max() >= 5
    assert not lines.duplicated(["order_no", "item_no"]).any()
    empty = lines["promised_date"].isna()
    assert 0 < empty.sum() < 0.05 * len(lines)
    assert lines["requested_date"].notna().all()
    assert (lines["requested_date"] >= lines["order_date"]).all()
    assert (lines["promised_date"].dropna() >= lines.loc[~empty, "requested_date"]).all()
    assert (lines["line_no"] % 10000 == 0).all()


def test_shipments_are_late_early_partial_and_never_too_much(tables):
    ships = _shipments_with_lines(tables)
    due = ships["promised_date"].fillna(ships["requested_date"])
    late = (ships["shipment_date"] > due).mean()
    early = (ships["shipment_date"] < due).mean()
    assert 0.05 < late < 0.4 and early > 0.1
    per_line = ships.groupby(["order_no", "order_line_no"]).agg(
        shipped=("quantity", "sum"), parts=("quantity", "size"), ordered=("quantity_line", "first"))
    assert (per_line["shipped"] <= per_line["ordered"]).all()
    assert (per_line["parts"] > 1).mean() > 0.05  # split across dates
    assert (per_line["shipped"] < per_line["ordered"]).sum() > 0  # still open at the end
    assert (ships["shipment_date"] >= ships["order_date"]).all()


def test_invoices_follow_shipments_at_price_less_discount(tables):
    inv = tables["sales_invoices"]
    ships = tables["sales_shipments"]
    assert 0.95 * ships["quantity"].sum() <= inv["quantity"].sum() <= ships["quantity"].sum()
    items = tables["items"].set_index("item_no")
    list_value = inv["quantity"] * inv["item_no"].map(items["unit_price"])
    assert (inv["amount"] <= list_value + 0.01).all()
    assert (inv["amount"] >= 0.85 * list_value - 0.01).all()
    assert (inv["amount"] < list_value - 0.01).mean() > 0.3  # discounts and promotions
    cost = inv["quantity"] * inv["item_no"].map(items["unit_cost"])
    assert np.allclose(inv["cost_amount"], cost, atol=0.01)
    salesperson = inv["customer_no"].map(tables["customers"].set_index("customer_no")
                                         ["salesperson"])
    assert (inv["salesperson"] == salesperson).all()


def test_promotions_lower_the_price_and_lift_demand(tables):
    lines = tables["sales_lines"]
    list_price = lines["item_no"].map(tables["items"].set_index("item_no")["unit_price"])
    promo = lines["unit_price"] < list_price - 0.01
    assert 0.01 < promo.mean() < 0.2
    assert np.allclose(lines.loc[promo, "unit_price"], (list_price[promo] * 0.9).round(2))


def test_master_data_is_business_central_like(tables):
    assert len(tables["locations"]) == 3
    assert len(tables["vendors"]) == 8
    customers = tables["customers"]
    assert 25 <= len(customers) <= 35
    assert set(customers["gen_bus_posting_group"]) == {"DOMESTIC", "EU", "EXPORT"}
    assert 4 <= customers["salesperson"].nunique() <= 5
    items = tables["items"]
    assert 4 <= items["category"].nunique() <= 5
    assert {"RETAIL", "RAW MAT", "MANUFACT"} == set(items["gen_prod_posting_group"])
    assert (items["unit_price"] > items["unit_cost"]).all()
    gl = tables["gl_accounts"]
    assert gl["gl_account"].str.fullmatch(r"\d{4}").all()
    assert {"6110", "7190"} <= set(gl["gl_account"])


def test_some_sales_budget_lines_cannot_be_mapped(tables):
    budget = _mapped_budget(tables)
    pairs = len(demo_data.BUS_GROUPS) * 3
    assert len(tables["posting_setup"]) == pairs - len(demo_data.MISSING_POSTING_PAIRS)
    unmapped = budget[budget["sales_account"].isna()]
    assert len(unmapped) > 0
    assert set(zip(unmapped["gen_bus_posting_group"], unmapped["gen_prod_posting_group"],
                   strict=True)) == set(demo_data.MISSING_POSTING_PAIRS)
    assert budget["sales_account"].notna().mean() > 0.9


def test_sales_budget_is_close_to_but_not_the_actuals(tables):
    inv = tables["sales_invoices"]
    actual = inv.groupby(inv["posting_date"].dt.strftime("%Y-%m"))["amount"].sum()
    budget = tables["sales_budget"].groupby("period")["amount"].sum()
    ratio = (actual / budget).dropna().iloc[1:]  # the first month ships the opening backlog
    assert 0.9 < ratio.mean() < 1.1
    assert ratio.between(0.6, 1.5).all()
    assert (ratio - 1).abs().max() > 0.05


def test_gl_budget_disagrees_with_the_sales_budget_in_places(tables):
    budget = _mapped_budget(tables)
    mapped = budget.groupby(["sales_account", "period"])["amount"].sum()
    gl = tables["gl_budget"].set_index(["gl_account", "period"])["amount"]
    both = pd.concat([mapped.rename("sales"), gl.rename("gl")], axis=1, join="inner")
    both = both[both["gl"].abs() > 10_000]
    pct = (both["sales"] - both["gl"]) / both["gl"].abs()
    off = pct[pct.abs().between(0.045, 0.2)]
    assert off.index.get_level_values(0).nunique() >= 2
    assert (pct.abs() < 0.03).mean() > 0.8  # but mostly it agrees
    accounts = tables["gl_accounts"].set_index("gl_account")["account_type"]
    types = tables["gl_budget"]["gl_account"].map(accounts)
    assert set(types) == {"income", "expense"}
    assert (tables["gl_budget"].loc[types == "expense", "amount"] > 0).any()


def test_two_vendors_are_chronically_late(tables):
    rc = tables["purchase_receipts"]
    on_time = (rc["receipt_date"] <= rc["expected_receipt_date"]).groupby(rc["vendor_no"]).mean()
    late_vendors = set(on_time[on_time < 0.7].index)
    names = tables["vendors"].set_index("vendor_no")["name"]
    expected = {no for no, (_, profile) in zip(names.index, demo_data.VENDORS, strict=True)
                if profile == "late"}
    assert late_vendors == expected and len(expected) == 2
    assert (on_time.drop(list(expected)) > 0.8).all()
    assert (rc["receipt_date"] < rc["expected_receipt_date"]).any()  # some early


def test_production_misses(tables):
    prod = tables["production_orders"]
    done = prod[prod["status"] == "Finished"]
    late = done["finished_date"] > done["due_date"]
    short = done["finished_quantity"] < done["planned_quantity"]
    assert 0.03 < late.mean() < 0.4
    assert 0.03 < short.mean() < 0.3
    assert set(prod["status"]) == {"Finished", "Released", "Firm Planned"}
    assert prod["work_center"].notna().all()
    on_time_qty = np.where(late, 0, np.minimum(done["finished_quantity"],
                                                done["planned_quantity"]))
    attainment = on_time_qty.sum() / done["planned_quantity"].sum()
    assert 0.6 < attainment < 0.95


def test_inventory_follows_the_flows_and_is_never_negative(tables):
    stock = tables["inventory"]
    assert (stock["quantity"] >= 0).all()
    cost = stock["item_no"].map(tables["items"].set_index("item_no")["unit_cost"])
    assert np.allclose(stock["value"], (stock["quantity"] * cost).round(2), atol=0.01)
    on_hand = stock.pivot_table(index="item_no", columns="period", values="quantity",
                                aggfunc="sum")
    change = on_hand.diff(axis=1).iloc[:, 1:]

    def by_month(frame, date, qty):
        return frame.groupby(["item_no", frame[date].dt.strftime("%Y-%m")])[qty].sum() \
            .unstack().reindex_like(change).fillna(0)

    ships = _shipments_with_lines(tables)
    prod = tables["production_orders"].dropna(subset=["finished_date"])
    flow = (by_month(tables["purchase_receipts"], "receipt_date", "quantity")
            + by_month(prod, "finished_date", "finished_quantity").astype(float)
            - by_month(ships, "shipment_date", "quantity"))
    assert np.allclose(flow.to_numpy(dtype=float), change.to_numpy(dtype=float))


def test_opportunity_funnel(tables):
    op = tables["opportunities"]
    counts = op["status"].value_counts()
    assert counts["won"] > 20 and counts["lost"] > 20 and counts["open"] > 20
    closed = op["status"] != "open"
    assert op.loc[closed, "close_date"].notna().all()
    assert op.loc[~closed, "close_date"].isna().all()
    assert (op.loc[closed, "close_date"] <= HISTORY_END).all()
    assert (op.loc[op["status"] == "won", "probability"] == 1).all()
    assert (op.loc[op["status"] == "lost", "probability"] == 0).all()
    future = op[op["expected_close_date"] > HISTORY_END]
    assert (future["status"] == "open").all() and future["commit"].any()
    assert op.loc[op["status"] == "won", "commit"].any()
    assert op.groupby("salesperson")["status"].apply(lambda s: (s == "won").any()).all()
    assert op["item_no"].isna().any() and op["item_no"].notna().mean() > 0.7


def test_capacity_is_overloaded_in_some_periods(tables):
    prod = tables["production_orders"]
    load = prod.merge(tables["routings"], on="item_no", suffixes=("", "_routing"))
    load["hours"] = load["planned_quantity"] * load["hours_per_unit"]
    load["period"] = load["due_date"].dt.strftime("%Y-%m")
    hours = load.groupby(["work_center_routing", "period"])["hours"].sum()
    hours.index.names = ["work_center", "period"]
    available = tables["capacity"].set_index(["work_center", "period"])["available_hours"]
    both = pd.concat([hours.rename("load"), available.rename("available")], axis=1,
                     join="inner")
    overloaded = both["load"] > both["available"]
    assert 0 < overloaded.mean() < 0.6
    routed = set(tables["routings"]["item_no"])
    made = set(tables["items"].loc[tables["items"]["gen_prod_posting_group"] == "MANUFACT",
                                   "item_no"])
    assert routed == made


# --------------------------------------------------------------------------- sizes


def test_small_arguments_scale_down(tmp_path):
    counts = demo_data.write(tmp_path, seed=3, items=5, months=3, end_period="2025-02")
    assert set(counts) == set(TABLES)
    small = {name: pd.read_csv(tmp_path / f"{name}.csv", dtype=str, keep_default_na=False)
             for name in TABLES}
    assert len(small["items"]) == 5
    assert small["items"]["category"].nunique() == 5
    assert sorted(set(small["inventory"]["period"])) == ["2024-11", "2024-12", "2025-01",
                                                         "2025-02"]
    assert len(set(small["sales_budget"]["period"])) == 3 + 12
    assert 0 < counts["sales_lines"] < 1000
    for name in ("sales_shipments", "sales_invoices", "production_orders", "inventory"):
        assert counts[name] > 0, name
    for name, spec in TABLES.items():
        assert not small[name].duplicated(list(spec.key)).any(), name
    loader = pytest.importorskip("sop_workbook.loader")
    loader.load_source(tmp_path)


@pytest.mark.parametrize(("items", "months"), [(1, 1), (2, 2)])
def test_tiny_data_sets_are_valid(items, months):
    tables = demo_data.generate(items=items, months=months)
    for name, spec in TABLES.items():
        assert list(tables[name].columns) == list(spec.columns)
        assert not tables[name].duplicated(list(spec.key)).any(), name


def test_more_history_and_items_means_more_rows():
    small = demo_data.generate(items=10, months=6)
    large = demo_data.generate(items=20, months=12)
    for name in ("sales_lines", "sales_budget", "inventory", "production_orders"):
        assert len(large[name]) > len(small[name]), name


@pytest.mark.slow
def test_large_catalog_has_unique_keys():
    # generation speed is measured in benchmarks/, not asserted here
    tables = demo_data.generate(items=2000, months=36)
    assert len(tables["items"]) == 2000
    assert not tables["sales_lines"].duplicated(["order_no", "line_no"]).any()


def test_bad_arguments_are_reported():
    with pytest.raises(SopError):
        demo_data.generate(months=0)
    with pytest.raises(SopError):
        demo_data.generate(items=0)
    with pytest.raises(SopError):
        demo_data.generate(end_period="2026-13")
