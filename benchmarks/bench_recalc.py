"""Headless recalculation benchmark: every KPI (UDF) cell of the demo workbook.

Builds the demo workbook (demo data → template → refresh), then times, best of N:
- ``recalc``: evaluating every UDF cell in Python (argument resolution + UDF calls) — the
  Python time Excel would spend on a full recalculation of the KPI cells;
- ``load`` / ``save``: openpyxl reading and writing the file (headless only);
- baseline, same run: the KPI engine computing the same figures straight from the facts.
Goal: recalc under 1 s.

    uv run python benchmarks/bench_recalc.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from sop_workbook import demo_data, kpi
from sop_workbook.actions import refresh
from sop_workbook.loader import load_source
from sop_workbook.workbook.headless import HeadlessWorkbook

ROOT = Path(__file__).resolve().parents[1]


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo_data.write(tmp / "data")
        path = tmp / "wb.xlsm"
        shutil.copy(ROOT / "SOP_Template.xlsm", path)
        book = HeadlessWorkbook(path)
        refresh(book, str(tmp / "data"))
        book.save(backups=0)
        data = load_source(tmp / "data")
        facts = kpi.build_facts(data)

        t_load = best(lambda: HeadlessWorkbook(path), args.repeat)
        book = HeadlessWorkbook(path)
        cells = book.recalculate()

        def recalc():
            from sop_workbook.kpi import cell_tables

            cell_tables._CACHE.clear()
            cell_tables._BY_IDENTITY.clear()
            HeadlessWorkbook.recalculate(book)

        t_recalc = best(recalc, args.repeat)
        t_save = best(book.to_bytes, args.repeat)
        periods = ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]

        def engine():
            for p in periods:
                kpi.sales_otd(facts, p), kpi.fill_rate(facts, p)
                kpi.fill_rate(facts, p, level="unit"), kpi.vendor_otd(facts, p)
                kpi.schedule_attainment(facts, p), kpi.inventory_turns(facts, p)
                kpi.days_of_supply(facts, p), kpi.forecast_error(facts, p)
                kpi.tracking_signal(facts, p), kpi.close_ratio(facts, p)
                kpi.commit_vs_closed(facts, p)

        t_engine = best(engine, args.repeat)
    print(f"demo workbook: {cells} UDF cells")
    print(f"{'step':<34}{'seconds':>10}")
    print(f"{'recalc (all UDF cells, Python)':<34}{t_recalc:>10.3f}   goal < 1 s")
    print(f"{'engine, same KPIs from facts':<34}{t_engine:>10.3f}   ratio recalc/engine "
          f"{t_recalc / t_engine:.1f}×")
    print(f"{'load workbook (openpyxl)':<34}{t_load:>10.3f}")
    print(f"{'save workbook (openpyxl + values)':<34}{t_save:>10.3f}")


if __name__ == "__main__":
    main()
