"""A planner's year on one workbook (issue 15): 12 monthly cycles of ``sop refresh`` then
``sop roll-forward`` at 1,000,000 sales lines, each command in its own process.

The first refresh of the cycle starts from the empty template (the current period set on
Config, nothing else): it is the baseline every later command is compared with, measured
in the same run (`bench_refresh.py` measures only that first refresh). Every later
refresh reopens the workbook the previous roll forward saved — with its data sheets,
the review-stage tables (the 42,000-row demand plan …) and a plan history that grows by
one archived plan (items × locations × 12 periods) per roll — and so does every roll
forward. Commands keep their default backups (``WORKBOOK.bak1`` …), as a planner's do.

Per command: wall time, CPU time (user + system of the process) and peak RSS (from
``/usr/bin/time``), the ratios to the first refresh, and the workbook's size. Goals:
every refresh and every roll forward ≤ 1.2× the first refresh (CPU time: on a shared
machine wall time measures the neighbours too), peak RSS ≤ 1 GiB,
and no growth from cycle to cycle beyond what the plan history's rows bring (the fitted
slope per cycle is printed next to the history's growth).

The data arrive as a planner's do: one data set of ``--months + --cycles`` months is
generated (the generator of ``bench_refresh.py``, its line count scaled so that every
36-month window holds about ``--lines`` lines) and each cycle refreshes the extract an ERP
would give at the end of the month just closed — transactions dated up to its last day,
over a sliding window of ``--months`` months (so the row count stays about the same),
shipments and invoices of the lines in it, what finished or closed later still open. So
the workbook's last closed period and the data's last period agree every month, and every
refresh loads one new month of actuals. The extracts are written before any timing (and
cached under /tmp/sop_bench_refresh/).

    uv run python benchmarks/bench_cycles.py [--lines 1000000] [--items 2000]
        [--months 36] [--cycles 12] [--current 2026-11]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_refresh as br
import refresh_peers as peers

RATIO_GOAL, RSS_GOAL_MIB = 1.2, 1024.0


@dataclass
class Step:
    cycle: int
    command: str  # refresh | roll-forward
    run: br.Run
    size_mib: float


def _days(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_datetime(frame[column]).to_numpy(dtype="datetime64[D]")


def monthly_extract(frames: dict[str, pd.DataFrame], current: str,
                    months: int) -> dict[str, pd.DataFrame]:
    """What the ERP gives at the end of the month before ``current``: the ``months`` closed
    months before it (transactions dated up to the last day of the month just closed, from
    the first day of the window), what finished or closed after the cut still open."""
    start = np.datetime64(peers.history_periods(current, months)[0], "D")
    cut = np.datetime64(current, "M").astype("datetime64[D]") - np.timedelta64(1, "D")
    out = dict(frames)
    lines = frames["sales_lines"]
    promised, ordered = _days(lines, "promised_date"), _days(lines, "order_date")
    lines = lines[(promised >= start) & (ordered <= cut)]
    out["sales_lines"] = lines.reset_index(drop=True)
    keys = pd.MultiIndex.from_frame(lines[["order_no", "line_no"]])
    ships = frames["sales_shipments"]
    shipped = _days(ships, "shipment_date")
    of_line = pd.MultiIndex.from_frame(ships[["order_no", "order_line_no"]]).isin(keys)
    out["sales_shipments"] = ships[of_line & (shipped <= cut)].reset_index(drop=True)
    invoices = frames["sales_invoices"]
    posted = _days(invoices, "posting_date")
    out["sales_invoices"] = invoices[(posted >= start) & (posted <= cut)].reset_index(drop=True)
    receipts = frames["purchase_receipts"]
    received = _days(receipts, "receipt_date")
    out["purchase_receipts"] = receipts[(_days(receipts, "expected_receipt_date") >= start)
                                        & (received <= cut)].reset_index(drop=True)
    production = frames["production_orders"]
    production = production[(_days(production, "due_date") >= start)
                            & (_days(production, "due_date") <= cut)].copy()
    later = _days(production, "finished_date") > cut
    production.loc[later, "finished_date"] = pd.NaT
    production.loc[later, "finished_quantity"] = np.nan
    production.loc[later, "status"] = "released"
    out["production_orders"] = production.reset_index(drop=True)
    inventory = frames["inventory"]
    window = set(peers.history_periods(current, months))
    out["inventory"] = inventory[inventory["period"].isin(window)].reset_index(drop=True)
    opportunities = frames["opportunities"]
    expected = _days(opportunities, "expected_close_date")
    opportunities = opportunities[(expected >= start)
                                  & (expected <= cut + np.timedelta64(180, "D"))].copy()
    reopen = _days(opportunities, "close_date") > cut
    opportunities.loc[reopen, "status"] = "open"
    opportunities.loc[reopen, "close_date"] = pd.NaT
    out["opportunities"] = opportunities.reset_index(drop=True)
    return out


def monthly_sources(args) -> list[Path]:
    """One source folder per cycle (cached): the extract at the end of the month before
    that cycle's current period."""
    total = args.months + args.cycles
    lines = round(args.lines * total / args.months)
    last = peers._period(peers._month_index(args.current) + args.cycles)
    key = (f"i{args.items}-m{args.months}-l{args.lines}-c{args.current}-n{args.cycles}"
           f"-s{args.seed}-v{peers.GENERATOR_VERSION}")
    root = br.CACHE / f"monthly-{key}"
    currents = [peers._period(peers._month_index(args.current) + k)
                for k in range(args.cycles)]
    folders = [root / cur for cur in currents]
    if all((f / ".done").is_file() for f in folders):
        print(f"monthly extracts: cached {root}")
        return folders
    t = time.perf_counter()
    frames = peers.source_frames(lines, n_items=args.items, n_months=total, current=last,
                                 seed=args.seed)
    for cur, folder in zip(currents, folders, strict=True):
        if (folder / ".done").is_file():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        extract = monthly_extract(frames, cur, args.months)
        peers.write_frames(folder, extract)
        (folder / ".done").write_text(f"{len(extract['sales_lines'])}")
        print(f"  extract for {cur}: {len(extract['sales_lines']):,} sales lines "
              f"({time.perf_counter() - t:.0f} s)", flush=True)
    print(f"monthly extracts: generated {root} in {time.perf_counter() - t:.0f} s")
    return folders


