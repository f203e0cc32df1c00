"""SQL refresh path at scale (issue 19): 1 M, 3 M and 10 M sales lines, bounded memory.

For each size, on a typed Parquet source generated once by :mod:`scale_source` (2,000
items × 3 locations × 36 months; shipments 1.2× and invoices 1× the lines, receipts ÷ 10,
production orders ÷ 20, 200 k budget lines, 216 k inventory rows), each in its own
process, CPU time (user + system of the process) and peak RSS from ``/usr/bin/time``:

- **SQL path**: :func:`sop_workbook.sql.load_aggregates` — what ``sop refresh`` runs
  before it writes the workbook: every contract table staged (typed, checked: rows,
  keys, references) and every aggregate table *Refresh* writes computed in DuckDB, the
  results as pandas frames. The embedded DuckDB's memory limit is the product's default
  (``SOP_DUCKDB_MEMORY_LIMIT`` unset) unless ``--limit`` is given.
- **bare DuckDB**: the same staging work without the contract — one ``CREATE TABLE … AS
  SELECT * FROM read_parquet(…)`` per file — then the duplicate-key check of the three
  large tables and the two largest aggregates (shipments joined to their sales lines,
  grouped by month × item × location and by month × customer; invoices grouped the same
  ways), with the same memory limit, spill folder and threads: the floor any DuckDB
  implementation pays.
- optionally (``--refresh``) ``sop refresh`` end to end into a copy of the template.

    uv run python benchmarks/bench_sql_scale.py [--lines 1e6,3e6,10e6] [--refresh]
        [--limit 500MB]

Goals: peak RSS ≤ 1 GiB at 3 M and ≤ 1.5 GiB at 10 M lines; 10 M lines refreshed (``sop
refresh`` end to end, ``--refresh``) in ≤ 60 s CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_refresh import byte_compile, describe, machine, measure, prepared_workbook
from scale_source import cached_scale_source

from sop_workbook.sql.sources import default_memory_limit

SQL_PATH = """
import sys
from sop_workbook.sql import load_aggregates
tables = load_aggregates(sys.argv[1]).tables
print(sum(len(t) for t in tables.values()))
"""

BARE = """
import sys, tempfile, shutil, duckdb
from pathlib import Path
folder, limit = Path(sys.argv[1]), sys.argv[2]
spill = tempfile.mkdtemp(prefix="bare-duckdb-")
con = duckdb.connect(":memory:")
con.execute(f"SET temp_directory = '{spill}'")
con.execute(f"SET memory_limit = '{limit}'")
con.execute("SET checkpoint_threshold = '1TB'")
for path in sorted(folder.glob("*.parquet")):
    con.execute(f"CREATE TABLE {path.stem} AS SELECT * FROM read_parquet('{path}')")
for table, key in [("sales_lines", "order_no, line_no"),
                   ("sales_shipments", "shipment_no, line_no"),
                   ("sales_invoices", "invoice_no, line_no")]:
    con.execute(f"SELECT COUNT(*) FROM (SELECT {key} FROM {table} GROUP BY {key} "
                "HAVING COUNT(*) > 1)").fetchall()
month = "(year({d}) * 12 + month({d}) - 1)"
ships = (f"SELECT {month.format(d='s.shipment_date')} AS m, l.item_no, l.location_code, "
         "l.customer_no, s.quantity, CASE WHEN s.shipment_date <= l.promised_date THEN 1 "
         "ELSE 0 END AS on_time FROM sales_shipments s JOIN sales_lines l "
         "ON l.order_no = s.order_no AND l.line_no = s.order_line_no")
inv = f"SELECT {month.format(d='posting_date')} AS m, * FROM sales_invoices"
rows = 0
for grain in ("m, item_no, location_code", "m, customer_no"):
    rows += len(con.execute(f"SELECT {grain}, COUNT(*), SUM(on_time), SUM(quantity) "
                            f"FROM ({ships}) GROUP BY {grain}").df())
    rows += len(con.execute(f"SELECT {grain}, SUM(quantity), SUM(amount), "
                            f"SUM(cost_amount) FROM ({inv}) GROUP BY {grain}").df())
