"""The baseline against statsforecast on real monthly series, same machine, same run.

Panel: ``benchmarks/data/monthly_panel.csv`` (9 public monthly series shipped inside the
statsmodels, sktime and pmdarima wheels; provenance and licences in
``benchmarks/data/PANEL.md``). Two tasks, last 12 months held out each time:

- **full**: each series' whole history minus its last 12 months → forecast those 12;
- **36 months**: windows of 48 months (36 history + 12 held out) ending at the series'
  end, 48 and 96 months earlier (up to 3 per series with ≥ 48 months).

Accuracy is seasonal MASE (m = 12): mean |forecast − actual| over the 12 held-out months
÷ the in-sample mean |y_t − y_{t−12}| of the history the forecast was made from. Each
method forecasts 12 months from the same histories: the project's
:func:`sop_workbook.review.forecasting.select_and_forecast` (all histories of a task in one
call), the baseline before issue 18 (``previous_baseline.py``), and statsforecast's
``AutoETS(season_length=12)``, ``AutoTheta(season_length=12)``
and ``SeasonalNaive(12)`` (``n_jobs=1``, each model timed alone after a warm-up call, so
numba compilation is not counted). Time per series = wall time ÷ number of histories;
the baseline is also timed one series per call ("1/call").

    uv sync --group bench          # statsforecast (not installed by CI)
    uv run python benchmarks/bench_forecast_panel.py [--out benchmarks/data/panel_results.csv]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import previous_baseline as previous

from sop_workbook.review import forecasting as fc

HERE = Path(__file__).parent
PANEL = HERE / "data" / "monthly_panel.csv"
H = 12
M = 12


def load_panel(path: Path = PANEL) -> dict[str, np.ndarray]:
    frame = pd.read_csv(path, dtype={"series": str, "period": str})
    return {name: g.sort_values("period")["quantity"].to_numpy(float)
            for name, g in frame.groupby("series", sort=False)}


def tasks(panel: dict[str, np.ndarray]) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """task → [(label, history, held-out 12)]."""
    full = [(name, y[:-H], y[-H:]) for name, y in panel.items()]
    short = []
    for name, y in panel.items():
        for j in range(3):
            end = len(y) - 48 * j
            if end - 48 < 0:
                break
            w = y[end - 48:end]
            short.append((f"{name}@-{48 * j}", w[:36], w[36:]))
    return {"full": full, "36 months": short}


def mase(history: np.ndarray, forecast: np.ndarray, actual: np.ndarray) -> float:
    scale = np.mean(np.abs(history[M:] - history[:-M]))
    return float(np.mean(np.abs(forecast - actual)) / scale)


def _aligned(histories: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned into one array (start = first column of each history)."""
    t = max(len(h) for h in histories)
    y = np.zeros((len(histories), t))
    start = np.array([t - len(h) for h in histories])
    for i, h in enumerate(histories):
        y[i, t - len(h):] = h
    return y, start


def project(histories: list[np.ndarray]) -> tuple[np.ndarray, list[str], float]:
    y, start = _aligned(histories)
    t0 = time.perf_counter()
    sel = fc.select_and_forecast(y, H, start)
    return sel.forecast, list(sel.model), time.perf_counter() - t0


def previous_baseline(histories: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """The baseline before issue 18 (one-step backtest over 6 months)."""
    y, start = _aligned(histories)
    t0 = time.perf_counter()
    sel = previous.select_and_forecast(y, H, 6, start)
    return sel.forecast, time.perf_counter() - t0


def statsforecast_models():
    from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive
    return {"AutoETS": lambda: AutoETS(season_length=M),
            "AutoTheta": lambda: AutoTheta(season_length=M),
            "SeasonalNaive": lambda: SeasonalNaive(season_length=M)}


def run_statsforecast(name: str, make, histories: list[np.ndarray]):
    from statsforecast import StatsForecast
    frames = []
    for i, h in enumerate(histories):
        ds = pd.date_range("1700-01-01", periods=len(h), freq="MS")
        frames.append(pd.DataFrame({"unique_id": f"s{i:03d}", "ds": ds, "y": h}))
    df = pd.concat(frames, ignore_index=True)
    StatsForecast(models=[make()], freq="MS", n_jobs=1).forecast(df=df.head(48), h=H)  # warm-up
    t0 = time.perf_counter()
    out = StatsForecast(models=[make()], freq="MS", n_jobs=1).forecast(df=df, h=H)
    elapsed = time.perf_counter() - t0
    out = out.reset_index() if "unique_id" not in out.columns else out
    col = next(c for c in out.columns if c not in ("unique_id", "ds"))
    fcst = np.stack([out.loc[out["unique_id"] == f"s{i:03d}", col].to_numpy()
                     for i in range(len(histories))])
    return fcst, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, help="per-forecast MASE as CSV")
    parser.add_argument("--no-statsforecast", action="store_true")
    args = parser.parse_args()
    panel = load_panel()
    rows, times = [], {}
    for task, items in tasks(panel).items():
        hist = [h for _, h, _ in items]
        methods = {}
        f, models, sec = project(hist)
        methods["baseline"] = f
        times[("baseline", task)] = (sec, len(hist))
        methods["previous"], sec = previous_baseline(hist)
        times[("previous", task)] = (sec, len(hist))
        t0 = time.perf_counter()
        for h in hist:  # the same, one series per call
            fc.select_and_forecast(h[None, :], H)
        times[("baseline 1/call", task)] = (time.perf_counter() - t0, len(hist))
        if not args.no_statsforecast:
            for name, make in statsforecast_models().items():
                f2, sec2 = run_statsforecast(name, make, hist)
                methods[name] = f2
                times[(name, task)] = (sec2, len(hist))
        for i, (label, h, actual) in enumerate(items):
            row = {"task": task, "history": label, "n": len(h), "model": models[i]}
            for name, f in methods.items():
                row[name] = mase(h, f[i], actual)
            rows.append(row)
    res = pd.DataFrame(rows)
    names = [c for c in res.columns if c not in ("task", "history", "n", "model")]
    print("mean seasonal MASE (m = 12), 12-month horizon")
    print(res.groupby("task", sort=False)[names].mean().round(3).to_string())
    print("\nper history")
    print(res.round(3).to_string(index=False))
    print("\ntime per series (ms), wall ÷ histories")
    for (name, task), (sec, k) in times.items():
        print(f"  {name:16s} {task:10s} {1000 * sec / k:9.2f}  ({k} histories, {sec:.3f} s)")
    for task in ("full", "36 months"):
        if ("AutoETS", task) in times:
            ets = times[("AutoETS", task)][0]
            print(f"  AutoETS ÷ baseline, {task}: {ets / times[('baseline', task)][0]:.0f}× "
                  f"(one series per call: {ets / times[('baseline 1/call', task)][0]:.0f}×)")
    if args.out:
        res.round(4).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