def run_step(args, cycle: int, command: str, workbook: Path, src: Path) -> Step:
    if command in ("refresh", "template"):
        cmd = [sys.executable, "-m", "sop_workbook", "refresh", str(workbook), "--source",
               str(src)]
    else:
        cmd = [sys.executable, "-m", "sop_workbook", "roll-forward", str(workbook)]
    run = br.measure(cmd, timeout=args.timeout)
    step = Step(cycle, command, run, workbook.stat().st_size / 2**20)
    print(f"  cycle {cycle:2d} {command:12s} {br.describe(run)}, file {step.size_mib:,.1f} MiB",
          flush=True)
    if run.rc != 0:
        print(run.stderr[-3000:])
        raise SystemExit(f"{command} failed in cycle {cycle}")
    return step


def check(workbook: Path, cycles: int, start: str) -> list[str]:
    """The workbook after the year: the current period advanced once per roll and the
    plan history holding one archived plan per roll (read headless, untimed)."""
    from sop_workbook.periods import format_period, parse_period
    from sop_workbook.workbook.headless import HeadlessWorkbook

    book = HeadlessWorkbook(workbook)
    history = book.read_table("plan_history")
    current = str(book.get_value("cfg_current_period"))
    want = format_period(parse_period(start) + cycles)
    snaps = history["snapshot_period"].astype(str).value_counts().sort_index()
    sizes = set(snaps.tolist())
    lines = [f"current period after {cycles} rolls: {current} (expected {want}): "
             f"{'ok' if current == want else 'WRONG'}",
             f"plan history: {len(history):,} rows, {len(snaps)} archived plans of "
             f"{', '.join(f'{s:,}' for s in sorted(sizes))} rows: "
             f"{'ok' if len(snaps) == cycles and len(sizes) == 1 else 'WRONG'}"]
    return lines


def slope(values: list[float]) -> float:
    """Least-squares growth per cycle."""
    if len(values) < 2:
        return 0.0
    x = np.arange(len(values), dtype=float)
    return float(np.polyfit(x, np.asarray(values, dtype=float), 1)[0])