con.close()
shutil.rmtree(spill, ignore_errors=True)
print(rows)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", default="1e6,3e6,10e6",
                    help="comma-separated sales-line counts (1e6 notation accepted)")
    ap.add_argument("--limit", default="",
                    help="SOP_DUCKDB_MEMORY_LIMIT for the SQL path (default: the product's)")
    ap.add_argument("--refresh", action="store_true", help="also time `sop refresh` end to end")
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args()
    sizes = [int(float(x)) for x in args.lines.split(",") if x.strip()]
    limit = args.limit or default_memory_limit()
    env = {**os.environ}
    env.pop("SOP_DUCKDB_MEMORY_LIMIT", None)
    if args.limit:
        env["SOP_DUCKDB_MEMORY_LIMIT"] = args.limit
    byte_compile()
    print(f"machine: {machine()}")
    print(f"DuckDB memory limit: {limit} ({'--limit' if args.limit else 'default'})")
    rows = []
    for n in sizes:
        src = cached_scale_source(n)
        print(f"\n{n:,} sales lines: {src}")
        sql = measure([sys.executable, "-c", SQL_PATH, str(src)], timeout=args.timeout, env=env)
        print(f"  SQL path (load_aggregates): {describe(sql)}")
        bare = measure([sys.executable, "-c", BARE, str(src), limit], timeout=args.timeout)
        print(f"  bare DuckDB:                {describe(bare)}")
        ref = None
        if args.refresh:
            work = Path(tempfile.mkdtemp(prefix="sop-scale-"))
            try:
                book, _ = prepared_workbook(work, "2026-11")
                ref = measure([sys.executable, "-m", "sop_workbook", "refresh", str(book),
                               "--source", str(src), "--backups", "0"],
                              timeout=args.timeout, env=env)
                print(f"  sop refresh end to end:     {describe(ref)}")
            finally:
                shutil.rmtree(work, ignore_errors=True)
        rows.append((n, sql, bare, ref))

    print(f"\n### SQL refresh path at scale (DuckDB memory limit {limit})\n")
    print(f"machine: {machine()}\n")
    head = ("| sales lines | SQL path CPU s | peak RSS MiB | bare DuckDB CPU s | peak RSS MiB "
            "| ÷ bare (CPU) | ÷ bare (RSS) |")
    sep = "|---:|---:|---:|---:|---:|---:|---:|"
    if args.refresh:
        head += " `sop refresh` CPU s | peak RSS MiB |"
        sep += "---:|---:|"
    print(head + " load avg |\n" + sep + "---:|")
    for n, sql, bare, ref in rows:
        line = (f"| {n:,} | {sql.cpu:.1f} | {sql.rss_mib:,.0f} | {bare.cpu:.1f} | "
                f"{bare.rss_mib:,.0f} | {sql.cpu / bare.cpu:.2f}× | "
                f"{sql.rss_mib / bare.rss_mib:.2f}× |")
        if args.refresh:
            line += f" {ref.cpu:.1f} | {ref.rss_mib:,.0f} |"
        print(line + f" {max(sql.load, bare.load):.1f} |")
    goals = {3_000_000: 1024, 10_000_000: 1536}
    print()
    for n, sql, _bare, ref in rows:
        if n in goals:
            print(f"goal peak RSS ≤ {goals[n]:,} MiB at {n:,} lines: {sql.rss_mib:,.0f} MiB — "
                  f"{'met' if sql.rss_mib <= goals[n] else 'NOT met'}")
            if ref is not None:
                print(f"  `sop refresh` end to end: {ref.rss_mib:,.0f} MiB — "
                      f"{'met' if ref.rss_mib <= goals[n] else 'NOT met'}")
        if n == 10_000_000:
            print(f"goal ≤ 60 s CPU at 10,000,000 lines: SQL path {sql.cpu:.1f} s — "
                  f"{'met' if sql.cpu <= 60 else 'NOT met'}")
            if ref is not None:
                print(f"  `sop refresh` end to end (the goal's measure): {ref.cpu:.1f} s — "
                      f"{'met' if ref.cpu <= 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
