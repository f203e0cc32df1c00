"""KPI engine benchmark: 1,000,000 sales lines with their shipments.

Writes a synthetic source (CSV) in the data contract, loads and validates it through the
real loader, builds the facts, then times each KPI and prints its ratio to a *bare numpy
pass over the same columns* measured in the same run (the floor any implementation pays:
one vectorised compare-and-sum over the KPI's input arrays). The two are measured
*interleaved*: KPI and numpy pass alternately (which goes first alternates too), each run
timed by this thread's CPU time, ``--repeat`` pairs per KPI; the table shows the median
times and the median of the per-pair ratios. Goal: every KPI within 3×.

    uv run python benchmarks/bench_kpis.py [--lines 1000000] [--repeat 41]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sop_workbook.contract import TABLES
from sop_workbook.kpi import (
    build_facts,
    close_ratio,
    days_of_supply,
    fill_rate,
    forecast_error,
    inventory_turns,
    sales_otd,
    schedule_attainment,
    tracking_signal,
    vendor_otd,
)
from sop_workbook.loader import load_source
from sop_workbook.periods import parse_period, period_day_bounds

PERIOD = "2026-06"


def write_source(folder: Path, n_lines: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    n_items, n_customers = 2000, 500
    items = pd.DataFrame({"item_no": [f"I{i:05d}" for i in range(n_items)],
                          "description": "item", "category": [f"CAT{i % 8}" for i in
                                                              range(n_items)],
                          "gen_prod_posting_group": "RETAIL", "unit_cost": 10.0})
    customers = pd.DataFrame({"customer_no": [f"C{i:04d}" for i in range(n_customers)],
                              "name": "customer", "gen_bus_posting_group": "DOMESTIC",
                              "salesperson": [f"SP{i % 7}" for i in range(n_customers)]})
    locations = pd.DataFrame({"location_code": ["MAIN", "EAST", "WEST"]})
    base = np.datetime64("2025-01-01")
    order_day = base + rng.integers(0, 540, n_lines).astype("timedelta64[D]")
    promised = order_day + rng.integers(3, 30, n_lines).astype("timedelta64[D]")
    qty = rng.integers(1, 50, n_lines)
    lines = pd.DataFrame({
        "order_no": [f"SO{i // 4:07d}" for i in range(n_lines)],
        "line_no": np.arange(n_lines) % 4 + 1,
        "customer_no": customers["customer_no"].to_numpy()[rng.integers(0, n_customers,
                                                                        n_lines)],
        "item_no": items["item_no"].to_numpy()[rng.integers(0, n_items, n_lines)],
        "location_code": locations["location_code"].to_numpy()[rng.integers(0, 3, n_lines)],
        "order_date": order_day, "promised_date": promised,
        "requested_date": promised - rng.integers(0, 5, n_lines).astype("timedelta64[D]"),
        "quantity": qty,
    })
    # one shipment per line, plus a second partial one for 20 % of the lines
    delay = rng.integers(-5, 6, n_lines).astype("timedelta64[D]")
    split = rng.random(n_lines) < 0.2
    first_qty = np.where(split, qty // 2, qty)
    ships = pd.DataFrame({"order_no": lines["order_no"], "order_line_no": lines["line_no"],
                          "shipment_date": promised + delay, "quantity": first_qty})
    second = pd.DataFrame({"order_no": lines["order_no"][split],
                           "order_line_no": lines["line_no"][split],
                           "shipment_date": promised[split] + 7, "quantity": (qty - first_qty)[
                               split]})
    ships = pd.concat([ships, second], ignore_index=True)
    ships.insert(0, "shipment_no", [f"SH{i:08d}" for i in range(len(ships))])
    ships.insert(1, "line_no", 1)
    n_rc = n_lines // 10
    expected = base + rng.integers(0, 540, n_rc).astype("timedelta64[D]")
    receipts = pd.DataFrame({"receipt_no": [f"R{i:07d}" for i in range(n_rc)], "line_no": 1,
                             "vendor_no": [f"V{i % 20}" for i in range(n_rc)],
                             "item_no": items["item_no"].to_numpy()[rng.integers(0, n_items,
                                                                                 n_rc)],
                             "expected_receipt_date": expected,
                             "receipt_date": expected + rng.integers(-4, 6, n_rc).astype(
                                 "timedelta64[D]"), "quantity": 10})
    vendors = pd.DataFrame({"vendor_no": [f"V{i}" for i in range(20)], "name": "vendor"})
    n_po = n_lines // 20
    due = base + rng.integers(0, 540, n_po).astype("timedelta64[D]")
    planned = rng.integers(10, 500, n_po)
    prod = pd.DataFrame({"prod_order_no": [f"PO{i:07d}" for i in range(n_po)],
                         "item_no": items["item_no"].to_numpy()[rng.integers(0, n_items, n_po)],
                         "location_code": "MAIN", "due_date": due, "planned_quantity": planned,
                         "finished_date": due + rng.integers(-3, 3, n_po).astype(
                             "timedelta64[D]"),
                         "finished_quantity": (planned * rng.uniform(0.8, 1.1, n_po)).round()})
    # one invoice per sales line (posted at the promised date), a sales budget per
    # item × location × month for 300 customers, month-end inventory, opportunities
    price = rng.uniform(15, 40, n_lines).round(2)
    invoices = pd.DataFrame({"invoice_no": [f"IN{i:08d}" for i in range(n_lines)],
                             "line_no": 1, "posting_date": promised,
                             "customer_no": lines["customer_no"], "item_no": lines["item_no"],
                             "location_code": lines["location_code"], "quantity": qty,
                             "amount": (qty * price).round(2), "cost_amount": qty * 10.0})
    months = pd.period_range("2025-01", "2026-08", freq="M").strftime("%Y-%m")
    n_b = 200_000
    budget = pd.DataFrame({"period": months.to_numpy()[rng.integers(0, len(months), n_b)],
                           "customer_no": customers["customer_no"].to_numpy()[
                               rng.integers(0, 300, n_b)],
                           "item_no": items["item_no"].to_numpy()[rng.integers(0, n_items,
                                                                               n_b)],
                           "location_code": locations["location_code"].to_numpy()[
                               rng.integers(0, 3, n_b)]})
    budget = budget.drop_duplicates(["period", "customer_no", "item_no", "location_code"])
    budget["quantity"] = rng.integers(1, 60, len(budget))
    budget["amount"] = (budget["quantity"] * 25.0).round(2)
    grid = pd.MultiIndex.from_product([months, items["item_no"], locations["location_code"]],
                                      names=["period", "item_no", "location_code"])
    inventory = grid.to_frame(index=False)
    inventory["quantity"] = rng.integers(0, 400, len(inventory))
    inventory["value"] = inventory["quantity"] * 10.0
    n_op = 50_000
    close = base + rng.integers(0, 540, n_op).astype("timedelta64[D]")
    status = np.array(["open", "won", "lost"])[rng.integers(0, 3, n_op)]
    opportunities = pd.DataFrame({
        "opportunity_no": [f"OP{i:06d}" for i in range(n_op)],
        "salesperson": [f"SP{i % 7}" for i in range(n_op)],
        "customer_no": customers["customer_no"].to_numpy()[rng.integers(0, n_customers, n_op)],
        "expected_close_date": close, "amount": rng.uniform(1e3, 5e4, n_op).round(2),
        "status": status, "commit": rng.random(n_op) < 0.3,
        "close_date": np.where(status == "open", np.datetime64("NaT"), close)})
    frames = {"items": items, "customers": customers, "locations": locations,
              "vendors": vendors, "sales_lines": lines, "sales_shipments": ships,
              "purchase_receipts": receipts, "production_orders": prod,
              "sales_invoices": invoices, "sales_budget": budget, "inventory": inventory,
              "opportunities": opportunities}
    for name, spec in TABLES.items():
        frame = frames.get(name, pd.DataFrame(columns=list(spec.required)))
        frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")


def interleaved(fn, floor, repeat: int) -> tuple[float, float, float]:
    """Run the KPI and its numpy floor alternately ``repeat`` times (after one untimed run
    of each), timing each run by the CPU time of this thread (other processes on the
    machine do not count); (median KPI s, median numpy s, median of the per-pair ratios).
    Alternating puts both under the same machine state (caches, frequency, load)."""
    fn(), floor()
    kpi, base, ratios = [], [], []
    for i in range(repeat):
        pair = []
        for f in ((fn, floor) if i % 2 == 0 else (floor, fn)):
            t = time.thread_time()
            f()
            pair.append((f, time.thread_time() - t))
        a = next(t for f, t in pair if f is fn)
        b = next(t for f, t in pair if f is floor)
        kpi.append(a)
        base.append(b)
        ratios.append(a / b if b > 0 else float("nan"))
    return statistics.median(kpi), statistics.median(base), statistics.median(ratios)


def numpy_passes(facts):
    """The floor for each KPI: one bare numpy compare-and-sum over the same input columns."""
    first, last = period_day_bounds(PERIOD)
    ship, lines = facts.shipments, facts.sales_lines
    rc, po = facts.receipts, facts.production

    def otd():
        d = ship["day"]
        due = lines["due_promised"][ship["line"]]
        m = (d >= first) & (d <= last)
        return np.count_nonzero(m & (d <= due)), np.count_nonzero(m)

    def fill():
        due = lines["due_promised"]
        shipped = np.bincount(ship["line"], weights=ship["quantity"], minlength=len(due))
        m = (due >= first) & (due <= last)
        return np.count_nonzero(m & (shipped >= lines["quantity"])), np.count_nonzero(m)

    def vendor():
        d = rc["day"]
        m = (d >= first) & (d <= last)
        return np.count_nonzero(m & (d <= rc["expected_day"])), np.count_nonzero(m)

    def schedule():
        d = po["due_day"]
        m = (d >= first) & (d <= last)
        return np.minimum(po["finished"], po["planned"])[m].sum(), po["planned"][m].sum()

    inv, bud, stock, op = facts.invoices, facts.sales_budget, facts.inventory, \
        facts.opportunities
    month = parse_period(PERIOD)

    def turns():
        m = inv["month"] == month
        s = stock["month"]
        return inv["cost_amount"][m].sum(), stock["value"][(s >= month - 1) & (s <= month)].sum()

    def supply_days():
        d = ship["day"]
        m = (d >= first) & (d <= last)
        return ship["quantity"][m].sum(), stock["quantity"][stock["month"] == month].sum()

    def forecast():
        a = inv["month"] == month
        f = bud["month"] == month
        return np.abs(inv["amount"][a]).sum(), np.abs(bud["amount"][f]).sum()

    def forecast6():
        a = (inv["month"] > month - 6) & (inv["month"] <= month)
        f = (bud["month"] > month - 6) & (bud["month"] <= month)
        return np.abs(inv["amount"][a]).sum(), np.abs(bud["amount"][f]).sum()

    def funnel():
        m = op["close_month"] == month
        return np.count_nonzero(m & op["won"]), np.count_nonzero(m & (op["won"] | op["lost"]))

    return {"otd": otd, "fill": fill, "vendor": vendor, "schedule": schedule,
            "turns": turns, "supply_days": supply_days, "forecast": forecast,
            "forecast6": forecast6, "funnel": funnel}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=41,
                    help="interleaved KPI/numpy pairs per KPI (medians)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        write_source(folder, args.lines)
        print(f"synthetic source written: {args.lines:,} sales lines "
              f"({time.perf_counter() - t:.1f} s)")
        t = time.perf_counter()
        data = load_source(folder)
        t_load = time.perf_counter() - t
    t = time.perf_counter()
    facts = build_facts(data)
    t_facts = time.perf_counter() - t
    print(f"load + validate: {t_load:.2f} s   build facts (joins, once per load): "
          f"{t_facts:.2f} s   shipments: {len(facts.shipments):,}\n")

    floor = numpy_passes(facts)
    cases = [
        ("sales_otd", "otd", lambda: sales_otd(facts, PERIOD)),
        ("sales_otd by location", "otd", lambda: sales_otd(facts, PERIOD, by="location")),
        ("fill_rate line", "fill", lambda: fill_rate(facts, PERIOD)),
        ("fill_rate unit", "fill", lambda: fill_rate(facts, PERIOD, level="unit")),
        ("fill_rate order", "fill", lambda: fill_rate(facts, PERIOD, level="order")),
        ("fill_rate by category", "fill", lambda: fill_rate(facts, PERIOD, by="category")),
        ("vendor_otd", "vendor", lambda: vendor_otd(facts, PERIOD, days_early=3)),
        ("schedule_attainment", "schedule", lambda: schedule_attainment(facts, PERIOD)),
        ("inventory_turns", "turns", lambda: inventory_turns(facts, PERIOD)),
        ("days_of_supply", "supply_days", lambda: days_of_supply(facts, PERIOD)),
        ("forecast_accuracy/bias", "forecast", lambda: forecast_error(facts, PERIOD)),
        ("forecast by category", "forecast", lambda: forecast_error(facts, PERIOD,
                                                                     by="category")),
        ("tracking_signal (6)", "forecast6", lambda: tracking_signal(facts, PERIOD)),
        ("close_ratio", "funnel", lambda: close_ratio(facts, PERIOD)),
    ]
    print(f"interleaved: {args.repeat} KPI/numpy pairs per KPI, thread CPU time, medians; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| KPI | KPI ms | numpy ms | ratio (median of pairs) |\n|---|---:|---:|---:|")
    worst = 0.0
    for name, base, fn in cases:
        t_kpi, t_np, ratio = interleaved(fn, floor[base], args.repeat)
        worst = max(worst, ratio)
        print(f"| {name} | {t_kpi * 1e3:.1f} | {t_np * 1e3:.1f} | {ratio:.2f}× |")
    print(f"\nworst ratio {worst:.2f}× (goal ≤ 3×); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