def report(steps: list[Step], args) -> bool:
    first = steps[0].run
    print(f"\n### A planner's year — {args.cycles} monthly cycles on one workbook, "
          f"{args.items:,} items × {args.months} months, {args.lines:,} sales lines\n")
    print(f"machine: {br.machine()}\n")
    print("| cycle | command | wall s | CPU s | peak RSS MiB | ÷ first refresh (wall) "
          "| ÷ first refresh (CPU) | file MiB | load avg |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in steps:
        r = s.run
        print(f"| {s.cycle} | {s.command} | {r.wall:.2f} | {r.cpu:.2f} | {r.rss_mib:,.0f} | "
              f"{r.wall / first.wall:.2f}× | {r.cpu / first.cpu:.2f}× | {s.size_mib:,.1f} | "
              f"{r.load:.1f} |")
    templates = {s.cycle: s for s in steps if s.command == "template"}
    templates.setdefault(1, steps[0])
    refreshes = [s for s in steps if s.command == "refresh"]
    rolls = [s for s in steps if s.command == "roll-forward"]
    repeat = refreshes[1:]
    worst_refresh = max((s.run.wall / first.wall for s in repeat), default=float("nan"))
    worst_roll = max(s.run.wall / first.wall for s in rolls)
    worst_cpu = max(s.run.cpu / first.cpu for s in steps[1:] if s.command != "template")
    rss = max(s.run.rss_mib for s in steps)
    cycle_totals = [(a.run.wall + b.run.wall) / first.wall
                    for a, b in zip(refreshes, rolls, strict=True)]
    grow_refresh = slope([s.run.cpu for s in repeat])
    grow_roll = slope([s.run.cpu for s in rolls])
    grow_rss = slope([s.run.rss_mib for s in repeat])
    grow_size = slope([s.size_mib for s in rolls])
    print()
    cpu_refresh = max((s.run.cpu / first.cpu for s in repeat), default=float("nan"))
    cpu_roll = max(s.run.cpu / first.cpu for s in rolls)
    goals = [
        (f"every repeat refresh ≤ {RATIO_GOAL}× the first (CPU)", f"worst {cpu_refresh:.2f}×",
         cpu_refresh <= RATIO_GOAL),
        (f"every roll forward ≤ {RATIO_GOAL}× the first refresh (CPU)",
         f"worst {cpu_roll:.2f}×", cpu_roll <= RATIO_GOAL),
        ("peak RSS ≤ 1 GiB (every command)", f"{rss:,.0f} MiB", rss <= RSS_GOAL_MIB),
    ]
    print("| goal | measured | met |\n|---|---:|---|")
    for name, value, met in goals:
        print(f"| {name} | {value} | {'yes' if met else 'NO'} |")
    if len(templates) > 1:
        print("\nside by side (CPU ÷ the empty template refreshed in the same cycle, same "
              "extract): " + "; ".join(
                  f"cycle {s.cycle}: refresh {s.run.cpu / templates[s.cycle].run.cpu:.2f}×"
                  + "".join(f", roll {r.run.cpu / templates[s.cycle].run.cpu:.2f}×"
                            for r in rolls if r.cycle == s.cycle)
                  for s in refreshes if s.cycle in templates))
    print(f"\nworst CPU ratio of any later command to the first refresh: {worst_cpu:.2f}×; "
          f"wall (inflated by the machine's load): repeat refresh {worst_refresh:.2f}×, roll "
          f"forward {worst_roll:.2f}×")
    print("refresh + roll forward of a cycle ÷ first refresh (wall): "
          + ", ".join(f"{x:.2f}×" for x in cycle_totals))
    print(f"growth per cycle (least squares, CPU): repeat refresh {grow_refresh:+.2f} s, roll "
          f"forward {grow_roll:+.2f} s, refresh peak RSS {grow_rss:+.1f} MiB, file "
          f"{grow_size:+.1f} MiB — the plan history grows by one archived plan per roll")
    return all(met for _, _, met in goals)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--cycles", type=int, default=12)
    ap.add_argument("--current", default="2026-11",
                    help="the workbook's first current period (history ends the month before)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=3600, help="per command, s")
    ap.add_argument("--keep", action="store_true", help="keep the run folder")
    ap.add_argument("--side-by-side", action="store_true",
                    help="each cycle also refresh an empty template (that cycle's period "
                         "and extract) right before the workbook: a baseline under the "
                         "same machine load")
    args = ap.parse_args()

    print(f"machine: {br.machine()}")
    print(f"size: {args.items:,} items × {args.months} months, {args.lines:,} sales lines; "
          f"{args.cycles} cycles from {args.current}")
    sources = monthly_sources(args)
    br.byte_compile()
    br.CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=br.CACHE, prefix="cycles-"))
    t = time.perf_counter()
    try:
        base, _ = br.prepared_workbook(work, args.current)
        workbook = work / "planner.xlsm"
        shutil.copyfile(base, workbook)
        steps = []
        for cycle in range(1, args.cycles + 1):
            src = sources[cycle - 1]
            if args.side_by_side and cycle > 1:
                fresh, _ = br.prepared_workbook(
                    work, peers._period(peers._month_index(args.current) + cycle - 1))
                steps.append(run_step(args, cycle, "template", fresh, src))
            steps.append(run_step(args, cycle, "refresh", workbook, src))
            steps.append(run_step(args, cycle, "roll-forward", workbook, src))
            if args.keep:  # the workbook each refresh of the next cycle starts from
                shutil.copyfile(workbook, work / f"after-cycle-{cycle:02d}.xlsm")
        print(f"\n{args.cycles} cycles in {time.perf_counter() - t:.0f} s; load average now "
              f"{os.getloadavg()[0]:.1f}")
        for line in check(workbook, args.cycles, args.current):
            print(line)
        ok = report(steps, args)
        print("\nall goals met" if ok else "\nsome goals NOT met")
    finally:
        if args.keep:
            print(f"run folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
