"""A large benchmark source (1 M – 10 M+ sales lines) generated inside DuckDB.

``refresh_peers.write_source`` builds its tables in pandas (object columns, several GiB at
10 M lines). This generator writes the same structure — the small and planning tables
*are* ``write_source``'s (generated with it at a small size, the budget quantities scaled
to the number of lines), the large ones (sales lines, shipments with 20 % split in two,
one invoice per line, receipts = lines ÷ 10, production orders = lines ÷ 20) computed in
SQL from hashes of the row number (deterministic, no Python objects) — as typed Parquet
files (``DATE`` dates, ``BIGINT``/``DOUBLE`` numbers: what a warehouse export holds) or
as CSV text.

    uv run python benchmarks/scale_source.py --lines 10000000 [--format parquet|csv]

The folder is cached under ``$SOP_BENCH_DATA`` (default ``/tmp/sop-bench-data``), keyed
by the parameters; :func:`cached_scale_source` returns it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import refresh_peers as peers

#: Bump when the generated data changes (the cache is keyed by it).
SCALE_VERSION = 1
DATA = Path(os.environ.get("SOP_BENCH_DATA", "/tmp/sop-bench-data"))
#: tables write_source generates whose size does not depend on the number of lines
FIXED = ("items", "customers", "locations", "vendors", "gl_accounts", "posting_setup",
         "purchase_orders", "routings", "capacity", "inventory", "opportunities",
         "capacity_ledger")
SMALL_LINES = 10_000


def cached_scale_source(n_lines: int, fmt: str = "parquet", *, n_items: int = 2000,
                        n_months: int = 36, current: str = "2026-11") -> Path:
    """The folder of a generated source (generated once, then reused)."""
    key = f"l{n_lines}-i{n_items}-m{n_months}-c{current}-{fmt}-v{SCALE_VERSION}"
    folder = DATA / key
    if (folder / ".done").is_file():
        return folder
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=DATA, prefix="tmp-"))
    t = time.process_time(), time.perf_counter()
    write_scale_source(tmp, n_lines, fmt, n_items=n_items, n_months=n_months, current=current)
    (tmp / ".done").write_text("ok")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    print(f"source: generated {folder} in {time.perf_counter() - t[1]:.1f} s wall",
          file=sys.stderr)
    return folder


def write_scale_source(folder: Path, n_lines: int, fmt: str = "parquet", *,
                       n_items: int = 2000, n_months: int = 36,
                       current: str = "2026-11") -> None:
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    small = folder / "_small"
    peers.write_source(small, SMALL_LINES, n_items=n_items, n_months=n_months,
                       current=current)
    months = peers.history_periods(current, n_months)
    start = f"{months[0]}-01"
    span_days = int((__import__("numpy").datetime64(f"{current}-01")
                     - __import__("numpy").datetime64(start)).astype(int))
    con = duckdb.connect(":memory:")
    spill = tempfile.mkdtemp(prefix="sop-gen-", dir=folder)
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute("SET memory_limit = '2GB'")
    con.execute("SET preserve_insertion_order = true")

    def h(salt: int, mod: int, col: str = "i") -> str:
        return f"CAST(hash({col} * 7919 + {salt}) % {mod} AS BIGINT)"

    n = int(n_lines)
    con.execute(f"""
        CREATE TABLE lines AS
        SELECT i,
               'SO' || lpad(CAST(i // 4 AS VARCHAR), 8, '0') AS order_no,
               CAST(i % 4 + 1 AS BIGINT) AS line_no,
               'C' || lpad(CAST({h(1, 500)} AS VARCHAR), 4, '0') AS customer_no,
               'I' || lpad(CAST({h(2, n_items)} AS VARCHAR), 5, '0') AS item_no,
               ['MAIN', 'EAST', 'WEST'][{h(3, 3)} + 1] AS location_code,
               CAST(DATE '{start}' + CAST({h(4, span_days)} AS INTEGER) AS DATE) AS promised,
               CAST(1 + {h(7, 49)} AS BIGINT) AS quantity,
               round(15 + {h(8, 2500)} / 100.0, 2) AS unit_price,
               CAST({h(9, 11)} AS INTEGER) - 5 AS delay,
               {h(10, 5)} = 0 AS split,
               CAST(3 + {h(5, 27)} AS INTEGER) AS lead,
               CAST({h(6, 5)} AS INTEGER) AS req
        FROM range({n}) t(i)""")
    tables = {
        "sales_lines": """
            SELECT order_no, line_no, customer_no, item_no, location_code,
                   CAST(promised - lead AS DATE) AS order_date, promised AS promised_date,
                   CAST(promised - req AS DATE) AS requested_date, quantity, unit_price
            FROM lines ORDER BY i""",
        "sales_shipments": """
            SELECT 'SH' || lpad(CAST(row_number() OVER (ORDER BY k, i) - 1 AS VARCHAR), 9, '0')
                       AS shipment_no, CAST(1 AS BIGINT) AS line_no, order_no,
                   line_no AS order_line_no, shipment_date, quantity
            FROM (SELECT 0 AS k, i, order_no, line_no,
                         CAST(promised + delay AS DATE) AS shipment_date,
                         CASE WHEN split THEN quantity // 2 ELSE quantity END AS quantity
                  FROM lines
                  UNION ALL
                  SELECT 1, i, order_no, line_no, CAST(promised + 7 AS DATE),
                         quantity - quantity // 2
                  FROM lines WHERE split)
            ORDER BY k, i""",
        "sales_invoices": """
            SELECT 'IN' || lpad(CAST(i AS VARCHAR), 9, '0') AS invoice_no,
                   CAST(1 AS BIGINT) AS line_no, promised AS posting_date, customer_no,
                   item_no, location_code, quantity,
                   round(quantity * unit_price, 2) AS amount, quantity * 10.0 AS cost_amount
            FROM lines ORDER BY i""",
        "purchase_receipts": f"""
            SELECT 'R' || lpad(CAST(i AS VARCHAR), 8, '0') AS receipt_no,
                   CAST(1 AS BIGINT) AS line_no, 'V' || CAST(i % 20 AS VARCHAR) AS vendor_no,
                   'I' || lpad(CAST({h(11, n_items)} AS VARCHAR), 5, '0') AS item_no,
                   e AS expected_receipt_date,
                   CAST(e + CAST({h(12, 10)} AS INTEGER) - 4 AS DATE) AS receipt_date,
                   CAST(10 AS BIGINT) AS quantity,
                   'PUR' || lpad(CAST(i AS VARCHAR), 8, '0') AS order_no
            FROM (SELECT i, CAST(DATE '{start}' + CAST({h(13, span_days)} AS INTEGER) AS DATE)
                         AS e FROM range({max(1, n // 10)}) t(i))
            ORDER BY i""",
        "production_orders": f"""
            SELECT 'PO' || lpad(CAST(i AS VARCHAR), 8, '0') AS prod_order_no,
                   'I' || lpad(CAST(it AS VARCHAR), 5, '0') AS item_no, 'MAIN' AS location_code,
                   d AS due_date, CAST(p AS BIGINT) AS planned_quantity,
                   CAST(d + CAST({h(14, 6)} AS INTEGER) - 3 AS DATE) AS finished_date,
                   round(p * (0.8 + {h(15, 300)} / 1000.0)) AS finished_quantity,
                   'finished' AS status,
                   ['MACHINING', 'PAINTING', 'ASSEMBLY', 'PACKING'][it % 4 + 1] AS work_center
            FROM (SELECT i, {h(16, n_items)} AS it, 10 + {h(17, 490)} AS p,
                         CAST(DATE '{start}' + CAST({h(18, span_days)} AS INTEGER) AS DATE) AS d
                  FROM range({max(1, n // 20)}) t(i))
            ORDER BY i""",
    }
    scale = n / SMALL_LINES

    def small_csv(name: str) -> str:
        return f"read_csv('{small / (name + '.csv')}', header = true)"

    tables["sales_budget"] = (f"SELECT period, customer_no, item_no, location_code, "
                              f"round(quantity * {scale}) AS quantity, "
                              f"round(amount * {scale}, 2) AS amount "
                              f"FROM {small_csv('sales_budget')}")
    tables["gl_budget"] = (f"SELECT gl_account, period, round(amount * {scale}, -2) AS amount, "
                           f"budget_name FROM {small_csv('gl_budget')}")
    for name in FIXED:
        if (small / f"{name}.csv").stat().st_size > 0 and name != "capacity_ledger":
            tables[name] = f"SELECT * FROM {small_csv(name)}"
    for name, select in tables.items():
        target = folder / f"{name}.{fmt}"
        how = ("FORMAT parquet, COMPRESSION zstd" if fmt == "parquet"
               else "FORMAT csv, HEADER true, DATEFORMAT '%Y-%m-%d'")
        con.execute(f"COPY ({select}) TO '{target}' ({how})")
    if fmt == "csv":  # the text columns of the small tables as write_source wrote them
        for name in FIXED:
            if (small / f"{name}.csv").is_file():
                shutil.copyfile(small / f"{name}.csv", folder / f"{name}.csv")
    con.close()
    shutil.rmtree(small)
    shutil.rmtree(spill, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=float, default=1e6)
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    args = ap.parse_args()
    print(cached_scale_source(int(args.lines), args.format))


if __name__ == "__main__":
    main()
