"""Workbook I/O at the scale of a 1,000,000-line refresh.

Builds frames shaped like the real aggregates (agg_sales: 216,000 rows × 19 columns, and
20,000-row agg_customer / fin_budget_detail), writes them into a copy of SOP_Template.xlsm
through HeadlessWorkbook, saves, reopens (data sheets not read), reads agg_sales back, and
compares with plain openpyxl writing the same cells into the same template in the same run.

    uv run python benchmarks/bench_workbook_io.py [--rows 216000] [--skip-openpyxl]

Prints wall times, peak RSS (of this process, before the openpyxl baseline runs) and the
speed-up over openpyxl.

The mixed-sheet case writes the Demand sheet's plan_demand (``--items`` × 3 locations × 7
layers rows × 42 columns) and demand_rollup next to the planner tables on the same rows,
saves, and recalculates, with the streamed bodies and with the old cell-by-cell path
(``STREAM_MIN_ROWS`` raised so nothing streams).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sop_workbook.workbook.headless import HeadlessWorkbook  # noqa: E402

TEMPLATE = ROOT / "SOP_Template.xlsm"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def agg_sales_like(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    periods = pd.period_range("2023-01", periods=36, freq="M").strftime("%Y-%m").to_numpy()
    items = np.array([f"IT-{i:05d}" for i in range(2000)])
    locations = np.array(["MAIN", "EAST", "WEST"])
    categories = np.array(["Chairs", "Tables", "Lamps", "Storage", "Textiles"])
    item = rng.integers(0, len(items), n)
    frame = pd.DataFrame({
        "period": periods[rng.integers(0, len(periods), n)],
        "item_no": items[item],
        "category": categories[item % len(categories)],
        "location_code": locations[rng.integers(0, 3, n)],
    })
    for col in ("otd_lines", "otd_on_time", "fill_lines_due", "fill_lines_filled"):
        frame[col] = rng.integers(0, 40, n)
    for col in ("fill_qty_due", "fill_qty_on_time", "shipped_qty", "invoiced_qty",
                "budget_qty", "on_hand_qty"):
        frame[col] = rng.integers(0, 500, n).astype(float)
    for col in ("invoiced_amount", "cogs", "budget_amount", "forecast_abs_error",
                "inventory_value"):
        frame[col] = np.round(rng.gamma(2.0, 800.0, n), 2)
    frame.loc[rng.random(n) < 0.05, "budget_amount"] = np.nan
    return frame


def other_tables(n: int, seed: int = 1) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    periods = pd.period_range("2023-01", periods=36, freq="M").strftime("%Y-%m").to_numpy()
    customers = np.array([f"C{i:05d}" for i in range(3000)])
    cust = pd.DataFrame({
        "period": periods[rng.integers(0, 36, n)], "customer_no": customers[rng.integers(
            0, 3000, n)], "salesperson": np.array(["AB", "CD", "EF"])[rng.integers(0, 3, n)]})
    for col in ("otd_lines", "otd_on_time", "fill_lines_due", "fill_lines_filled",
                "fill_qty_due", "fill_qty_on_time", "shipped_qty", "invoiced_qty",
                "invoiced_amount", "cogs", "budget_qty", "budget_amount",
                "forecast_abs_error"):
        cust[col] = np.round(rng.gamma(2.0, 100.0, n), 2)
    detail = pd.DataFrame({
        "gl_account": np.array(["4000", "4100", "5000"])[rng.integers(0, 3, n)],
        "period": periods[rng.integers(0, 36, n)],
        "customer_no": customers[rng.integers(0, 3000, n)],
        "item_no": np.array([f"IT-{i:05d}" for i in range(2000)])[rng.integers(0, 2000, n)],
        "location_code": "MAIN", "amount": np.round(rng.normal(1000, 300, n), 2)})
    return {"agg_customer": cust, "fin_budget_detail": detail}


def bench_headless(folder: Path, tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    path = folder / "headless.xlsm"
    shutil.copy(TEMPLATE, path)
    out = {}
    t0 = time.perf_counter()
    book = HeadlessWorkbook(path)
    out["open template"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    book.write_table("agg_sales", tables["agg_sales"])
    out["write agg_sales"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    book.save(backups=0)
    out["save (agg_sales only)"] = time.perf_counter() - t0
    out["write+save agg_sales"] = out["write agg_sales"] + out["save (agg_sales only)"]
    t0 = time.perf_counter()
    for name, frame in tables.items():
        if name != "agg_sales":
            book.write_table(name, frame)
    book.save(backups=0)
    out["write others + save all"] = time.perf_counter() - t0
    out["peak RSS MiB after writing"] = peak_rss_mib()
    out["file MiB"] = path.stat().st_size / 2**20
    t0 = time.perf_counter()
    again = HeadlessWorkbook(path)
    out["reopen (data sheets not read)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    back = again.read_table("agg_sales")
    out["read_table agg_sales"] = time.perf_counter() - t0
    assert len(back) == len(tables["agg_sales"])
    t0 = time.perf_counter()
    again.set_value("cfg_data_source", "bench")
    again.save(backups=0)
    out["save unchanged data sheets"] = time.perf_counter() - t0
    return out


def bench_openpyxl(folder: Path, tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The same cells written and read by plain openpyxl (what the adapter did before)."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    path = folder / "openpyxl.xlsm"
    shutil.copy(TEMPLATE, path)
    out = {}
    t0 = time.perf_counter()
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb["agg_sales"]
    table = ws.tables["agg_sales"]
    frame = tables["agg_sales"]
    min_col, min_row, _, _ = range_boundaries(table.ref)
    for i, row in enumerate(frame.itertuples(index=False), start=min_row + 1):
        for j, value in enumerate(row):
            if isinstance(value, float) and value != value:
                value = None
            elif hasattr(value, "item"):
                value = value.item()
            ws.cell(i, min_col + j).value = value
    table.ref = f"A{min_row}:S{min_row + len(frame)}"
    table.autoFilter.ref = table.ref
    wb.save(path)
    out["write+save agg_sales"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    openpyxl.load_workbook(path, keep_vba=True)
    out["reopen (data sheets not read)"] = time.perf_counter() - t0
    return out


def plan_demand_like(book, n: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = book.table_columns("plan_demand")
    frame = pd.DataFrame({c: np.round(rng.gamma(2.0, 50.0, n), 3) for c in columns})
    frame["item_no"] = [f"IT-{i // 21:05d}" for i in range(n)]
    frame["description"] = [f"Item {i // 21}" for i in range(n)]
    frame["category"] = np.array(["Chairs", "Tables", "Lamps"])[np.arange(n) % 3]
    frame["location_code"] = np.array(["MAIN", "EAST", "WEST"])[(np.arange(n) // 7) % 3]
    frame["layer"] = np.array(["shipped", "invoiced", "baseline", "override", "events",
                               "commits", "consensus"])[np.arange(n) % 7]
    frame["note"] = None
    return frame


def bench_mixed(folder: Path, items: int, stream: bool) -> dict[str, float]:
    from sop_workbook.workbook import headless

    path = folder / f"mixed_{stream}.xlsm"
    shutil.copy(TEMPLATE, path)
    old = headless.STREAM_MIN_ROWS
    if not stream:
        headless.STREAM_MIN_ROWS = 10**9
    try:
        out = {}
        book = HeadlessWorkbook(path)
        demand = plan_demand_like(book, items * 3 * 7)
        rollup_cols = book.table_columns("demand_rollup")
        rollup = pd.DataFrame({c: np.arange(3000) * 1.5 for c in rollup_cols})
        rollup["category"], rollup["location_code"], rollup["layer"] = "Chairs", "(all)", "x"
        t0 = time.perf_counter()
        book.write_table("plan_demand", demand)
        book.write_table("demand_rollup", rollup)
        out["write plan_demand + rollup"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        book.recalculate()
        out["recalculate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        book.save(backups=0)
        out["save"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = book.read_table("plan_demand")
        out["read_table plan_demand (written)"] = time.perf_counter() - t0
        assert len(back) == len(demand)
        out["file MiB"] = path.stat().st_size / 2**20
        return out
    finally:
        headless.STREAM_MIN_ROWS = old


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=216_000)
    parser.add_argument("--other-rows", type=int, default=20_000)
    parser.add_argument("--skip-openpyxl", action="store_true")
    parser.add_argument("--items", type=int, default=2000,
                        help="items of the mixed-sheet case (× 3 locations × 7 layers)")
    parser.add_argument("--mixed-only", action="store_true")
    args = parser.parse_args()
    if args.mixed_only:
        with tempfile.TemporaryDirectory() as tmp:
            report_mixed(Path(tmp), args)
        return
    tables = {"agg_sales": agg_sales_like(args.rows), **other_tables(args.other_rows)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fast = bench_headless(folder, tables)
        rss = peak_rss_mib()
        print(f"HeadlessWorkbook, agg_sales {args.rows:,} × 19 + 2 × {args.other_rows:,} rows")
        for key, value in fast.items():
            unit = "" if "MiB" in key else " s"
            print(f"  {key:32s} {value:8.2f}{unit}")
        print(f"  {'peak RSS MiB (after reading)':32s} {rss:8.0f}")
        if not args.skip_openpyxl:
            slow = bench_openpyxl(folder, tables)
            print("plain openpyxl, the same agg_sales cells")
            for key, value in slow.items():
                print(f"  {key:32s} {value:8.2f} s   ({value / fast[key]:.0f}× the adapter's "
                      "time)")
        report_mixed(folder, args)


def report_mixed(folder: Path, args) -> None:
    rows = args.items * 21
    fast = bench_mixed(folder, args.items, stream=True)
    print(f"mixed sheet 2 Demand: plan_demand {rows:,} × 42 + demand_rollup 3,000 × 41, "
          "streamed")
    for key, value in fast.items():
        unit = "" if "MiB" in key else " s"
        print(f"  {key:32s} {value:8.2f}{unit}")
    if args.skip_openpyxl:
        return
    slow = bench_mixed(folder, args.items, stream=False)
    print("the same, cell by cell through openpyxl (the old path)")
    for key, value in slow.items():
        unit = "" if "MiB" in key else " s"
        print(f"  {key:32s} {value:8.2f}{unit}")


if __name__ == "__main__":
    main()
