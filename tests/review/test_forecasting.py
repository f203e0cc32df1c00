"""Statistical models of the baseline: hand-worked single models, the selection rules, and
the vectorised code against a naive one-series-at-a-time implementation written here."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sop_workbook.review import forecasting as fc


def _row(values):
    return np.array([values], dtype=float)


# --------------------------------------------------------------------------- single models


def test_seasonal_naive_by_hand():
    y = _row([5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    # the last 12 months are 1 … 12; month 13 ahead = month 1 ahead again
    assert fc.seasonal_naive(y, 13).tolist() == [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1]]
    assert np.isnan(fc.seasonal_naive(y, 3, start=[2])).all()  # 11 periods of history
    assert np.isnan(fc.seasonal_naive(y[:, :11], 3)).all()


def test_ses_by_hand():
    # y = 10, 12, 11. Start: least-squares line through (0, 10), (1, 12), (2, 11):
    # slope = Σ(u − 1)(y − 11) ÷ Σ(u − 1)² = (1 + 0 + 0) ÷ 2 = 0.5, intercept 11 − 0.5 =
    # 10.5 → SES ℓ₀ = 10.5. α = 0.5:
    #   t0 e = 10 − 10.5 = −0.5   ℓ = 10.25
    #   t1 e = 12 − 10.25 = 1.75  ℓ = 11.125
    #   t2 e = 11 − 11.125 = −0.125 ℓ = 11.0625 → every future month
    assert fc.exponential_smoothing(_row([10, 12, 11]), 2, alpha=0.5).tolist() == \
        [[11.0625, 11.0625]]


def test_damped_trend_by_hand():
    # y = 10, 12, 14, 16, 18, 20; line: intercept 10, slope 2 → ℓ₀ = 10 − 2 = 8, b₀ = 2.
    # α = 0.5, β = 0.2 of α (0.1), φ = 0.9; f = ℓ + φb, e = y − f, ℓ = f + αe,
    # b = φb + 0.1e:
    #   t0 f 9.8        e 0.2         ℓ 9.9          b 1.82
    #   t1 f 11.538     e 0.462       ℓ 11.769       b 1.6842
    #   t2 f 13.28478   e 0.71522     ℓ 13.64239     b 1.587302
    #   t3 f 15.0709618 e 0.9290382   ℓ 15.5354809   b 1.52147562
    #   t4 f 16.9048090 e 1.0951910   ℓ 17.4524045   b 1.47884716
    #   t5 f 18.7833669 e 1.2166331   ℓ 19.3916835   b 1.45262575
    # F(1) = ℓ + 0.9b = 20.6990466; F(2) = F(1) + 0.81b = 21.8756735
    f = fc.exponential_smoothing(_row([10, 12, 14, 16, 18, 20]), 2, alpha=0.5, beta=0.2,
                                 phi=0.9)
    assert f[0] == pytest.approx([20.6990466, 21.8756735], abs=1e-6)


def test_theta_by_hand():
    # SES of 10, 12, 11 with α = 0.5 ends at ℓ = 11.0625 (above); slope of the whole
    # history b̂ = 0.5, n = 3: F(h) = ℓ + b̂/2 (h − 1 + 1/α − (1 − α)^n / α)
    #   F(1) = 11.0625 + 0.25 (0 + 2 − 0.25) = 11.5; F(2) = 11.0625 + 0.25 × 2.75 = 11.75
    assert fc.theta(_row([10, 12, 11]), 2, alpha=0.5).tolist() == [[11.5, 11.75]]


def test_croston_sba_by_hand():
    # 0, 0, 3, 0, 0, 5: first demand t2 (q = 3) → z 3, p 3; t5 (q 3) → z 3 + 0.1 × 2 = 3.2,
    # p 3 + 0.1 × 0 = 3 → F = 0.95 × 3.2 ÷ 3
    assert fc.croston_sba(_row([0, 0, 3, 0, 0, 5]), 2)[0] == pytest.approx([3.04 / 3] * 2)
    # one demand: no interval observed → not fitted
    assert np.isnan(fc.croston_sba(_row([0, 0, 6, 0]), 1)).all()


def test_tsb_by_hand():
    # 0, 0, 6, 0, 0, 0: first demand t2 → z 6, π = 1/3 (one demand in 3 periods);
    # three periods without demand: π = 0.9³ ÷ 3 = 0.243 → F = 0.243 × 6 = 1.458
    assert fc.tsb(_row([0, 0, 6, 0, 0, 0]), 2)[0] == pytest.approx([1.458, 1.458])
    # with demand: 4, 0, 2 → z 4, π 1; t1 π 0.9; t2 π 0.9 + 0.1 × 0.1 = 0.91,
    # z 4 + 0.1 × (2 − 4) = 3.8 → F = 0.91 × 3.8 = 3.458
    assert fc.tsb(_row([4, 0, 2]), 1)[0] == pytest.approx([3.458])
    assert np.isnan(fc.tsb(_row([0, 0, 0]), 1)).all()


def test_adi_and_intermittency():
    y = _row([0, 0, 4, 0, 0, 0, 4, 0])
    assert fc.adi(y).tolist() == [4.0] and fc.intermittent(y).tolist() == [True]
    # 4 periods, 3 with demand → ADI 1.333 > 1.32; 5 periods, 4 → 1.25
    assert fc.intermittent(np.array([[0, 5, 5, 5], [1, 5, 5, 5]], float)).tolist() == \
        [True, False]
    assert fc.intermittent(_row([0, 5, 5, 5, 5])).tolist() == [False]


def test_seasonal_indices_by_hand():
    # One year: 22 in month 0, 4 in month 6, 10 otherwise (sum 126, mean 10.5), twice.
    # The centred 2×12 average covers exactly one year's sum at every point: 10.5, so each
    # ratio is y ÷ 10.5 and the indices are 22/10.5, 10/10.5 …, 4/10.5 (mean 1 already);
    # nothing is left over (strength 1) → seasonal.
    year = [22, 10, 10, 10, 10, 10, 4, 10, 10, 10, 10, 10]
    idx = fc.seasonal_indices(_row(year * 2))
    assert idx[0] == pytest.approx([v / 10.5 for v in year])
    # 23 months: too short → no adjustment
    assert fc.seasonal_indices(_row((year * 2)[:23])).tolist() == [[1.0] * 12]
    # flat series: nothing seasonal
    assert fc.seasonal_indices(_row([7.0] * 36)).tolist() == [[1.0] * 12]
    # indices follow the calendar column (column mod 12), not the start of the series
    shifted = np.zeros((1, 27))
    shifted[0, 3:] = year * 2
    assert fc.seasonal_indices(shifted, start=[3])[0] == pytest.approx(
        [v / 10.5 for v in np.roll(year, 3)])


def test_seasonally_adjusted_models_repeat_an_exact_pattern():
    # x = y ÷ I = 10.5 flat → SES, damped and Theta forecast 10.5 × I = last year's months
    year = [22, 10, 10, 10, 10, 10, 4, 10, 10, 10, 10, 10]
    fit = fc.fit_all(_row(year * 3), 12)
    for name in ("seasonal_naive", "ses", "damped", "theta", "combined"):
        assert fit.forecast[fc.MODELS.index(name), 0] == pytest.approx(year), name
    assert np.isnan(fit.forecast[fc.MODELS.index("croston_sba")]).all()  # not intermittent


# --------------------------------------------------------------------------- selection


def test_seasonal_series_is_not_flattened():
    # 36 months of a strong season with noise; the old one-step selection gave SES/MA3
    rng = np.random.default_rng(3)
    season = 100 * (1 + 0.5 * np.sin(np.arange(36) * np.pi / 6))
    y = _row(season + rng.normal(0, 3, 36))
    sel = fc.select_and_forecast(y)
    assert np.ptp(sel.forecast[0]) > 60  # keeps the ±50 % swing
    assert np.abs(sel.forecast[0] - season[:12]).mean() < 8


def test_trending_series_gets_a_trend():
    y = _row(10 + 2.0 * np.arange(36))  # 10 … 80
    sel = fc.select_and_forecast(y)
    assert "seasonal_naive" not in sel.model[0]
    assert sel.forecast[0, 0] > 80  # continues upwards (same month last year would be 58)
    assert np.all(np.diff(sel.forecast[0]) > 0)


def test_pool_of_two_is_the_mean_of_the_two_best_backtests():
    rng = np.random.default_rng(5)
    y = np.round(rng.uniform(20, 80, (40, 36)))
    y[::4] *= rng.random((10, 36)) < 0.35  # some intermittent
    sel = fc.select_and_forecast(y)
    final = fc.fit_all(y, 12)
    for s in range(len(y)):
        if sel.model[s] in (fc.FALLBACK, fc.NO_DEMAND):
            continue
        score = np.where(np.isfinite(sel.mae[s]) & np.isfinite(final.forecast[:, s]).all(
            axis=1), sel.mae[s], np.inf)
        best = np.argsort(score, kind="stable")[:2]
        assert sel.mae[s, best[0]] <= sel.mae[s, best[1]]
        if score[best[1]] > 2 * score[best[0]]:  # far behind: the best alone
            best = best[:1]
        assert sel.model[s] == "+".join(fc.MODELS[i] for i in sorted(best))
        assert sel.forecast[s] == pytest.approx(final.forecast[best, s].mean(axis=0))
    single = fc.select_and_forecast(y, pool=1)
    ok = ~np.isin(single.model, [fc.FALLBACK, fc.NO_DEMAND])
    assert np.allclose(single.error[ok], np.nanmin(single.mae[ok], axis=1))


def test_a_clearly_better_model_is_not_diluted():
    # two identical years: seasonal naive backtests with MAE 0 (a year earlier is always
    # the same month); every other model errs (24 months: too short at the origins for
    # the seasonal adjustment), so nothing is within 2 × 0 → seasonal naive alone
    year = [10, 12, 30, 50, 40, 20, 10, 8, 9, 11, 25, 60]
    sel = fc.select_and_forecast(_row(year * 2))
    assert sel.model.tolist() == ["seasonal_naive"]
    assert sel.forecast[0].tolist() == year and sel.error.tolist() == [0.0]


def test_backtest_error_by_hand():
    # 24 months: 10 every month except 40 in the last month. Origins 12, 9, 6, 3 months
    # back; seasonal naive forecasts 10 everywhere (a year earlier was 10): errors are 0
    # except the last month (|10 − 40| = 30) which each origin forecasts → 4 × 30 over
    # 12 + 9 + 6 + 3 = 30 forecasts → MAE 4.
    y = _row([10.0] * 23 + [40.0])
    sel = fc.select_and_forecast(y)
    assert sel.mae[0, fc.MODELS.index("seasonal_naive")] == pytest.approx(4.0)
    # mean demand of the backtested months: (29 × 10 + 4 × 40 − 3 × 10 …) = the 30
    # forecast targets: months 12 … 23 once, 15 … 23, 18 … 23, 21 … 23 → 26 × 10 + 4 × 40
    assert sel.scale[0] == pytest.approx((26 * 10 + 4 * 40) / 30)
    assert sel.relative_error[0] == pytest.approx(sel.error[0] / sel.scale[0])


def test_no_demand_single_spike_and_short_histories():
    y = np.zeros((4, 36))
    y[1, -1] = 36.0  # a single spike after 35 zeros
    y[2, -2:] = [5.0, 7.0]  # two months of history only
    y[3, -5:] = [0, 4, 0, 0, 6]
    sel = fc.select_and_forecast(y, start=[0, 0, 34, 31])
    assert sel.model[0] == fc.NO_DEMAND and (sel.forecast[0] == 0).all()
    # the spike is spread over the history: 36 ÷ 36 = 1 a month (not 12 = 1/3 of it)
    assert sel.model[1] == fc.FALLBACK and sel.forecast[1].tolist() == [1.0] * 12
    assert sel.model[2] == fc.FALLBACK and sel.forecast[2].tolist() == [6.0] * 12
    # 5 periods: no origin leaves 3 periods of history to fit on → mean 10 ÷ 5
    assert sel.model[3] == fc.FALLBACK and sel.forecast[3].tolist() == [2.0] * 12
    assert np.isnan(sel.error).all()


def test_intermittent_series_choose_among_all_models():
    y = np.zeros((1, 36))
    y[0, ::4] = 6.0  # demand every 4th month: ADI 4
    sel = fc.select_and_forecast(y)
    assert sel.intermittent.tolist() == [True]
    assert np.isfinite(sel.mae[0, fc.MODELS.index("croston_sba")])
    assert np.isfinite(sel.mae[0, fc.MODELS.index("tsb")])
    # the true rate is 1.5 a month
    assert abs(sel.forecast[0].mean() - 1.5) < 1.0


def test_forecasts_are_never_negative():
    y = _row(np.linspace(100, 0, 36))  # falling to zero
    sel = fc.select_and_forecast(y)
    assert (sel.forecast >= 0).all()


# --------------------------------------------------------------------------- naive loop


def _line(x):
    k = len(x)
    if k < 2:
        return (x[0] if k else 0.0), 0.0
    mu, mx = (k - 1) / 2, sum(x) / k
    den = sum((u - mu) ** 2 for u in range(k))
    slope = sum((u - mu) * (v - mx) for u, v in enumerate(x)) / den
    return mx - slope * mu, slope


def _indices(h, first_col):
    n = len(h)
    if n < 24:
        return [1.0] * 12
    ratios = {p: [] for p in range(12)}
    pairs = []
    for i in range(6, n - 6):
        cma = (0.5 * h[i - 6] + sum(h[i - 5:i + 6]) + 0.5 * h[i + 6]) / 12
        if cma > 0:
            ratios[(first_col + i) % 12].append(h[i] / cma)
            pairs.append(((first_col + i) % 12, h[i] / cma))
    if any(not r for r in ratios.values()):
        return [1.0] * 12
    idx = [sum(r) / len(r) for _, r in sorted(ratios.items())]
    mean = sum(idx) / 12
    idx = [v / mean for v in idx]
    total = sum((r - 1) ** 2 for _, r in pairs)
    rest = sum((r - idx[p]) ** 2 for p, r in pairs)
    strength = 1 - rest / total if total > 0 else 0.0
    if strength <= 0.64 or min(idx) <= 0.05:
        return [1.0] * 12
    return idx


def _naive_fit(h, first_col, horizon):
    """All models for one series whose history h starts at calendar column first_col."""
    n = len(h)
    out = {m: None for m in fc.MODELS}
    end = first_col + n
    if n >= 12:
        out["seasonal_naive"] = [h[n - 12 + i % 12] for i in range(horizon)]
    idx = _indices(h, first_col)
    x = [v / idx[(first_col + i) % 12] for i, v in enumerate(h)]
    seas = [idx[(end + i) % 12] for i in range(horizon)]
    a, b = _line(x[:24])
    best = {}
    grid = [(al, 0.0, 1.0) for al in fc.ALPHAS] + [
        (al, be, ph) for al in fc.ALPHAS for be in fc.BETAS for ph in fc.PHIS]
    for al, be, ph in grid:
        level, trend = (a - b, b) if be > 0 else (a, 0.0)
        sse = 0.0
        for v in x:
            f = level + ph * trend
            e = v - f
            sse += e * e
            level, trend = f + al * e, ph * trend + al * be * e
        family = "damped" if be > 0 else "ses"
        if family not in best or sse < best[family][0]:
            best[family] = (sse, al, ph, level, trend)
    _, al, _, level, _ = best["ses"]
    if n >= 3:
        out["ses"] = [level * s for s in seas]
        slope = _line(x)[1]
        out["theta"] = [(level + slope / 2 * (hh - 1 + 1 / al - (1 - al) ** n / al)) * s
                        for hh, s in zip(range(1, horizon + 1), seas, strict=True)]
    if n >= 6:
        _, _, ph, level, trend = best["damped"]
        out["damped"] = [(level + sum(ph ** j for j in range(1, hh + 1)) * trend) * s
                         for hh, s in zip(range(1, horizon + 1), seas, strict=True)]
    for m in ("ses", "theta", "damped"):
        if out[m] is not None:
            out[m] = [max(v, 0.0) for v in out[m]]
    if out["seasonal_naive"] and out["damped"] and out["theta"]:
        out["combined"] = [(p + q + r) / 3 for p, q, r in zip(
            out["seasonal_naive"], out["damped"], out["theta"], strict=True)]
    demands = [i for i, v in enumerate(h) if v > 0]
    if demands and n / len(demands) > 1.32:
        z, p = h[demands[0]], demands[0] + 1.0
        for prev, i in itertools.pairwise(demands):
            z, p = z + 0.1 * (h[i] - z), p + 0.1 * ((i - prev) - p)
        if len(demands) >= 2:
            out["croston_sba"] = [0.95 * z / p] * horizon
        z, prob = h[demands[0]], 1 / (demands[0] + 1)
        for v in h[demands[0] + 1:]:
            if v > 0:
                z, prob = z + 0.1 * (v - z), prob + 0.1 * (1 - prob)
            else:
                prob = 0.9 * prob
        out["tsb"] = [prob * z] * horizon
    return out


def _naive_select(series, start, horizon):
    t = len(series)
    h = [float(v) for v in series[start:]]
    if not any(v != 0 for v in h):
        return fc.NO_DEMAND, [0.0] * horizon
    errors = {m: [0.0, 0] for m in fc.MODELS}
    needed = 0
    for o in fc.ORIGINS:
        end = t - o
        if end < 1 or end - min(start, end) < 3:
            continue
        k = min(horizon, o)
        needed += k
        fits = _naive_fit([float(v) for v in series[start:end]], start, k)
        for m, f in fits.items():
            if f is not None:
                errors[m][0] += sum(abs(p - q) for p, q in zip(f, series[end:end + k],
                                                               strict=True))
                errors[m][1] += k
    final = _naive_fit(h, start, horizon)
    scores = {m: e / c for m, (e, c) in errors.items()
              if needed and c == needed and final[m] is not None}
    if sum(v > 0 for v in h) < 2 or not scores:
        return fc.FALLBACK, [sum(h) / len(h)] * horizon
    ranked = sorted(scores, key=lambda m: (scores[m], fc.MODELS.index(m)))[:2]
    if len(ranked) == 2 and scores[ranked[1]] > 2 * scores[ranked[0]]:
        ranked = ranked[:1]
    name = "+".join(sorted(ranked, key=fc.MODELS.index))
    return name, [sum(final[m][i] for m in ranked) / len(ranked) for i in range(horizon)]


def _random_series(seed, n=60, months=36):
    rng = np.random.default_rng(seed)
    level = rng.uniform(5, 50, (n, 1))
    t = np.arange(months)
    smooth = level + rng.normal(0, 4, (n, months)) + rng.uniform(-0.5, 0.5, (n, 1)) * t
    season = level * (1 + 0.6 * np.sin(t * np.pi / 6)) + rng.normal(0, 2, (n, months))
    sparse = (rng.random((n, months)) < 0.25) * rng.uniform(1, 9, (n, months))
    kind = rng.integers(0, 3, (n, 1))
    y = np.maximum(np.where(kind == 0, smooth, np.where(kind == 1, season, sparse)), 0)
    y[rng.random(n) < 0.05] = 0.0  # some series without any demand
    start = rng.integers(0, months - 1, n)
    start[rng.random(n) < 0.5] = 0
    return y, start


@pytest.mark.parametrize("seed", [1, 2])
def test_vectorised_equals_the_naive_loop(seed):
    y, start = _random_series(seed)
    sel = fc.select_and_forecast(y, horizon=14, start=start)
    fit = fc.fit_all(y, 14, start)
    for s in range(len(y)):
        ref = _naive_fit([float(v) for v in y[s, start[s]:]], int(start[s]), 14)
        for m, name in enumerate(fc.MODELS):
            if ref[name] is None:
                assert np.isnan(fit.forecast[m, s]).all(), (s, name)
            else:
                assert fit.forecast[m, s] == pytest.approx(ref[name], rel=1e-7, abs=1e-7), \
                    (s, name)
        model, forecast = _naive_select(y[s], int(start[s]), 14)
        assert sel.model[s] == model, s
        assert sel.forecast[s] == pytest.approx(forecast, rel=1e-7, abs=1e-7), s
    assert (sel.forecast >= 0).all()
    kinds = {m for name in sel.model for m in name.split("+")}
    assert {"seasonal_naive", "damped", "theta"} <= kinds
    assert kinds & {"croston_sba", "tsb"}


def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        fc.select_and_forecast(np.zeros(5))
    with pytest.raises(ValueError, match="start"):
        fc.select_and_forecast(np.zeros((2, 5)), start=[0])
    assert math.isnan(fc.select_and_forecast(np.zeros((1, 0))).error[0])
