"""The baseline before issue 18 (sop_workbook/forecasting.py at commit dc5e67d), kept
only so that benchmarks/bench_forecast_panel.py can measure it side by side with the
current one. Not used by the product.


Statistical demand models for the baseline, vectorised over many series at once.

Input: a 2-D array ``y`` of shape (S, T) — one row per item × location series, one column
per month, oldest first, zeros where there was no demand — and optionally ``start``, the
column of each series' first observation (values before it are not history; default 0).
A series' history is ``y[s, start[s]:T]``; ``n = T − start`` is its number of periods.
Every model, fold and α is computed for all series at once with numpy; only months, folds
and the α grid are looped over.

Models (:data:`MODELS`, listed in order of simplicity — the tie order)
------------------------------------------------------------------------
All forecasts are floored at 0 (demand is not negative), in the backtest too.

``moving_average_3``
    ``F = (y[L−3] + y[L−2] + y[L−1]) ÷ 3`` for every future period, made from the first
    ``L`` columns. Needs ≥ 3 periods of history.
``seasonal_naive``
    Same month last year: the forecast h periods (h = 1, 2, …) after column ``L − 1`` is
    ``y[L − 12 + (h − 1) mod 12]``. Needs ≥ 12 periods of history.
``ses``
    Simple exponential smoothing, ETS(A,N,N) with a fixed α. Initial level
    ``ℓ_start = y[start]`` (the first value, so the first period has no in-sample error);
    for t > start: one-step forecast ``ŷ_t = ℓ_{t−1}``, error ``e_t = y_t − ŷ_t``,
    ``ℓ_t = ℓ_{t−1} + α·e_t``. The forecast for every future period is the last level.
    α is chosen from :data:`ALPHAS` (0.1, 0.2, …, 0.9) as the one with the smallest
    in-sample one-step SSE ``Σ_{t=start+1}^{L−1} e_t²`` on the history it is fitted on
    (ties → the smallest α). Needs ≥ 3 periods (with fewer, every α has the same SSE).
``croston_sba``
    Croston's method with the Syntetos–Boylan approximation, α = 0.1 for both smoothed
    quantities. Demand occurs at t when ``y_t > 0``; ``q_t`` = periods since the previous
    demand (for the first demand: periods since the series start, counting the demand's
    own period, i.e. ``t − start + 1``). Initialisation at the first demand: size
    ``z = y_t``, interval ``p = q_t``. At each later demand: ``z ← z + α(y_t − z)``,
    ``p ← p + α(q_t − p)``; nothing changes in periods without demand. Forecast for every
    future period: ``(1 − α/2)·z ÷ p``. Needs ≥ 2 demands in the history (so that one
    inter-demand interval has been observed; the first "interval" only counts from the
    series start), and is a
    candidate only for **intermittent** series: ADI > 1.32 (Syntetos–Boylan cut-off),
    where ADI = periods of history ÷ periods with demand (> 0) over the whole history
    given (no demand → ADI = ∞, but Croston cannot be fitted).

Selection (:func:`select_and_forecast`)
---------------------------------------
Rolling-origin backtest over the last ``backtest`` (default 6) periods: for
k = backtest … 1, every model is fitted on the first ``L = T − k`` columns and forecasts
column L one step ahead; a model that cannot be fitted on a fold (too little history, < 2
demands for Croston, not intermittent) skips that fold. A model's score is the mean
absolute error over the folds it was fitted on (a model fitted on no fold has no score).
Choice: the best score ``b``; the chosen model is the **first in MODELS order whose score
≤ b·(1 + tolerance)** (default tolerance 5 %; exact ties, tolerance 0, also go to the
simpler model). Rationale: six one-step errors are a noisy score, so a more complex model
must beat a simpler one by more than 5 % to be preferred. If no model has a score, the
first model in MODELS order that can be fitted on the whole history is used, and with
fewer than 3 periods of history the forecast is the mean of the history (``"mean"``).
The chosen model is then fitted on the whole history (SES: α re-chosen on it) and
forecasts ``horizon`` periods.

Why not statsforecast
---------------------
Measured on this 2-core machine (shared with other jobs; load average 1.6–5.8 during the
runs, hence the ranges) on the same 2,000 × 36 synthetic series as
``benchmarks/bench_baseline.py``, statsforecast 2.1.1 in a throwaway venv (not a project
dependency): ``StatsForecast(models=[AutoETS(season_length=12), CrostonSBA(),
SeasonalNaive(12)], freq="MS", n_jobs=1).forecast(h=12)`` — one fit per series, no
backtest — took 46–137 s wall for the first call in a fresh process (including numba
compilation, which is small next to the fitting: the first call was no slower than the
warm one) and 54–126 s warm; CPU time 56 s for each. Per model: SeasonalNaive 0.03 s,
CrostonSBA 0.05 s, AutoETS(season_length=1) 4–5 s, AutoETS(season_length=12) the rest;
``n_jobs=2`` did not help on 2 busy cores. Import alone 4–8 s. This module's whole
selection (four models, six backtest folds, α grid, final fit) takes 0.03–0.1 s on the
same series, numpy only — no JIT warm-up in Excel's Python, no numba/llvmlite/scipy/
statsmodels (~200 MB) to ship — and the choice is the transparent "each model's backtest
MAE, smallest wins" a demand planner can check by hand; AutoETS picks among
error/trend/season forms by AICc instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODELS = ("moving_average_3", "seasonal_naive", "ses", "croston_sba")
FALLBACK = "mean"
ALPHAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CROSTON_ALPHA = 0.1
ADI_CUTOFF = 1.32
SELECTION_TOLERANCE = 0.05
SEASON = 12
MIN_PERIODS = {"moving_average_3": 3, "seasonal_naive": SEASON, "ses": 3}


def _prepare(y, start) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    if y.ndim != 2:
        raise ValueError("y must be a 2-D array (series × months)")
    s, t = y.shape
    start = np.zeros(s, dtype=np.int64) if start is None else np.asarray(start, np.int64)
    if start.shape != (s,):
        raise ValueError("start needs one entry per series")
    y = np.where(np.arange(t)[None, :] < start[:, None], 0.0, np.nan_to_num(y))
    return y, start


# ----------------------------------------------------------------- one-step paths
# Each *_path returns F of shape (S, T + 1): F[:, L] is the model's one-step forecast of
# column L made from columns start..L−1 (NaN where it cannot be fitted on them).


def _ma3_path(y: np.ndarray, start: np.ndarray) -> np.ndarray:
    s, t = y.shape
    cs = np.zeros((s, t + 1))
    np.cumsum(y, axis=1, out=cs[:, 1:])
    out = np.full((s, t + 1), np.nan)
    out[:, 3:] = (cs[:, 3:] - cs[:, :-3]) / 3.0
    n = np.arange(t + 1)[None, :] - start[:, None]
    out[n < MIN_PERIODS["moving_average_3"]] = np.nan
    return out


def _snaive_path(y: np.ndarray, start: np.ndarray) -> np.ndarray:
    s, t = y.shape
    out = np.full((s, t + 1), np.nan)
    if t >= SEASON:
        out[:, SEASON:] = y[:, : t + 1 - SEASON]
    n = np.arange(t + 1)[None, :] - start[:, None]
    out[n < SEASON] = np.nan
    return out


def _ses_paths(y: np.ndarray, start: np.ndarray, alphas=ALPHAS):
    """Levels and cumulative SSE for every α: arrays (A, S, T + 1) where [:, :, L] is the
    level after column L − 1 (= the forecast of column L) and Σ e_t² for t < L."""
    s, t = y.shape
    a = np.asarray(alphas, dtype=float)[:, None]
    level = np.zeros((len(a), s))
    sse = np.zeros((len(a), s))
    levels = np.full((len(a), s, t + 1), np.nan)
    sses = np.zeros((len(a), s, t + 1))
    for col in range(t):
        init = col == start
        active = col > start
        e = np.where(active, y[:, col] - level, 0.0)
        sse = sse + e * e
        level = np.where(init, y[:, col], level + a * e)
        levels[:, :, col + 1] = level
        sses[:, :, col + 1] = sse
    return levels, sses


def _ses_path(y: np.ndarray, start: np.ndarray, alphas=ALPHAS):
    """One-step SES forecasts (S, T + 1) with α re-chosen at every L, and the α (S, T + 1)."""
    levels, sses = _ses_paths(y, start, alphas)
    best = np.argmin(sses, axis=0)  # first minimum → smallest α on ties
    out = np.take_along_axis(levels, best[None], axis=0)[0]
    alpha = np.asarray(alphas, dtype=float)[best]
    n = np.arange(y.shape[1] + 1)[None, :] - start[:, None]
    short = n < MIN_PERIODS["ses"]
    out[short] = np.nan
    alpha[short] = np.nan
    return out, alpha


def _croston_path(y: np.ndarray, start: np.ndarray, alpha: float = CROSTON_ALPHA):
    s, t = y.shape
    z = np.zeros(s)
    p = np.ones(s)
    q = np.zeros(s)
    started = np.zeros(s, dtype=bool)
    demands = np.zeros(s)
    out = np.full((s, t + 1), np.nan)
    for col in range(t):
        active = col >= start
        q = np.where(active, q + 1.0, 0.0)
        demand = active & (y[:, col] > 0)
        first = demand & ~started
        later = demand & started
        z = np.where(first, y[:, col], np.where(later, z + alpha * (y[:, col] - z), z))
        p = np.where(first, q, np.where(later, p + alpha * (q - p), p))
        started |= demand
        demands += demand
        q = np.where(demand, 0.0, q)
        out[:, col + 1] = np.where(demands >= 2, (1.0 - alpha / 2.0) * z / p, np.nan)
    return out


def adi(y, start=None) -> np.ndarray:
    """Average demand interval: periods of history ÷ periods with demand > 0 (∞ if none)."""
    y, start = _prepare(y, start)
    n = y.shape[1] - start
    nonzero = (y > 0).sum(axis=1)
    with np.errstate(divide="ignore"):
        return np.where(nonzero > 0, n / np.maximum(nonzero, 1), np.inf)


def intermittent(y, start=None) -> np.ndarray:
    """Syntetos–Boylan: intermittent when ADI > 1.32."""
    return adi(y, start) > ADI_CUTOFF


# ----------------------------------------------------------------- single models


def _flat(last: np.ndarray, horizon: int) -> np.ndarray:
    return np.maximum(np.repeat(last[:, None], horizon, axis=1), 0.0)


def moving_average_3(y, horizon: int = 12, start=None) -> np.ndarray:
    """(S, horizon) forecasts; NaN rows for series with < 3 periods."""
    y, start = _prepare(y, start)
    return _flat(_ma3_path(y, start)[:, -1], horizon)


def seasonal_naive(y, horizon: int = 12, start=None) -> np.ndarray:
    """(S, horizon): last year's same month; NaN rows for series with < 12 periods."""
    y, start = _prepare(y, start)
    t = y.shape[1]
    if t < SEASON:
        return np.full((y.shape[0], horizon), np.nan)
    cols = t - SEASON + np.arange(horizon) % SEASON
    out = np.maximum(y[:, cols], 0.0)
    out[t - start < SEASON] = np.nan
    return out


