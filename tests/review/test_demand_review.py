"""Demand review tables from aggregates: accuracy trend (lag 1 and 3, bias, FVA) and
accuracy by item worked by hand, equal to the KPI engine on the same data; category
series for the chart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sop_workbook.aggregate_tables import build_aggregates
from sop_workbook.kpi import accuracy_at_lag, build_facts, forecast_value_added
from sop_workbook.loader import load_source
from sop_workbook.review import demand_accuracy as dr
from tests.sources import write_source

# Actual invoiced quantities (item, location, period): 2026-03: A MAIN 100, A EAST 20,
# B MAIN 50; 2026-04: A MAIN 80, B EAST 40; 2026-05: A MAIN 60.
ACTUALS = [("A", "MAIN", "2026-03", 100), ("A", "EAST", "2026-03", 20),
           ("B", "MAIN", "2026-03", 50), ("A", "MAIN", "2026-04", 80),
           ("B", "EAST", "2026-04", 40), ("A", "MAIN", "2026-05", 60)]

# Plan history: (snapshot_period, period, item, location, consensus, baseline)
SNAPSHOTS = pd.DataFrame([
    ("2026-02", "2026-03", "A", "MAIN", 90.0, 110.0),
    ("2026-02", "2026-03", "A", "EAST", 30.0, 20.0),
    ("2026-02", "2026-03", "B", "MAIN", 60.0, 40.0),
    ("2026-02", "2026-05", "A", "MAIN", 50.0, 70.0),
    ("2026-02", "2026-05", "B", "EAST", 10.0, 0.0),
    ("2026-03", "2026-04", "A", "MAIN", 100.0, 70.0),
    ("2026-03", "2026-04", "B", "EAST", 40.0, 30.0),
    ("2026-03", "2026-04", "B", "MAIN", 10.0, 0.0),
    ("2026-01", "2026-04", "A", "MAIN", 60.0, 60.0),
], columns=["snapshot_period", "period", "item_no", "location_code", "quantity",
            "baseline_quantity"])

PERIODS = ["2026-03", "2026-04", "2026-05", "2026-06"]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    rows = [{"invoice_no": f"I{i}", "line_no": 1, "posting_date": f"{p}-15",
             "customer_no": "C1", "item_no": item, "location_code": loc, "quantity": q,
             "amount": q * 2, "cost_amount": q}
            for i, (item, loc, p, q) in enumerate(ACTUALS)]
    folder = write_source(tmp_path_factory.mktemp("review"), sales_invoices=rows)
    facts = build_facts(load_source(str(folder)))
    return facts, build_aggregates(facts)["agg_sales"]


def test_accuracy_trend_by_hand(source):
    _, agg_sales = source
    trend = dr.accuracy_trend(agg_sales, SNAPSHOTS, PERIODS).set_index("period")
    assert list(trend.columns) == ["actual", "accuracy_lag1", "bias_lag1", "accuracy_lag3",
                                   "bias_lag3", "baseline_accuracy_lag1", "fva_lag1"]
    # 2026-03, lag 1 = snapshot 2026-02: cells (A, F, baseline) A MAIN (100, 90, 110),
    # A EAST (20, 30, 20), B MAIN (50, 60, 40); ΣA 170, Σ|A−F| 30, ΣF 180,
    # Σ|A−baseline| 10 + 0 + 10 = 20. Lag 3 = snapshot 2025-12: none.
    mar = trend.loc["2026-03"]
    assert mar["actual"] == 170
    assert mar["accuracy_lag1"] == pytest.approx(1 - 30 / 170)
    assert mar["bias_lag1"] == pytest.approx(10 / 170)
    assert mar["baseline_accuracy_lag1"] == pytest.approx(1 - 20 / 170)
    assert mar["fva_lag1"] == pytest.approx(-10 / 170)
    assert mar["accuracy_lag3"] is None and mar["bias_lag3"] is None
    # 2026-04, lag 1 = snapshot 2026-03: A MAIN (80, 100, 70), B EAST (40, 40, 30),
    # B MAIN (0, 10, 0): ΣA 120, Σ|A−F| 20 + 0 + 10 = 30, ΣF 150, baseline errors 10+10+0
    # Lag 3 = snapshot 2026-01: A MAIN F 60 vs 80 → 20, B EAST F 0 vs 40 → 40; ΣF 60
    apr = trend.loc["2026-04"]
    assert apr["accuracy_lag1"] == pytest.approx(0.75)
    assert apr["bias_lag1"] == pytest.approx(0.25)
    assert apr["baseline_accuracy_lag1"] == pytest.approx(100 / 120)
    assert apr["fva_lag1"] == pytest.approx(-10 / 120)
    assert apr["accuracy_lag3"] == pytest.approx(0.5)
    assert apr["bias_lag3"] == pytest.approx(-0.5)
    # 2026-05: no snapshot 2026-04 → lag 1 has no value; lag 3 = snapshot 2026-02:
    # A MAIN (60, 50), B EAST (0, 10): Σ|A−F| 20 of ΣA 60, ΣF 60 → bias 0
    may = trend.loc["2026-05"]
    assert may["actual"] == 60
    assert [may[c] for c in ("accuracy_lag1", "bias_lag1", "baseline_accuracy_lag1",
                             "fva_lag1")] == [None] * 4
    assert may["accuracy_lag3"] == pytest.approx(40 / 60)
    assert may["bias_lag3"] == pytest.approx(0.0)
    # 2026-06: nothing at all
    assert trend.loc["2026-06"].drop("actual").isna().all() and trend.loc["2026-06",
                                                                           "actual"] == 0


def _kpi(value):
    return None if value is None else value.accuracy, None if value is None else value.bias


def test_accuracy_trend_equals_the_kpi_engine(source):
    facts, agg_sales = source
    trend = dr.accuracy_trend(agg_sales, SNAPSHOTS, PERIODS).set_index("period")
    for period in PERIODS:
        for lag in (1, 3):
            acc, bias = _kpi(accuracy_at_lag(facts, SNAPSHOTS, period, lag=lag))
            assert trend.loc[period, f"accuracy_lag{lag}"] == (
                pytest.approx(acc) if acc is not None else None)
            assert trend.loc[period, f"bias_lag{lag}"] == (
                pytest.approx(bias) if bias is not None else None)
        fva = forecast_value_added(facts, SNAPSHOTS, period, lag=1)
        assert trend.loc[period, "fva_lag1"] == (pytest.approx(fva) if fva is not None
                                                 else None)
        base, _ = _kpi(accuracy_at_lag(facts, SNAPSHOTS, period, lag=1,
                                       column="baseline_quantity"))
        assert trend.loc[period, "baseline_accuracy_lag1"] == (
            pytest.approx(base) if base is not None else None)


def test_random_plans_equal_the_kpi_engine(tmp_path):
    rng = np.random.default_rng(11)
    periods = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    invoices = []
    for i in range(60):
        p = periods[rng.integers(len(periods))]
        invoices.append({"invoice_no": f"I{i}", "line_no": 1,
                         "posting_date": f"{p}-{rng.integers(1, 28):02d}",
                         "customer_no": ["C1", "C2"][i % 2],
                         "item_no": ["A", "B"][rng.integers(2)],
                         "location_code": ["MAIN", "EAST"][rng.integers(2)],
                         "quantity": int(rng.integers(1, 30)), "amount": 1, "cost_amount": 0})
    facts = build_facts(load_source(str(write_source(tmp_path / "src",
                                                     sales_invoices=invoices))))
    agg = build_aggregates(facts)["agg_sales"]
    snaps = []
    for snap in ["2025-12", "2026-01", "2026-02", "2026-04"]:
        for p in periods:
            for item in "AB":
                for loc in ("MAIN", "EAST"):
                    if p > snap and rng.random() < 0.7:
                        snaps.append((snap, p, item, loc, float(rng.integers(0, 40)),
                                      float(rng.integers(0, 40))))
    snaps = pd.DataFrame(snaps, columns=SNAPSHOTS.columns)
    trend = dr.accuracy_trend(agg, snaps, periods).set_index("period")
    compared = 0
    for period in periods:
        for lag in (1, 3):
            acc, bias = _kpi(accuracy_at_lag(facts, snaps, period, lag=lag))
            got = trend.loc[period, f"accuracy_lag{lag}"]
            assert (got is None) == (acc is None)
            if acc is not None:
                compared += 1
                assert got == pytest.approx(acc)
                assert trend.loc[period, f"bias_lag{lag}"] == pytest.approx(bias)
        fva = forecast_value_added(facts, snaps, period, lag=1)
        assert (trend.loc[period, "fva_lag1"] is None) == (fva is None)
        if fva is not None:
            assert trend.loc[period, "fva_lag1"] == pytest.approx(fva)
    assert compared >= 5


def test_accuracy_by_item_by_hand(source):
    _, agg_sales = source
    items = pd.DataFrame({"item_no": ["A", "B"], "description": ["Widget A", "Gadget B"],
                          "category": ["WIDGETS", "GADGETS"]})
    out = dr.accuracy_by_item(agg_sales, SNAPSHOTS, ["2026-03", "2026-04", "2026-05"],
                              lag=1, items=items)
    assert list(out.columns) == ["item_no", "description", "category", "actual",
                                 "consensus", "baseline", "abs_error_consensus",
                                 "abs_error_baseline", "accuracy_consensus",
                                 "accuracy_baseline", "fva", "bias", "worse"]
    # 2026-05 has no lag-1 snapshot: left out (its 60 of actuals too).
    # A: cells 03 MAIN (100, 90, 110), 03 EAST (20, 30, 20), 04 MAIN (80, 100, 70)
    #   actual 200, consensus 220, baseline 200, |A−F| 10 + 10 + 20 = 40,
    #   |A−B| 10 + 0 + 10 = 20 → accuracy 0.8 vs 0.9, FVA −0.1, bias 20/200, worse
    #   (summed first at the item, March would be 120 vs 120: no error — the cell grain
    #   keeps it)
    # B: 03 MAIN (50, 60, 40), 04 EAST (40, 40, 30), 04 MAIN (0, 10, 0)
    #   actual 90, consensus 110, baseline 70, |A−F| 10 + 0 + 10 = 20, |A−B| 10 + 10 + 0
    #   = 20 → accuracy 70/90 both, FVA 0, bias 20/90, not worse
    # TOTAL from the cells: actual 290, consensus 330, baseline 270, errors 60 and 40
    rows = out.set_index("item_no")
    assert out["item_no"].tolist() == ["A", "B", "TOTAL"]  # largest error first
    assert rows.loc["A", ["actual", "consensus", "baseline", "abs_error_consensus",
                          "abs_error_baseline"]].tolist() == [200, 220, 200, 40, 20]
    assert rows.loc["A", "accuracy_consensus"] == pytest.approx(0.8)
    assert rows.loc["A", "accuracy_baseline"] == pytest.approx(0.9)
    assert rows.loc["A", "fva"] == pytest.approx(-0.1)
    assert rows.loc["A", "bias"] == pytest.approx(0.1)
    assert rows.loc["A", "worse"] is True
    assert rows.loc["A", "description"] == "Widget A"
    assert rows.loc["B", "accuracy_consensus"] == pytest.approx(70 / 90)
    assert rows.loc["B", "fva"] == pytest.approx(0.0)
    assert rows.loc["B", "bias"] == pytest.approx(20 / 90)
    assert rows.loc["B", "worse"] is False
    assert rows.loc["TOTAL", ["actual", "consensus", "baseline", "abs_error_consensus",
                              "abs_error_baseline"]].tolist() == [290, 330, 270, 60, 40]
    assert rows.loc["TOTAL", "accuracy_consensus"] == pytest.approx(230 / 290)
    assert rows.loc["TOTAL", "accuracy_baseline"] == pytest.approx(250 / 290)
    assert rows.loc["TOTAL", "fva"] == pytest.approx(-20 / 290)
    assert rows.loc["TOTAL", "bias"] == pytest.approx(40 / 290)
    assert rows.loc["TOTAL", "worse"] is True


def test_accuracy_by_item_without_snapshots_has_only_an_empty_total(source):
    _, agg_sales = source
    out = dr.accuracy_by_item(agg_sales, SNAPSHOTS.iloc[:0], ["2026-03"])
    assert out["item_no"].tolist() == ["TOTAL"]
    assert out.loc[0, "actual"] == 0 and out.loc[0, "accuracy_consensus"] is None
    assert out.loc[0, "worse"] is None


def test_category_series_by_hand():
    items = pd.DataFrame({"item_no": ["A", "B", "C"], "category": ["WIDGETS", "GADGETS",
                                                                    "WIDGETS"]})
    sales = pd.DataFrame([
        ("2025-12", "A", "MAIN", 100, 100),  # before the 3-month window
        ("2026-01", "A", "MAIN", 5, 4),
        ("2026-02", "C", "EAST", 7, 7),
        ("2026-03", "A", "MAIN", 1, 2),
        ("2026-03", "B", "MAIN", 3, 3),
        ("2026-03", "Z", "MAIN", 2, 2),  # not in items → (none)
    ], columns=["period", "item_no", "location_code", "shipped_qty", "invoiced_qty"])
    plan = pd.DataFrame([
        ("A", "MAIN", "2026-04", 10.0, 12.0), ("C", "EAST", "2026-04", 5.0, 5.0),
        ("A", "MAIN", "2026-05", 10.0, 0.0), ("B", "MAIN", "2026-05", 3.0, 4.0),
    ], columns=["item_no", "location_code", "period", "baseline", "consensus"])
    out = dr.category_series(sales, sales, plan, items, "2026-04", months_back=3)
    assert list(out.columns) == ["category", "period", "shipped_qty", "invoiced_qty",
                                 "baseline", "consensus"]
    got = [tuple(r) for r in out.itertuples(index=False)]
    n = None
    assert got == [
        ("(none)", "2026-01", 0, 0, n, n), ("(none)", "2026-02", 0, 0, n, n),
        ("(none)", "2026-03", 2, 2, n, n), ("(none)", "2026-04", n, n, 0, 0),
        ("(none)", "2026-05", n, n, 0, 0),
        ("GADGETS", "2026-01", 0, 0, n, n), ("GADGETS", "2026-02", 0, 0, n, n),
        ("GADGETS", "2026-03", 3, 3, n, n), ("GADGETS", "2026-04", n, n, 0, 0),
        ("GADGETS", "2026-05", n, n, 3, 4),
        # WIDGETS = A + C: Jan A 5/4, Feb C 7/7, Mar A 1/2; Apr 10 + 5 / 12 + 5; May 10 / 0
        ("WIDGETS", "2026-01", 5, 4, n, n), ("WIDGETS", "2026-02", 7, 7, n, n),
        ("WIDGETS", "2026-03", 1, 2, n, n), ("WIDGETS", "2026-04", n, n, 15, 17),
        ("WIDGETS", "2026-05", n, n, 10, 0),
    ]
