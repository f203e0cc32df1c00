"""Refresh benchmark (issue 9): 2,000 items × 36 months, 1,000,000 sales lines, headless.

Times ``sop refresh`` end to end (load + validate the CSV source, aggregates, review
stages, write and save the workbook) in its own process, and in the same run, on the same
data, two peers a user could pick instead:

- **naive pandas**: the same KPI numerators/denominators per period × item × location
  (sales OTD, fill rate line/unit, invoiced qty/amount/COGS, budget, forecast abs error,
  inventory), per period × vendor (vendor OTD) and per period × item × location (schedule
  attainment), written as merges then ``groupby(...).apply`` with Python per group
  (``refresh_peers.naive_pandas``), from the same CSV files, in its own process;
- **LibreOffice Calc headless**: the workbook a planner would build by hand — sheet
  ``lines`` (one row per sales order line, pre-joined to its on-time shipped quantity,
  filled flag, invoiced amount and cost) and sheet ``kpis`` with native COUNTIFS/SUMIFS
  per period and, for the last closed period, per item — loaded, recalculated (forced by
  ``OOXMLRecalcMode = 0`` in a fresh profile) and saved by ``soffice --convert-to xlsx``.

Wall time and peak RSS of each process come from ``/usr/bin/time`` (its child's
``ru_maxrss``: the largest process of the tree, e.g. ``soffice.bin``). Each peer's figures
are checked against the refreshed workbook's ``agg_sales``/``agg_vendor``/``agg_production``
tables and the result (agree/DISAGREE) is printed — a ratio between different
computations would be worthless. Goals: refresh ≤ 10 s, peak RSS ≤ 1 GiB, ≥ 5× faster than
the LibreOffice formulas.

    uv run python benchmarks/bench_refresh.py [--lines 1000000] [--items 2000]
        [--months 36] [--repeat 1] [--skip-libreoffice] [--skip-pandas]

The generated source (and the planner's workbook) are cached under
/tmp/sop_bench_refresh/, keyed by the parameters.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import refresh_peers as peers

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.gettempdir()) / "sop_bench_refresh"
LO_PROFILE = Path(tempfile.gettempdir()) / "lo_bench_profile"
TIME = "/usr/bin/time"
GOAL_WALL_S, GOAL_RSS_MIB, GOAL_LO_RATIO = 10.0, 1024.0, 5.0
RECALC_ALWAYS_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" \
oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" \
oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


@dataclass
class Run:
    wall: float
    rss_mib: float
    rc: int
    stderr: str = ""
    cpu: float = float("nan")  # user + system CPU seconds of the process tree
    load: float = float("nan")  # 1-minute load average when the run started

    @property
    def error(self) -> str:
        tail = [x for x in self.stderr.strip().splitlines() if x.strip()]
        return tail[-1][:120] if tail else f"exit code {self.rc}"


@dataclass
class Result:
    name: str
    runs: list[Run] = field(default_factory=list)
    check: str = "not checked"
    note: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.rc == 0 for r in self.runs)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.rss_mib for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def load(self) -> float:
        return max(r.load for r in self.runs)


# --------------------------------------------------------------------------- measuring


def measure(cmd: list[str], *, timeout: float | None = None, env: dict | None = None,
            cwd: Path | None = None) -> Run:
    """Run ``cmd`` in its own process; wall time (perf_counter around it) and peak RSS
    (``ru_maxrss`` reported by /usr/bin/time, or by a small Python launcher)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss", delete=False) as fh:
        rss_file = fh.name
    if os.access(TIME, os.X_OK):
        full = [TIME, "-f", "%M %U %S", "-o", rss_file, *cmd]
    else:  # the launcher is small, so its children's ru_maxrss is the command's own
        launcher = ("import resource,subprocess,sys;rc=subprocess.call(sys.argv[2:]);"
                    "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
                    "open(sys.argv[1],'w').write(f'{u.ru_maxrss} {u.ru_utime} {u.ru_stime}');"
                    "sys.exit(rc)")
        full = [sys.executable, "-c", launcher, rss_file, *cmd]
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=cwd, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        os.unlink(rss_file)
        return Run(time.perf_counter() - t, float("nan"), -9, f"timeout after {timeout} s",
                   load=load)
    wall = time.perf_counter() - t
    rss = cpu = float("nan")
    try:  # /usr/bin/time may prefix "Command exited with non-zero status N"
        fields = Path(rss_file).read_text().strip().splitlines()[-1].split()
        rss, cpu = int(fields[0]) / 1024, float(fields[1]) + float(fields[2])
    except (IndexError, ValueError):
        pass
    finally:
        os.unlink(rss_file)
    return Run(wall, rss, proc.returncode, err or "", cpu, load)