def ses(y, horizon: int = 12, start=None, alphas=ALPHAS) -> tuple[np.ndarray, np.ndarray]:
    """(S, horizon) forecasts and the chosen α per series (NaN with < 3 periods)."""
    y, start = _prepare(y, start)
    path, alpha = _ses_path(y, start, alphas)
    return _flat(path[:, -1], horizon), alpha[:, -1]


def croston_sba(y, horizon: int = 12, start=None, alpha: float = CROSTON_ALPHA) -> np.ndarray:
    """(S, horizon) Croston-SBA forecasts (NaN for a series with < 2 demands). Does not
    check intermittency; :func:`select_and_forecast` does."""
    y, start = _prepare(y, start)
    return _flat(_croston_path(y, start, alpha)[:, -1], horizon)


# ----------------------------------------------------------------- selection


@dataclass
class Selection:
    """Result of :func:`select_and_forecast` (arrays indexed by series)."""

    forecast: np.ndarray  # (S, horizon), floored at 0
    model: np.ndarray  # (S,) model names (MODELS or FALLBACK)
    mae: np.ndarray  # (S, len(MODELS)) backtest MAE, NaN = no fold fitted
    folds: np.ndarray  # (len(MODELS), S, backtest) one-step backtest forecasts (NaN = skipped)
    alpha: np.ndarray  # (S,) SES α on the whole history (NaN if SES cannot be fitted)
    adi: np.ndarray  # (S,)
    intermittent: np.ndarray  # (S,) bool


