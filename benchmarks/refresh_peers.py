"""Helpers of ``bench_refresh.py``: the synthetic source, the naive pandas peer and the
LibreOffice peer's workbook (the spreadsheet a planner would build by hand).

``bench_kpis.write_source`` hard-codes its 540-day span from 2025-01-01, so the generator
here reuses its structure with a parametrised item count and month span ending at the
month before the workbook's current period, plus the tables a realistic source carries
(GL accounts, posting setup, GL budget, open purchase orders, routings, capacity).

The naive pandas peer runs as its own process (``python refresh_peers.py pandas ...``) so
that its wall time and peak RSS are measured like the refresh's.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: Bump when the generated data changes (the cache under /tmp is keyed by it).
GENERATOR_VERSION = 1
LOCATIONS = ("MAIN", "EAST", "WEST")
WORK_CENTERS = ("MACHINING", "PAINTING", "ASSEMBLY", "PACKING")
SALES_GRAIN = ["period", "item_no", "location_code"]


def _month_index(period: str) -> int:
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


def _period(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def history_periods(current: str, n_months: int) -> list[str]:
    """The ``n_months`` closed periods ending at the month before ``current``."""
    cur = _month_index(current)
    return [_period(m) for m in range(cur - n_months, cur)]


def write_source(folder: Path, n_lines: int, *, n_items: int = 2000, n_months: int = 36,
                 current: str = "2026-11", seed: int = 1, n_budget: int = 100_000) -> None:
    """A source in the data contract: ``n_lines`` sales lines whose promised dates spread
    over the ``n_months`` months before ``current``, with their shipments (20 % split in
    two), one invoice per line, receipts, production orders, month-end inventory, a sales
    budget of at most ``n_budget`` lines, GL budget, opportunities and planning tables."""
    write_frames(folder, source_frames(n_lines, n_items=n_items, n_months=n_months,
                                       current=current, seed=seed, n_budget=n_budget))


def write_frames(folder: Path, frames: dict[str, pd.DataFrame]) -> None:
    """One CSV per contract table (an empty one with its required columns when absent)."""
    from sop_workbook.contract import TABLES

    folder.mkdir(parents=True, exist_ok=True)
    for name, spec in TABLES.items():
        frame = frames.get(name, pd.DataFrame(columns=list(spec.required)))
        frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")


def source_frames(n_lines: int, *, n_items: int = 2000, n_months: int = 36,
                  current: str = "2026-11", seed: int = 1,
                  n_budget: int = 100_000) -> dict[str, pd.DataFrame]:
    """The tables :func:`write_source` writes, as frames."""
    rng = np.random.default_rng(seed)
    n_customers = 500
    months = history_periods(current, n_months)
    future = [_period(_month_index(current) + k) for k in range(12)]
    start = np.datetime64(f"{months[0]}-01")
    end = np.datetime64(f"{current}-01")  # exclusive
    span = int((end - start).astype(int))

    def days(n: int, lo: int = 0, hi: int = span):
        return start + rng.integers(lo, hi, n).astype("timedelta64[D]")

    item_no = np.array([f"I{i:05d}" for i in range(n_items)], dtype=object)
    items = pd.DataFrame({"item_no": item_no, "description": "item",
                          "category": [f"CAT{i % 8}" for i in range(n_items)],
                          "gen_prod_posting_group": "RETAIL", "unit_cost": 10.0,
                          "unit_price": 25.0, "lead_time_days": 14})
    customer_no = np.array([f"C{i:04d}" for i in range(n_customers)], dtype=object)
    customers = pd.DataFrame({"customer_no": customer_no, "name": "customer",
                              "gen_bus_posting_group": np.where(
                                  np.arange(n_customers) % 5 == 0, "EXPORT", "DOMESTIC"),
                              "salesperson": [f"SP{i % 7}" for i in range(n_customers)]})
    locations = pd.DataFrame({"location_code": list(LOCATIONS)})
    location_code = np.array(LOCATIONS, dtype=object)
    vendors = pd.DataFrame({"vendor_no": [f"V{i}" for i in range(20)], "name": "vendor"})
    gl_accounts = pd.DataFrame({"gl_account": ["4010", "4020", "5010"],
                                "name": ["Sales domestic", "Sales export", "COGS"],
                                "account_type": ["income", "income", "expense"],
                                "category": ["Revenue", "Revenue", "Cost of Goods Sold"]})
    posting_setup = pd.DataFrame({"gen_bus_posting_group": ["DOMESTIC", "EXPORT"],
                                  "gen_prod_posting_group": ["RETAIL", "RETAIL"],
                                  "sales_account": ["4010", "4020"],
                                  "cogs_account": ["5010", "5010"]})

    # sales lines: promised dates spread over the history months
    promised = days(n_lines)
    qty = rng.integers(1, 50, n_lines)
    line_customer = customer_no[rng.integers(0, n_customers, n_lines)]
    line_item = item_no[rng.integers(0, n_items, n_lines)]
    line_location = location_code[rng.integers(0, len(LOCATIONS), n_lines)]
    order_no = np.array([f"SO{i // 4:07d}" for i in range(n_lines)], dtype=object)
    line_no = np.arange(n_lines) % 4 + 1
    price = rng.uniform(15, 40, n_lines).round(2)
    lines = pd.DataFrame({
        "order_no": order_no, "line_no": line_no, "customer_no": line_customer,
        "item_no": line_item, "location_code": line_location,
        "order_date": promised - rng.integers(3, 30, n_lines).astype("timedelta64[D]"),
        "promised_date": promised,
        "requested_date": promised - rng.integers(0, 5, n_lines).astype("timedelta64[D]"),
        "quantity": qty, "unit_price": price,
    })
    # one shipment per line, plus a second partial one for 20 % of the lines
    delay = rng.integers(-5, 6, n_lines).astype("timedelta64[D]")
    split = rng.random(n_lines) < 0.2
    first_qty = np.where(split, qty // 2, qty)
    ships = pd.DataFrame({"order_no": order_no, "order_line_no": line_no,
                          "shipment_date": promised + delay, "quantity": first_qty})
    second = pd.DataFrame({"order_no": order_no[split], "order_line_no": line_no[split],
                           "shipment_date": promised[split] + np.timedelta64(7, "D"),
                           "quantity": (qty - first_qty)[split]})
    ships = pd.concat([ships, second], ignore_index=True)
    ships.insert(0, "shipment_no", [f"SH{i:08d}" for i in range(len(ships))])
    ships.insert(1, "line_no", 1)
    # one invoice per sales line, posted at the promised date (same row order as lines)
    invoices = pd.DataFrame({"invoice_no": [f"IN{i:08d}" for i in range(n_lines)],
                             "line_no": 1, "posting_date": promised,
                             "customer_no": line_customer, "item_no": line_item,
                             "location_code": line_location, "quantity": qty,
                             "amount": (qty * price).round(2), "cost_amount": qty * 10.0})

    n_rc = max(1, n_lines // 10)
    expected = days(n_rc)
    receipts = pd.DataFrame({
        "receipt_no": [f"R{i:07d}" for i in range(n_rc)], "line_no": 1,
        "vendor_no": [f"V{i % 20}" for i in range(n_rc)],
        "item_no": item_no[rng.integers(0, n_items, n_rc)],
        "expected_receipt_date": expected,
        "receipt_date": expected + rng.integers(-4, 6, n_rc).astype("timedelta64[D]"),
        "quantity": 10, "order_no": [f"PUR{i:07d}" for i in range(n_rc)]})
    n_open = 2 * n_items
    purchase_orders = pd.DataFrame({
        "order_no": [f"OPO{i:06d}" for i in range(n_open)], "line_no": 1,
        "vendor_no": [f"V{i % 20}" for i in range(n_open)],
        "item_no": item_no[rng.integers(0, n_items, n_open)],
        "location_code": location_code[rng.integers(0, len(LOCATIONS), n_open)],
        "expected_receipt_date": end + rng.integers(0, 120, n_open).astype("timedelta64[D]"),
        "outstanding_quantity": rng.integers(10, 200, n_open)})

    item_wc = np.array(WORK_CENTERS, dtype=object)[np.arange(n_items) % len(WORK_CENTERS)]
    n_po = max(1, n_lines // 20)
    due = days(n_po)
    planned = rng.integers(10, 500, n_po)
    po_item = rng.integers(0, n_items, n_po)
    prod = pd.DataFrame({
        "prod_order_no": [f"PO{i:07d}" for i in range(n_po)], "item_no": item_no[po_item],
        "location_code": "MAIN", "due_date": due, "planned_quantity": planned,
        "finished_date": due + rng.integers(-3, 3, n_po).astype("timedelta64[D]"),
        "finished_quantity": (planned * rng.uniform(0.8, 1.1, n_po)).round(),
        "status": "finished", "work_center": item_wc[po_item]})
    routings = pd.DataFrame({"item_no": item_no, "work_center": item_wc,
                             "hours_per_unit": rng.uniform(0.05, 0.5, n_items).round(2)})
    capacity = pd.DataFrame([(wc, p, 8.0 * 22 * 40) for wc in WORK_CENTERS
                             for p in months + future],
                            columns=["work_center", "period", "available_hours"])

    # sales budget: ≤ n_budget lines over history + the 12 plan periods
    budget_months = np.array(months + future, dtype=object)
    budget = pd.DataFrame({
        "period": budget_months[rng.integers(0, len(budget_months), n_budget)],
        "customer_no": customer_no[rng.integers(0, 300, n_budget)],
        "item_no": item_no[rng.integers(0, n_items, n_budget)],
        "location_code": location_code[rng.integers(0, len(LOCATIONS), n_budget)]})
    budget = budget.drop_duplicates(["period", "customer_no", "item_no", "location_code"])
    # sized so that a month's budget is about a month's sales (≈ 25 units per line)
    per_line = n_lines * 25.0 / n_months / (len(budget) / len(budget_months))
    budget["quantity"] = np.maximum(1, (per_line * rng.uniform(0.5, 1.5, len(budget))).round())
    budget["amount"] = (budget["quantity"] * 27.5).round(2)
    bus = budget["customer_no"].map(customers.set_index("customer_no")[
        "gen_bus_posting_group"])
    by_gl = budget.assign(gl_account=np.where(bus == "EXPORT", "4020", "4010")).groupby(
        ["gl_account", "period"], as_index=False)["amount"].sum()
    cogs = budget.assign(amount=budget["quantity"] * 10.0).groupby(
        "period", as_index=False)["amount"].sum().assign(gl_account="5010")
    gl_budget = pd.concat([by_gl, cogs], ignore_index=True)
    gl_budget["amount"] = (gl_budget["amount"] * rng.normal(1.0, 0.03, len(gl_budget))).round(-2)
    gl_budget["budget_name"] = "BUDGET"

    grid = pd.MultiIndex.from_product([months, item_no, list(LOCATIONS)],
                                      names=["period", "item_no", "location_code"])
    inventory = grid.to_frame(index=False)
    inventory["quantity"] = rng.integers(0, 400, len(inventory))
    inventory["value"] = inventory["quantity"] * 10.0

    n_op = 50_000
    close = days(n_op, 0, span + 180)
    status = np.array(["open", "won", "lost"])[rng.integers(0, 3, n_op)]
    status[close >= end] = "open"
    opportunities = pd.DataFrame({
        "opportunity_no": [f"OP{i:06d}" for i in range(n_op)],
        "salesperson": [f"SP{i % 7}" for i in range(n_op)],
        "customer_no": customer_no[rng.integers(0, n_customers, n_op)],
        "expected_close_date": close, "amount": rng.uniform(1e3, 5e4, n_op).round(2),
        "status": status, "commit": rng.random(n_op) < 0.3,
        "close_date": np.where(status == "open", np.datetime64("NaT"), close)})

    frames = {"items": items, "customers": customers, "locations": locations,
              "vendors": vendors, "gl_accounts": gl_accounts, "posting_setup": posting_setup,
              "sales_lines": lines, "sales_shipments": ships, "sales_invoices": invoices,
              "sales_budget": budget, "gl_budget": gl_budget, "purchase_receipts": receipts,
              "purchase_orders": purchase_orders, "production_orders": prod,
              "inventory": inventory, "opportunities": opportunities, "capacity": capacity,
              "routings": routings}
    return frames


# --------------------------------------------------------------------------- pandas peer


def naive_pandas(src: Path, *, tolerance: int = 0, days_early: int | None = None,
                 days_late: int = 0) -> dict[str, pd.DataFrame]:
    """The KPIs the refresh aggregates, computed the way a pandas user would write them
    without thinking about speed: read the CSVs, merge, then ``groupby(...).apply`` with a
    Python function per group (per period × item × location; per period × vendor)."""
    def read(name, dates=()):
        return pd.read_csv(src / f"{name}.csv", parse_dates=list(dates))

    lines = read("sales_lines", ["order_date", "promised_date", "requested_date"])
    ships = read("sales_shipments", ["shipment_date"])
    invoices = read("sales_invoices", ["posting_date"])
    budget = read("sales_budget")
    stock = read("inventory")
    receipts = read("purchase_receipts", ["expected_receipt_date", "receipt_date"])
    prod = read("production_orders", ["due_date", "finished_date"])
    keys = ["period", "item_no", "location_code"]

    lines["due"] = lines["promised_date"].fillna(lines["requested_date"])
    lines["period"] = lines["due"].dt.strftime("%Y-%m")
    tol = pd.Timedelta(days=tolerance)

    # sales OTD: shipment lines per shipment period, on time against the line's due date
    s = ships.merge(lines[["order_no", "line_no", "item_no", "location_code", "due"]],
                    left_on=["order_no", "order_line_no"], right_on=["order_no", "line_no"],
                    suffixes=("", "_order"))
    s["period"] = s["shipment_date"].dt.strftime("%Y-%m")
    otd = s.groupby(keys).apply(lambda g: pd.Series({
        "otd_lines": len(g),
        "otd_on_time": (g["shipment_date"] <= g["due"] + tol).sum(),
        "shipped_qty": g["quantity"].sum()}))

    # fill rate: quantity shipped by the due date per line, then per due period
    on_time = s[s["shipment_date"] <= s["due"] + tol].groupby(
        ["order_no", "order_line_no"]).apply(lambda g: g["quantity"].sum())
    on_time = on_time.rename("shipped_on_time").reset_index()
    ln = lines.merge(on_time, left_on=["order_no", "line_no"],
                     right_on=["order_no", "order_line_no"], how="left")
    ln["shipped_on_time"] = ln["shipped_on_time"].fillna(0)
    ln = ln[ln["quantity"] > 0]
    fill = ln.groupby(keys).apply(lambda g: pd.Series({
        "fill_lines_due": len(g),
        "fill_lines_filled": (g["shipped_on_time"] >= g["quantity"]).sum(),
        "fill_qty_due": g["quantity"].sum(),
        "fill_qty_on_time": g.apply(lambda r: min(r["shipped_on_time"], r["quantity"]),
                                    axis=1).sum()}))

    invoices["period"] = invoices["posting_date"].dt.strftime("%Y-%m")
    inv = invoices.groupby(keys).apply(lambda g: pd.Series({
        "invoiced_qty": g["quantity"].sum(), "invoiced_amount": g["amount"].sum(),
        "cogs": g["cost_amount"].sum()}))
    bud = budget.groupby(keys).apply(lambda g: pd.Series({
        "budget_qty": g["quantity"].sum(), "budget_amount": g["amount"].sum()}))
    inventory = stock.groupby(keys).apply(lambda g: pd.Series({
        "on_hand_qty": g["quantity"].sum(), "inventory_value": g["value"].sum()}))

    sales = otd.join([fill, inv, bud, inventory], how="outer").fillna(0.0)
    sales["forecast_abs_error"] = sales.apply(
        lambda r: abs(r["invoiced_amount"] - r["budget_amount"]), axis=1)
    sales = sales.reset_index()

    receipts["period"] = receipts["receipt_date"].dt.strftime("%Y-%m")

    def vendor_on_time(r):
        late = r["receipt_date"] <= r["expected_receipt_date"] + pd.Timedelta(days=days_late)
        if days_early is None:
            return late
        return late and r["receipt_date"] >= r["expected_receipt_date"] - pd.Timedelta(
            days=days_early)

    vendor = receipts.groupby(["period", "vendor_no"]).apply(lambda g: pd.Series({
        "receipt_lines": len(g),
        "receipts_on_time": g.apply(vendor_on_time, axis=1).sum()})).reset_index()

    prod["period"] = prod["due_date"].dt.strftime("%Y-%m")

    def attained(r):
        if pd.isna(r["finished_date"]) or r["finished_date"] > r["due_date"]:
            return 0.0
        return max(0.0, min(r["finished_quantity"], r["planned_quantity"]))

    production = prod.groupby(keys).apply(lambda g: pd.Series({
        "planned_qty": g["planned_quantity"].sum(),
        "attained_qty": g.apply(attained, axis=1).sum()})).reset_index()
    return {"agg_sales": sales, "agg_vendor": vendor, "agg_production": production}


# --------------------------------------------------------------------------- LibreOffice peer

LINE_COLUMNS = ["period", "item_no", "location_code", "qty_ordered", "qty_on_time",
                "filled", "invoiced_amount", "cost_amount"]


def erp_export(src: Path) -> pd.DataFrame:
    """One row per sales order line as a planner's ERP export gives it: due period (YYYYMM
    number), item, location, quantity ordered, quantity shipped by the promised date
    (capped at the ordered quantity), filled flag 0/1, invoiced amount and cost. The
    generator posts one invoice per line, in the same row order (checked here)."""
    lines = pd.read_csv(src / "sales_lines.csv", parse_dates=["promised_date",
                                                               "requested_date"])
    ships = pd.read_csv(src / "sales_shipments.csv", parse_dates=["shipment_date"])
    inv = pd.read_csv(src / "sales_invoices.csv", parse_dates=["posting_date"])
    due = lines["promised_date"].fillna(lines["requested_date"])
    index = pd.MultiIndex.from_frame(lines[["order_no", "line_no"]])
    at = index.get_indexer(pd.MultiIndex.from_frame(ships[["order_no", "order_line_no"]]))
    ok = (ships["shipment_date"].to_numpy() <= due.to_numpy()[at])
    shipped = np.bincount(at, weights=ships["quantity"].to_numpy() * ok, minlength=len(lines))
    qty = lines["quantity"].to_numpy(dtype=float)
    same = ((inv["item_no"].to_numpy() == lines["item_no"].to_numpy())
            & (inv["location_code"].to_numpy() == lines["location_code"].to_numpy())
            & (inv["posting_date"].to_numpy() == due.to_numpy()))
    if len(inv) != len(lines) or not same.all():
        raise SystemExit("erp_export: invoices are not one per sales line in line order")
    return pd.DataFrame({
        "period": (due.dt.year * 100 + due.dt.month).to_numpy(),
        "item_no": lines["item_no"].to_numpy(), "location_code": lines["location_code"],
        "qty_ordered": qty, "qty_on_time": np.minimum(shipped, qty),
        "filled": (shipped >= qty).astype(int), "invoiced_amount": inv["amount"].to_numpy(),
        "cost_amount": inv["cost_amount"].to_numpy()})[LINE_COLUMNS]


PERIOD_HEADERS = ["period", "lines_due", "lines_filled", "fill_rate_line", "qty_due",
                  "qty_on_time", "fill_rate_unit", "invoiced_amount", "cogs"]
ITEM_HEADERS = ["item_no", "lines_due", "lines_filled", "fill_rate_line", "invoiced_amount"]
ITEM_COL = 11  # K: the per-item block starts here; Q1 holds its period


def write_planner_workbook(path: Path, export: pd.DataFrame, periods: list[int],
                           items: list[str], item_period: int) -> None:
    """The planner's hand-built workbook: sheet ``lines`` (the export) and sheet ``kpis``
    with native COUNTIFS/SUMIFS formulas per period and, for ``item_period``, per item.
    Written with openpyxl's write-only mode, formulas without cached values."""
    from openpyxl import Workbook

    n = len(export) + 1
    rng = {c: f"lines!${chr(65 + i)}$2:${chr(65 + i)}${n}" for i, c in enumerate(LINE_COLUMNS)}
    wb = Workbook(write_only=True)
    kpis = wb.create_sheet("kpis")
    rows = [[*PERIOD_HEADERS, None, *ITEM_HEADERS, "period", item_period]]
    for i in range(max(len(periods), len(items))):
        r = i + 2
        row: list = [None] * (ITEM_COL + len(ITEM_HEADERS) - 1)
        if i < len(periods):
            p = f"$A{r}"
            row[:9] = [
                periods[i],
                f"=COUNTIFS({rng['period']},{p})",
                f"=COUNTIFS({rng['period']},{p},{rng['filled']},1)",
                f"=IF(B{r}=0,NA(),C{r}/B{r})",
                f"=SUMIFS({rng['qty_ordered']},{rng['period']},{p})",
                f"=SUMIFS({rng['qty_on_time']},{rng['period']},{p})",
                f"=IF(E{r}=0,NA(),F{r}/E{r})",
                f"=SUMIFS({rng['invoiced_amount']},{rng['period']},{p})",
                f"=SUMIFS({rng['cost_amount']},{rng['period']},{p})"]
        if i < len(items):
            k = f"$K{r}"
            row[ITEM_COL - 1:] = [
                items[i],
                f"=COUNTIFS({rng['period']},$Q$1,{rng['item_no']},{k})",
                f"=COUNTIFS({rng['period']},$Q$1,{rng['item_no']},{k},{rng['filled']},1)",
                f"=IF(L{r}=0,NA(),M{r}/L{r})",
                f"=SUMIFS({rng['invoiced_amount']},{rng['period']},$Q$1,{rng['item_no']},{k})"]
        rows.append(row)
    for row in rows:
        kpis.append(row)
    sheet = wb.create_sheet("lines")
    sheet.append(LINE_COLUMNS)
    cols = [export[c].to_numpy() for c in LINE_COLUMNS]
    cols = [c.tolist() for c in cols]
    for row in zip(*cols, strict=True):
        sheet.append(row)
    wb.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description="naive pandas peer of the refresh benchmark")
    ap.add_argument("peer", choices=["pandas"])
    ap.add_argument("--source", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tolerance", type=int, default=0)
    ap.add_argument("--days-early", type=int, default=None)
    ap.add_argument("--days-late", type=int, default=0)
    args = ap.parse_args()
    t = time.perf_counter()
    result = naive_pandas(args.source, tolerance=args.tolerance, days_early=args.days_early,
                          days_late=args.days_late)
    with open(args.out, "wb") as fh:
        pickle.dump(result, fh)
    print(f"naive pandas: {time.perf_counter() - t:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