def describe(run: Run) -> str:
    text = (f"{run.wall:.2f} s wall, {run.cpu:.2f} s CPU, peak RSS {run.rss_mib:,.0f} MiB "
            f"(load avg {run.load:.1f}), exit {run.rc}")
    return text if run.rc == 0 else f"{text}: {run.error}"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines()
                      if x.startswith("MemTotal"))
        ram = f"{mem_kb / 1024 ** 2:.0f} GiB RAM"
    except (OSError, StopIteration):
        ram = "RAM unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, {ram}, Python {sys.version.split()[0]}"


# --------------------------------------------------------------------------- data


def cached_source(args) -> Path:
    key = (f"i{args.items}-m{args.months}-l{args.lines}-c{args.current}-s{args.seed}"
           f"-v{peers.GENERATOR_VERSION}")
    folder = CACHE / f"src-{key}"
    if (folder / ".done").is_file():
        print(f"source: cached {folder}")
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=CACHE, prefix="tmp-src-"))
    t = time.perf_counter()
    peers.write_source(tmp, args.lines, n_items=args.items, n_months=args.months,
                       current=args.current, seed=args.seed)
    (tmp / ".done").write_text("ok")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    print(f"source: generated {folder} in {time.perf_counter() - t:.1f} s")
    return folder


def prepared_workbook(work: Path, current: str) -> tuple[Path, dict]:
    """The template copy with the current period set (before any timing), and the KPI
    options of its Config sheet (the peers use the same)."""
    from sop_workbook.workbook.headless import HeadlessWorkbook

    base = work / "base.xlsm"
    for attempt in range(5):  # the template may be being rebuilt (sop build-template)
        shutil.copyfile(ROOT / "SOP_Template.xlsm", base)
        try:
            book = HeadlessWorkbook(base)
            break
        except Exception:
            if attempt == 4:
                raise
            time.sleep(5)
    book.set_value("cfg_current_period", current)
    book.save(backups=0)

    def get(name):
        try:
            return book.get_value(name)
        except Exception:  # an option missing from the template: default
            return None

    options = {"tolerance": get("cfg_tolerance_days"), "fill_basis": get("cfg_fill_basis"),
               "days_early": get("cfg_days_early"), "days_late": get("cfg_days_late")}
    return base, options


def read_aggregates(path: Path) -> dict[str, pd.DataFrame]:
    from sop_workbook.workbook.headless import HeadlessWorkbook

    book = HeadlessWorkbook(path)
    out = {}
    for name in ("agg_sales", "agg_vendor", "agg_production"):
        frame = book.read_table(name).dropna(how="all")
        for col in frame.columns:
            if col not in ("period", "item_no", "category", "location_code", "vendor_no",
                           "work_center"):
                frame[col] = pd.to_numeric(frame[col], errors="coerce").fillna(0.0)
        frame["period"] = frame["period"].astype(str)
        out[name] = frame
    return out