def select_and_forecast(y, horizon: int = 12, backtest: int = 6, start=None, *,
                        tolerance: float = SELECTION_TOLERANCE,
                        alphas=ALPHAS) -> Selection:
    """Choose a model per series by rolling-origin backtest and forecast ``horizon``
    periods (rules in the module docstring)."""
    y, start = _prepare(y, start)
    s, t = y.shape
    inter = intermittent(y, start)
    ses_path, ses_alpha = _ses_path(y, start, alphas)
    paths = [_ma3_path(y, start), _snaive_path(y, start), ses_path, _croston_path(y, start)]
    paths[3][~inter] = np.nan
    paths = np.maximum(np.stack(paths), 0.0)  # (M, S, T + 1); NaN stays NaN
    ends = np.array([t - k for k in range(backtest, 0, -1)], dtype=np.int64)
    folds = np.full((len(MODELS), s, backtest), np.nan)
    ok = ends >= 1
    folds[:, :, ok] = paths[:, :, ends[ok]]
    errors = np.abs(folds - np.where(ok, y[:, np.clip(ends, 0, t - 1)], np.nan)[None])
    counts = np.isfinite(errors).sum(axis=2)
    with np.errstate(invalid="ignore"):
        mae = np.where(counts > 0, np.nansum(errors, axis=2) / np.maximum(counts, 1), np.nan)
    best = np.nanmin(np.where(np.isnan(mae), np.inf, mae), axis=0)
    eligible = np.isfinite(mae) & (mae <= best * (1.0 + tolerance) + 1e-9)
    fittable = np.isfinite(paths[:, :, t])
    scored = eligible.any(axis=0)
    choice = np.where(scored, np.argmax(eligible, axis=0), np.argmax(fittable, axis=0))
    none = ~scored & ~fittable.any(axis=0)

    forecast = np.empty((s, horizon))
    for m, name in enumerate(MODELS):
        rows = choice == m
        if name == "seasonal_naive":
            cols = t - SEASON + np.arange(horizon) % SEASON
            if t >= SEASON:
                forecast[rows] = np.maximum(y[rows][:, cols], 0.0)
        else:
            forecast[rows] = _flat(paths[m, rows, t], horizon)
    n = t - start
    hist_sum = y.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, hist_sum / np.maximum(n, 1), 0.0)
    forecast[none] = _flat(mean[none], horizon)
    model = np.array(MODELS, dtype=object)[choice]
    model[none] = FALLBACK
    return Selection(forecast, model, mae.T.copy(), folds, ses_alpha[:, -1], adi(y, start),
                     inter)
