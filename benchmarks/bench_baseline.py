"""Statistical baseline at workbook scale: vectorised over all series vs one at a time.

2,000 item × location series × 36 months, a third each smooth, seasonal and intermittent.
Times :func:`sop_workbook.review.demand_plan.statistical_baseline` (long table in → long
table out, the way refresh calls it) and the bare
:func:`sop_workbook.review.forecasting.select_and_forecast` on the array (wall and CPU
time, best of ``--repeat``), against the same function called
once per series in a Python loop (the per-series loop the vectorised code avoids; timed
on ``--loop-items`` series and scaled to all), checks
that both give the same models and forecasts, and prints the times and the ratio. The
goal: ≤ 1 s for the whole baseline on 2 cores.

    uv run python benchmarks/bench_baseline.py [--items 2000] [--months 36] [--save y.npy]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from sop_workbook.review import forecasting as fc
from sop_workbook.review.demand_plan import statistical_baseline

CURRENT = "2026-11"


def synthetic(items: int = 2000, months: int = 36, seed: int = 7) -> np.ndarray:
    """Integer monthly demand: rows 0, 3, 6 … smooth (level + noise, slight trend), 1, 4 …
    seasonal (level × yearly shape + noise), 2, 5 … intermittent (demand in ~30 % of months,
    Poisson sizes)."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    level = rng.uniform(20, 200, items)[:, None]
    smooth = level * (1 + rng.uniform(-0.01, 0.01, items)[:, None] * t) \
        + rng.normal(0, 1, (items, months)) * level * 0.15
    shape = 1 + 0.5 * np.sin(2 * np.pi * (t[None, :] + rng.integers(0, 12, items)[:, None]) / 12)
    seasonal = level * shape + rng.normal(0, 1, (items, months)) * level * 0.1
    sparse = (rng.random((items, months)) < 0.3) * rng.poisson(8, (items, months))
    kind = np.arange(items) % 3
    y = np.where(kind[:, None] == 0, smooth, np.where(kind[:, None] == 1, seasonal, sparse))
    return np.maximum(np.round(y), 0)


def long_history(y: np.ndarray) -> pd.DataFrame:
    items, months = y.shape
    periods = pd.period_range(end=pd.Period(CURRENT, "M") - 1, periods=months,
                              freq="M").strftime("%Y-%m")
    return pd.DataFrame({
        "item_no": np.repeat([f"I{i:05d}" for i in range(items)], months),
        "location_code": "MAIN",
        "period": np.tile(periods, items),
        "quantity": y.ravel(),
    })


def _timed(fn, repeat: int):
    best = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        w, c = time.perf_counter() - w0, time.process_time() - c0
        best = (w, c) if best is None or w < best[0] else best
    return result, best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loop-items", type=int, default=200,
                        help="series timed one at a time (the loop is slow)")
    parser.add_argument("--save", help="write the series array (.npy) for other tools")
    args = parser.parse_args()
    y = synthetic(args.items, args.months)
    if args.save:
        np.save(args.save, y)
    history = long_history(y)
    fc.select_and_forecast(y[:20])  # first-call imports and caches out of the timing

    sel, (w_array, c_array) = _timed(lambda: fc.select_and_forecast(y), args.repeat)
    base, (w_plan, c_plan) = _timed(lambda: statistical_baseline(history, CURRENT),
                                    args.repeat)
    k = min(args.loop_items, len(y))
    loop, (w_loop, c_loop) = _timed(lambda: [fc.select_and_forecast(y[i:i + 1])
                                             for i in range(k)], 1)
    w_loop, c_loop = w_loop * len(y) / k, c_loop * len(y) / k  # scaled to all series
    same_model = np.mean([loop[i].model[0] == sel.model[i] for i in range(k)])
    same_fc = np.mean([np.allclose(loop[i].forecast[0], sel.forecast[i]) for i in range(k)])
    print(f"{args.items} series x {args.months} months; models chosen: "
          + ", ".join(f"{m} {c}" for m, c in pd.Series(sel.model).value_counts().head(8)
                      .items()))
    print(f"{'':44s} {'wall s':>8s} {'CPU s':>8s}")
    print(f"vectorised select_and_forecast (array)       {w_array:8.3f} {c_array:8.3f}")
    print(f"vectorised statistical_baseline (long table) {w_plan:8.3f} {c_plan:8.3f}")
    print(f"same function, one series at a time (x{len(y) / k:.0f}) {w_loop:8.3f} {c_loop:8.3f}")
    print(f"ratio loop / vectorised (array, wall)        {w_loop / w_array:8.1f} x")
    print(f"per series: vectorised {1000 * w_array / len(y):.3f} ms, "
          f"loop {1000 * w_loop / len(y):.2f} ms")
    print(f"same model for {same_model:.1%}, same forecast for {same_fc:.1%} of the {k} "
          "looped series; "
          f"{len(base):,} baseline rows")


if __name__ == "__main__":
    main()