# --------------------------------------------------------------------------- checks


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def compare_pandas(ours: dict[str, pd.DataFrame], theirs: dict[str, pd.DataFrame],
                   period: str) -> tuple[bool, list[str]]:
    """Totals of every column for ``period`` (printed), and per-period totals for all
    periods (counted), of agg_sales / agg_vendor / agg_production vs the pandas peer."""
    lines, ok_all = [], True
    for table in ("agg_sales", "agg_vendor", "agg_production"):
        a, b = ours[table], theirs[table].copy()
        b["period"] = b["period"].astype(str)
        cols = [c for c in b.columns if c in a.columns and c not in (
            "period", "item_no", "location_code", "vendor_no", "category", "work_center")]
        sa = a.groupby("period")[cols].sum()
        sb = b.groupby("period")[cols].sum()
        sa, sb = sa.align(sb, join="outer", fill_value=0.0)
        bad = [(p, c) for p in sa.index for c in cols if not close(sa.at[p, c], sb.at[p, c])]
        # the finest grain too: every cell of the period
        grain = [c for c in ("item_no", "location_code", "vendor_no") if c in b.columns]
        ca = a[a["period"] == period].groupby(grain)[cols].sum()
        cb = b[b["period"] == period].groupby(grain)[cols].sum()
        ca, cb = ca.align(cb, join="outer", fill_value=0.0)
        cell_bad = int((~np.isclose(ca.to_numpy(), cb.to_numpy(), rtol=1e-6, atol=1e-6))
                       .any(axis=1).sum())
        ok = not bad and cell_bad == 0
        ok_all &= ok
        shown = ", ".join(f"{c}={sa.at[period, c]:,.2f}/{sb.at[period, c]:,.2f}"
                          for c in cols) if period in sa.index else "(period absent)"
        lines.append(f"  {table} {period} (refresh/pandas): {shown}")
        lines.append(f"  {table}: {'agree' if ok else 'DISAGREE'} — {len(bad)} period×column "
                     f"totals differ over {len(sa)} periods; {cell_bad} of {len(ca)} "
                     f"{'×'.join(grain)} cells of {period} differ")
    return ok_all, lines


def compare_libreoffice(ours: pd.DataFrame, out_xlsx: Path, periods: list[str],
                        items: list[str], item_period: str) -> tuple[bool, list[str]]:
    """The kpis sheet LibreOffice computed vs the refresh's agg_sales."""
    from openpyxl import load_workbook

    wb = load_workbook(out_xlsx, read_only=True, data_only=True)
    ws = wb["kpis"]
    n = max(len(periods), len(items)) + 1
    rows = [list(r) for r in ws.iter_rows(min_row=1, max_row=n, max_col=15, values_only=True)]
    wb.close()
    head = rows[0]
    if head[: len(peers.PERIOD_HEADERS)] != peers.PERIOD_HEADERS:
        return False, [f"  kpis sheet header unexpected: {head}"]
    by_period = ours.groupby("period")[["fill_lines_due", "fill_lines_filled", "fill_qty_due",
                                        "fill_qty_on_time", "invoiced_amount", "cogs"]].sum()
    bad, lines = [], []

    def num(v):
        return float(v) if isinstance(v, (int, float)) else float("nan")

    for i, p in enumerate(periods):
        r = rows[i + 1]
        exp = by_period.loc[p] if p in by_period.index else pd.Series(0.0, by_period.columns)
        due, filled = exp["fill_lines_due"], exp["fill_lines_filled"]
        pairs = {"lines_due": (num(r[1]), due), "lines_filled": (num(r[2]), filled),
                 "fill_rate_line": (num(r[3]), filled / due if due else float("nan")),
                 "qty_due": (num(r[4]), exp["fill_qty_due"]),
                 "qty_on_time": (num(r[5]), exp["fill_qty_on_time"]),
                 "fill_rate_unit": (num(r[6]), exp["fill_qty_on_time"] / exp["fill_qty_due"]
                                    if exp["fill_qty_due"] else float("nan")),
                 "invoiced_amount": (num(r[7]), exp["invoiced_amount"]),
                 "cogs": (num(r[8]), exp["cogs"])}
        bad += [(p, k) for k, (lo, us) in pairs.items() if not close(lo, us)]
        if p == item_period:
            lines.append("  period " + p + " (LibreOffice/refresh): " + ", ".join(
                f"{k}={lo:,.4f}/{us:,.4f}" for k, (lo, us) in pairs.items()))
    cut = ours[ours["period"] == item_period].groupby("item_no")[
        ["fill_lines_due", "fill_lines_filled", "invoiced_amount"]].sum()
    item_bad = 0
    for i, item in enumerate(items):
        r = rows[i + 1]
        exp = cut.loc[item] if item in cut.index else pd.Series(0.0, cut.columns)
        due = exp["fill_lines_due"]
        got = [num(r[11]), num(r[12]), num(r[14])]
        want = [due, exp["fill_lines_filled"], exp["invoiced_amount"]]
        rate, want_rate = num(r[13]), (exp["fill_lines_filled"] / due if due else None)
        rate_ok = (np.isnan(rate) if want_rate is None else close(rate, want_rate))
        same = all(close(g, w) for g, w in zip(got, want, strict=True))
        if str(r[10]) != item or not same or not rate_ok:
            item_bad += 1
    ok = not bad and item_bad == 0
    lines.append(f"  LibreOffice: {'agree' if ok else 'DISAGREE'} — {len(bad)} of "
                 f"{len(periods) * 8} period figures and {item_bad} of {len(items)} item rows "
                 f"({item_period}) differ from the refresh's agg_sales")
    if bad:
        lines.append(f"  first differences: {bad[:5]}")
    return ok, lines


