"""Statistical baseline: the vectorised selection vs a naive per-series loop, same run.

2,000 item × location series × 36 months, a third each smooth, seasonal and intermittent.
Times :func:`sop_workbook.plan.statistical_baseline` (long table in → long table out, the
way refresh calls it) and the bare :func:`sop_workbook.forecasting.select_and_forecast` on
the array, against a per-series loop that does the same arithmetic one series at a time
(pandas groupby, Python loops over months, folds and α), checks that both choose the same
models, and prints wall times and the ratio.

    uv run python benchmarks/bench_baseline.py [--items 2000] [--months 36] [--save y.npy]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from sop_workbook import forecasting as fc
from sop_workbook.plan import statistical_baseline

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


# ----------------------------------------------------------------- the naive loop


def _one_step(model: str, h: list[float]) -> float | None:
    n = len(h)
    if model == "moving_average_3":
        return sum(h[-3:]) / 3 if n >= 3 else None
    if model == "seasonal_naive":
        return h[-12] if n >= 12 else None
    if model == "ses":
        if n < 3:
            return None
        best = None
        for a in fc.ALPHAS:
            level, sse = h[0], 0.0
            for v in h[1:]:
                e = v - level
                sse += e * e
                level += a * e
            if best is None or sse < best[0]:
                best = (sse, level)
        return best[1]
    z = p = None
    q = 0
    for v in h:
        q += 1
        if v > 0:
            if z is None:
                z, p = v, q
            else:
                z += 0.1 * (v - z)
                p += 0.1 * (q - p)
            q = 0
    return None if z is None else 0.95 * z / p


def naive_select(h: list[float], backtest: int = 6) -> str:
    nz = sum(v > 0 for v in h)
    inter = nz == 0 or len(h) / nz > fc.ADI_CUTOFF
    scores = {}
    for model in fc.MODELS:
        if model == "croston_sba" and not inter:
            continue
        errs = []
        for k in range(backtest, 0, -1):
            f = _one_step(model, h[:-k])
            if f is not None:
                errs.append(abs(max(f, 0.0) - h[-k]))
        if errs:
            scores[model] = sum(errs) / len(errs)
    if not scores:
        return fc.FALLBACK
    best = min(scores.values())
    return next(m for m in fc.MODELS if m in scores
                and scores[m] <= best * (1 + fc.SELECTION_TOLERANCE) + 1e-9)


def naive_baseline(history: pd.DataFrame) -> pd.Series:
    out = {}
    for key, grp in history.groupby(["item_no", "location_code"], sort=True):
        out[key] = naive_select(grp.sort_values("period")["quantity"].astype(float).tolist())
    return pd.Series(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--save", help="write the series array (.npy) for other tools")
    args = parser.parse_args()
    y = synthetic(args.items, args.months)
    if args.save:
        np.save(args.save, y)
    history = long_history(y)

    t0 = time.perf_counter()
    sel = fc.select_and_forecast(y)
    t_array = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = statistical_baseline(history, CURRENT)
    t_plan = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = naive_baseline(history)
    t_naive = time.perf_counter() - t0

    chosen = base.drop_duplicates(["item_no", "location_code"]).set_index(
        ["item_no", "location_code"])["model"]
    same = (chosen.reindex(naive.index).to_numpy() == naive.to_numpy()).mean()
    print(f"{args.items} series x {args.months} months; models chosen: "
          + ", ".join(f"{m} {c}" for m, c in pd.Series(sel.model).value_counts().items()))
    print(f"vectorised select_and_forecast (array)      {t_array:8.3f} s")
    print(f"vectorised statistical_baseline (long table) {t_plan:8.3f} s")
    print(f"naive per-series pandas loop                 {t_naive:8.3f} s")
    print(f"ratio naive / statistical_baseline           {t_naive / t_plan:8.1f} x")
    print(f"same model chosen for {same:.1%} of series")


if __name__ == "__main__":
    main()
