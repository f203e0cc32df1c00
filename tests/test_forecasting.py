"""Statistical models of the baseline: hand-worked single models, the selection rules, and
the vectorised code against a naive one-series-at-a-time implementation written here."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sop_workbook import forecasting as fc


def test_moving_average_and_seasonal_naive_by_hand():
    y = np.array([[5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]], float)
    # last three: (11 + 12 + 10) / 3 = 11
    assert fc.moving_average_3(y, 2).tolist() == [[11.0, 11.0]]
    # 13 months; same month last year for h = 1..13: y[1], y[2] … y[12], then y[1] again
    assert fc.seasonal_naive(y, 13).tolist() == [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1]]
    # fewer than 12 periods (start = 2 leaves 11): cannot be fitted
    assert np.isnan(fc.seasonal_naive(y, 3, start=[2])).all()
    assert np.isnan(fc.moving_average_3(y[:, :2], 1)).all()


def test_ses_alpha_by_in_sample_sse_by_hand():
    # [10, 20, 20]: level 10; e1 = 10 for every α; level 10 + 10α; e2 = 10(1 − α);
    # SSE = 100 + 100(1 − α)² is smallest at α = 0.9: level 19, then 19 + 0.9 × 1 = 19.9
    f, alpha = fc.ses(np.array([[10, 20, 20]], float), 2)
    assert alpha.tolist() == [0.9]
    assert f[0] == pytest.approx([19.9, 19.9])
    # [10, 10, 10, 20]: errors 0, 0, 10 whatever α → tie → smallest α 0.1: 10 + 0.1 × 10
    f, alpha = fc.ses(np.array([[10, 10, 10, 20]], float), 1)
    assert alpha.tolist() == [0.1] and f[0] == pytest.approx([11.0])
    # [20, 10, 0]: e1 = −10, level 20 − 10α, e2 = −10(1 − α)... errors all negative and
    # shrinking with α → α = 0.9: 20 → 11 → 11 − 0.9 × 11 = 1.1
    f, alpha = fc.ses(np.array([[20, 10, 0]], float), 1)
    assert alpha.tolist() == [0.9] and f[0] == pytest.approx([1.1])


def test_croston_sba_by_hand():
    # y = 0 0 6 0 0 0 3 0 (α = 0.1)
    # first demand at t = 2: q = 3 periods since the start → z = 6, p = 3
    # next at t = 6: q = 4 → z = 6 + 0.1(3 − 6) = 5.7, p = 3 + 0.1(4 − 3) = 3.1
    # forecast = (1 − 0.05) × 5.7 / 3.1 = 5.415 / 3.1
    y = np.array([[0, 0, 6, 0, 0, 0, 3, 0]], float)
    assert fc.croston_sba(y, 2)[0] == pytest.approx([5.415 / 3.1] * 2)
    # one demand only: no interval observed → cannot be fitted
    assert np.isnan(fc.croston_sba(np.array([[0, 0, 6, 0]], float), 1)).all()
    # ADI = 8 periods / 2 with demand = 4 > 1.32
    assert fc.adi(y).tolist() == [4.0] and fc.intermittent(y).tolist() == [True]
    # 4 periods, 3 with demand: ADI 1.333 > 1.32 intermittent; 4 of 5: 1.25 is not
    assert fc.intermittent(np.array([[0, 5, 5, 5], [1, 5, 5, 5]], float)).tolist() == \
        [True, False]
    assert fc.intermittent(np.array([[0, 5, 5, 5, 5]], float)).tolist() == [False]


def test_selection_rolling_origin_by_hand():
    # [10, 10, 20, 20, 20, 20, 30, 30], backtest 6 → folds L = 2 … 7 (train y[:L], target
    # y[L]); MA3 and SES need 3 periods → folds L = 3 … 7; seasonal naive never (< 12);
    # ADI 1 → not intermittent, no Croston.
    # MA3: L3 (10+10+20)/3=13.33 vs 20 → 6.67; L4 16.67 vs 20 → 3.33; L5 20 vs 20 → 0;
    #      L6 20 vs 30 → 10; L7 23.33 vs 30 → 6.67; MAE = 26.67 / 5 = 5.333
    # SES: L3 [10,10,20]: errors 0, 10 for every α → α 0.1 → 11 vs 20 → 9
    #      L4..L7 the training is non-decreasing with errors that shrink with α → α 0.9:
    #      levels 10, 10, 19, 19.9, 19.99, 19.999, 28.9999, 29.89999
    #      L4 19.9 → 0.1; L5 19.99 → 0.01; L6 19.999 vs 30 → 10.001; L7 28.9999 → 1.0001
    #      MAE = (9 + 0.1 + 0.01 + 10.001 + 1.0001) / 5 = 20.1111 / 5 = 4.02222
    # best 4.02222; MA3 5.333 > 4.02222 × 1.05 → SES; forecast 29.89999
    y = np.array([[10, 10, 20, 20, 20, 20, 30, 30]], float)
    sel = fc.select_and_forecast(y, horizon=3)
    assert sel.model.tolist() == ["ses"]
    assert sel.mae[0, 0] == pytest.approx(80 / 3 / 5)
    assert np.isnan(sel.mae[0, 1]) and np.isnan(sel.mae[0, 3])
    assert sel.mae[0, 2] == pytest.approx(20.1111 / 5)
    assert sel.forecast[0] == pytest.approx([29.89999] * 3)
    assert sel.alpha[0] == 0.9


def test_tie_and_near_tie_go_to_the_simpler_model():
    # a flat series: MA3, SES and seasonal naive all forecast 7 with MAE 0 → MA3 (first)
    flat = np.full((1, 24), 7.0)
    assert fc.select_and_forecast(flat).model.tolist() == ["moving_average_3"]
    # 12 × 10 then 6 × 40 (18 periods): MA3 MAE (30+20+10)/6 = 10; SES (30 + 27 + 0.3 +
    # 0.03 + 0.003 + 0.0003)/6 = 9.5556 (α 0.1 on the tie at the first two folds, then
    # 0.9); 10 ≤ 9.5556 × 1.05 → MA3 with the default 5 % tolerance, SES with none
    y = np.array([[10.0] * 12 + [40.0] * 6])
    assert fc.select_and_forecast(y).model.tolist() == ["moving_average_3"]
    assert fc.select_and_forecast(y, tolerance=0).model.tolist() == ["ses"]


def test_short_histories_fall_back():
    # 2 periods: nothing can be fitted → mean of the history (3 + 5) / 2
    sel = fc.select_and_forecast(np.array([[0, 0, 3, 5]], float), horizon=2, start=[2])
    assert sel.model.tolist() == ["mean"] and sel.forecast.tolist() == [[4.0, 4.0]]
    # 3 periods: no fold can be scored (a fold leaves 2), MA3 is the first fittable model
    sel = fc.select_and_forecast(np.array([[3, 6, 9]], float), horizon=1)
    assert sel.model.tolist() == ["moving_average_3"] and sel.forecast.tolist() == [[6.0]]


# --------------------------------------------------------------------------- naive loop


def _naive_one_step(model, h):
    """One series, one origin: the forecast of the next period from history h (a list)."""
    n = len(h)
    if model == "moving_average_3":
        return None if n < 3 else (h[-1] + h[-2] + h[-3]) / 3
    if model == "seasonal_naive":
        return None if n < 12 else h[n - 12]
    if model == "ses":
        if n < 3:
            return None
        best_sse, best_level = None, None
        for alpha in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            level, sse = h[0], 0.0
            for value in h[1:]:
                err = value - level
                sse += err * err
                level = level + alpha * err
            if best_sse is None or sse < best_sse:
                best_sse, best_level = sse, level
        return best_level
    # Croston SBA
    z = p = None
    q, demands = 0, 0
    for value in h:
        q += 1
        if value > 0:
            demands += 1
            if z is None:
                z, p = value, q
            else:
                z = z + 0.1 * (value - z)
                p = p + 0.1 * (q - p)
            q = 0
    return None if demands < 2 else 0.95 * z / p


def _naive_select(series, start, horizon, backtest):
    h = [float(v) for v in series[start:]]
    nonzero = sum(v > 0 for v in h)
    intermittent = nonzero == 0 or len(h) / nonzero > 1.32
    models = ["moving_average_3", "seasonal_naive", "ses"] + (
        ["croston_sba"] if intermittent else [])
    scores = {}
    for model in models:
        errors = []
        for k in range(backtest, 0, -1):
            if len(h) - k < 0:
                continue
            f = _naive_one_step(model, h[: len(h) - k])
            if f is not None:
                errors.append(abs(max(f, 0.0) - h[len(h) - k]))
        if errors:
            scores[model] = sum(errors) / len(errors)
    if scores:
        best = min(scores.values())
        model = next(m for m in models if m in scores and scores[m] <= best * 1.05 + 1e-9)
    else:
        model = next((m for m in models if _naive_one_step(m, h) is not None), "mean")
    if model == "mean":
        f = [sum(h) / len(h)] * horizon
    elif model == "seasonal_naive":
        f = [h[len(h) - 12 + i % 12] for i in range(horizon)]
    else:
        f = [_naive_one_step(model, h)] * horizon
    return model, [max(v, 0.0) for v in f], scores


def _random_series(seed, n=120, months=30):
    rng = np.random.default_rng(seed)
    level = rng.uniform(5, 50, (n, 1))
    smooth = np.round(level + rng.normal(0, 4, (n, months)))
    season = np.round(level * (1 + 0.6 * np.sin(np.arange(months) * np.pi / 6)))
    sparse = (rng.random((n, months)) < 0.25) * rng.integers(1, 9, (n, months))
    kind = rng.integers(0, 3, (n, 1))
    y = np.where(kind == 0, smooth, np.where(kind == 1, season, sparse)).astype(float)
    y[rng.random(n) < 0.05] = 0.0  # some series without any demand
    start = rng.integers(0, months - 1, n)
    start[rng.random(n) < 0.5] = 0
    return y, start


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_equals_the_naive_loop(seed):
    y, start = _random_series(seed)
    sel = fc.select_and_forecast(y, horizon=14, backtest=6, start=start)
    for s in range(len(y)):
        model, forecast, scores = _naive_select(y[s], start[s], 14, 6)
        assert sel.model[s] == model, s
        assert sel.forecast[s] == pytest.approx(forecast, rel=1e-9, abs=1e-9), s
        for m, name in enumerate(fc.MODELS):
            if name in scores:
                assert sel.mae[s, m] == pytest.approx(scores[name], rel=1e-9, abs=1e-9)
            else:
                assert np.isnan(sel.mae[s, m])
    assert (sel.forecast >= 0).all()
    assert set(sel.model) >= {"seasonal_naive", "croston_sba"}  # the mix exercised them


def test_two_thousand_series_well_under_a_second():
    rng = np.random.default_rng(0)
    y = rng.poisson(20, (2000, 36)).astype(float)
    y[::3] *= rng.random((len(y[::3]), 36)) < 0.3
    fc.select_and_forecast(y[:10])
    t0 = time.perf_counter()
    sel = fc.select_and_forecast(y)
    elapsed = time.perf_counter() - t0
    assert sel.forecast.shape == (2000, 12)
    assert elapsed < 1.0, elapsed