# --------------------------------------------------------------------------- peers


def byte_compile() -> None:
    """Byte-compile the project's own modules, as an installed package is (pip and
    ``uv sync`` with ``compile-bytecode`` do it for the dependencies): a machine that sets
    PYTHONDONTWRITEBYTECODE would otherwise recompile them in every timed run."""
    import compileall

    for folder in ("sop_workbook", "udfs", "macros"):
        if (ROOT / folder).is_dir():
            compileall.compile_dir(str(ROOT / folder), quiet=1)


def run_refresh(args, base: Path, src: Path, work: Path) -> tuple[Result, Path]:
    res = Result("refresh (ours, `sop refresh` end to end)")
    last = None
    for i in range(args.repeat):
        wb = work / f"refresh_{i}.xlsm"
        shutil.copyfile(base, wb)
        run = measure([sys.executable, "-m", "sop_workbook", "refresh", str(wb), "--source",
                       str(src), "--backups", "0"], timeout=args.timeout)
        res.runs.append(run)
        print(f"  refresh run {i + 1}: {describe(run)}")
        if run.rc != 0:
            print(run.stderr[-3000:])
            break
        last = wb
    return res, last


def run_pandas(args, src: Path, work: Path, options: dict) -> tuple[Result, dict | None]:
    res = Result("naive pandas (groupby/apply)")
    out = work / "pandas.pkl"
    cmd = [sys.executable, str(Path(__file__).with_name("refresh_peers.py")), "pandas",
           "--source", str(src), "--out", str(out)]
    if options.get("tolerance") not in (None, ""):
        cmd += ["--tolerance", str(int(float(options["tolerance"])))]
    if options.get("days_early") not in (None, ""):
        cmd += ["--days-early", str(int(float(options["days_early"])))]
    if options.get("days_late") not in (None, ""):
        cmd += ["--days-late", str(int(float(options["days_late"])))]
    run = measure(cmd, timeout=args.timeout)
    res.runs.append(run)
    print(f"  naive pandas: {describe(run)}")
    if run.rc != 0:
        print(run.stderr[-3000:])
        return res, None
    with open(out, "rb") as fh:
        return res, pickle.load(fh)


def lo_profile() -> str:
    """A fresh LibreOffice user profile that recalculates every formula on load."""
    shutil.rmtree(LO_PROFILE, ignore_errors=True)
    (LO_PROFILE / "user").mkdir(parents=True)
    (LO_PROFILE / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS_XCU)
    return LO_PROFILE.as_uri()


def planner_workbook(args, src: Path, periods: list[str], item_period: str) -> Path:
    key = src.name.removeprefix("src-")
    path = CACHE / f"planner-{key}.xlsx"
    if path.is_file():
        print(f"  planner workbook: cached {path}")
        return path
    t = time.perf_counter()
    export = peers.erp_export(src)
    items = pd.read_csv(src / "items.csv")["item_no"].astype(str).tolist()
    tmp = path.with_suffix(".tmp.xlsx")
    peers.write_planner_workbook(tmp, export, [int(p.replace("-", "")) for p in periods],
                                 items, int(item_period.replace("-", "")))
    tmp.rename(path)
    print(f"  planner workbook written ({len(export):,} lines, openpyxl write-only) in "
          f"{time.perf_counter() - t:.1f} s: {path}")
    return path


def run_libreoffice(args, src: Path, work: Path, periods: list[str],
                    item_period: str) -> tuple[Result, Path | None]:
    res = Result("LibreOffice Calc headless (SUMIFS/COUNTIFS: load + recalc + save)")
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        res.note = "soffice not found"
        return res, None
    xlsx = planner_workbook(args, src, periods, item_period)
    profile = lo_profile()
    env = {**os.environ, "HOME": str(work)}
    base = [soffice, "--headless", "--norestore", "--nologo", f"-env:UserInstallation={profile}"]
    # untimed warm-up: the first start of a fresh profile creates it
    tiny = work / "tiny.xlsx"
    from openpyxl import Workbook
    wb = Workbook()
    wb.active["A1"], wb.active["A2"] = 1, "=A1*2"
    wb.save(tiny)
    warm = measure([*base, "--convert-to", "xlsx", "--outdir", str(work / "lo_tiny"),
                    str(tiny)], timeout=300, env=env)
    print(f"  LibreOffice warm-up (profile creation, tiny file): {describe(warm)}")
    warm2 = measure([*base, "--convert-to", "xlsx", "--outdir", str(work / "lo_tiny"),
                     str(tiny)], timeout=300, env=env)
    res.note = f"LibreOffice start + tiny file alone: {warm2.wall:.1f} s"
    print(f"  {res.note}")
    outdir = work / "lo_out"
    run = measure([*base, "--convert-to", "xlsx", "--outdir", str(outdir), str(xlsx)],
                  timeout=args.lo_timeout, env=env)
    res.runs.append(run)
    print(f"  LibreOffice: {describe(run)}")
    out = outdir / xlsx.name
    if run.rc != 0 or not out.is_file():
        print(run.stderr[-3000:])
        res.runs[-1].rc = run.rc or 1
        return res, None
    return res, out


# --------------------------------------------------------------------------- report


def table(results: list[Result], ours: Result, args) -> str:
    out = ["| run | wall s | CPU s | peak RSS MiB | ÷ ours (wall) | ÷ ours (CPU) | load avg "
           "| figures vs refresh |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if not r.runs:
            out.append(f"| {r.name} | skipped | | | | | | {r.note} |")
            continue
        if not r.ok:
            out.append(f"| {r.name} | failed: {r.runs[-1].error} | | | | | | |")
            continue
        mine = r is ours or not ours.ok
        ratio = "" if mine else f"{r.wall / ours.wall:.1f}×"
        cpu_ratio = "" if mine else f"{r.cpu / ours.cpu:.1f}×"
        rss = f"{r.rss:,.0f}" if r.rss == r.rss else "?"
        out.append(f"| {r.name} | {r.wall:.2f} | {r.cpu:.2f} | {rss} | {ratio} | {cpu_ratio} "
                   f"| {r.load:.1f} | {r.check} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--current", default="2026-11",
                    help="the workbook's current period (history ends the month before)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="refresh runs (median wall time)")
    ap.add_argument("--skip-libreoffice", action="store_true")
    ap.add_argument("--skip-pandas", action="store_true")
    ap.add_argument("--timeout", type=float, default=3600, help="per refresh/pandas run, s")
    ap.add_argument("--lo-timeout", type=float, default=5400, help="LibreOffice run, s")
    ap.add_argument("--keep", action="store_true", help="keep the run folder")
    args = ap.parse_args()

    periods = peers.history_periods(args.current, args.months)
    last_closed = periods[-1]
    print(f"machine: {machine()}")
    print(f"size: {args.items:,} items × {args.months} months ({periods[0]}..{last_closed}), "
          f"{args.lines:,} sales lines; current period {args.current}")
    src = cached_source(args)
    byte_compile()
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=CACHE, prefix="run-"))
    try:
        base, options = prepared_workbook(work, args.current)
        print(f"KPI options from Config: {options}")
        if str(options.get("fill_basis") or "promised").lower() != "promised":
            print("warning: the peers assume fill basis 'promised'")

        print("refresh:")
        ours, refreshed = run_refresh(args, base, src, work)
        results = [ours]
        agg = None
        if refreshed is not None:
            t = time.perf_counter()
            agg = read_aggregates(refreshed)
            print(f"  read back agg_sales ({len(agg['agg_sales']):,} rows) in "
                  f"{time.perf_counter() - t:.1f} s")
            ours.check = "(reference)"

        if args.skip_libreoffice:
            results.append(Result("LibreOffice Calc headless", note="--skip-libreoffice"))
        else:
            print("LibreOffice peer:")
            res, out = run_libreoffice(args, src, work, periods, last_closed)
            if out is not None and agg is not None:
                items = pd.read_csv(src / "items.csv")["item_no"].astype(str).tolist()
                ok, lines = compare_libreoffice(agg["agg_sales"], out, periods, items,
                                                last_closed)
                print("\n".join(lines))
                res.check = (f"agree ({len(periods)} periods × 8, {len(items)} items)" if ok
                             else "DISAGREE")
            results.append(res)

        if args.skip_pandas:
            results.append(Result("naive pandas (groupby/apply)", note="--skip-pandas"))
        else:
            print("naive pandas peer:")
            res, theirs = run_pandas(args, src, work, options)
            if theirs is not None and agg is not None:
                ok, lines = compare_pandas(agg, theirs, last_closed)
                print("\n".join(lines))
                res.check = ("agree (all periods, every cell of " + last_closed + ")"
                             if ok else "DISAGREE")
            results.append(res)

        print(f"\n### Refresh benchmark — {args.items:,} items × {args.months} months, "
              f"{args.lines:,} sales lines\n")
        print(f"machine: {machine()}\n")
        print(table(results, ours, args))
        lo = next(r for r in results if r.name.startswith("LibreOffice"))
        print()
        if ours.ok:
            lo_ratio = lo.wall / ours.wall if lo.ok else None
            goals = [("end-to-end refresh ≤ 10 s", f"{ours.wall:.2f} s",
                      ours.wall <= GOAL_WALL_S),
                     ("peak RSS ≤ 1 GiB", f"{ours.rss:,.0f} MiB", ours.rss <= GOAL_RSS_MIB),
                     ("≥ 5× faster than LibreOffice formulas",
                      f"{lo_ratio:.1f}×" if lo_ratio else "not measured",
                      None if lo_ratio is None else lo_ratio >= GOAL_LO_RATIO)]
            print("| goal | measured | met |\n|---|---:|---|")
            for name, value, met in goals:
                print(f"| {name} | {value} | {'n/a' if met is None else 'yes' if met else 'NO'} |")
        else:
            print("refresh failed: no goals evaluated")
        if lo.note:
            print(f"\n{lo.note}")
        if args.repeat > 1 and ours.runs:
            print("refresh runs (s): " + ", ".join(f"{r.wall:.2f}" for r in ours.runs))
    finally:
        if args.keep:
            print(f"run folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
