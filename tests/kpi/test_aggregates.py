"""The workbook's aggregate tables give the same figures as the KPI engine, for the total
and for every member of every cut, on the demo data."""

import math

import pytest

from sop_workbook import demo_data
from sop_workbook.aggregate_tables import build_aggregates
from sop_workbook.kpi import (
    build_facts,
    close_ratio,
    commit_vs_closed,
    days_of_supply,
    fill_rate,
    forecast_error,
    inventory_turns,
    sales_otd,
    schedule_attainment,
    tracking_signal,
    vendor_otd,
)
from sop_workbook.kpi import ratios as agg_kpi
from sop_workbook.kpi.options import KpiOptions
from sop_workbook.loader import load_source

PERIODS = ["2026-10", "2026-06", "2025-12"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    demo_data.write(folder, items=12, months=14)
    facts = build_facts(load_source(folder))
    options = KpiOptions(tolerance_days=1, days_early=5, days_late=2)
    return facts, options, build_aggregates(facts, options)


def same(a, b):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and a == pytest.approx(b, rel=1e-9, abs=1e-9)


CASES = [
    ("agg_sales", agg_kpi.sales_otd, lambda f, o, p, by: sales_otd(
        f, p, tolerance_days=o.tolerance_days, by=by), "value",
     ["item", "category", "location"]),
    ("agg_sales", agg_kpi.fill_rate, lambda f, o, p, by: fill_rate(
        f, p, tolerance_days=o.tolerance_days, by=by), "value", ["item", "category", "location"]),
    ("agg_customer", agg_kpi.fill_rate, lambda f, o, p, by: fill_rate(
        f, p, tolerance_days=o.tolerance_days, by=by), "value", ["customer", "salesperson"]),
    ("agg_vendor", agg_kpi.vendor_otd, lambda f, o, p, by: vendor_otd(
        f, p, days_early=o.days_early, days_late=o.days_late, by=by), "value",
     ["vendor", "item"]),
    ("agg_production", agg_kpi.schedule_attainment, lambda f, o, p, by: schedule_attainment(
        f, p, by=by), "value", ["item", "location", "work_center"]),
    ("agg_sales", agg_kpi.inventory_turns, lambda f, o, p, by: inventory_turns(f, p, by=by),
     "value", ["category", "location"]),
    ("agg_sales", agg_kpi.days_of_supply, lambda f, o, p, by: days_of_supply(f, p, by=by),
     "value", ["item", "location"]),
    ("agg_sales", agg_kpi.forecast_accuracy, lambda f, o, p, by: forecast_error(f, p, by=by),
     "accuracy", ["item", "category", "location"]),
    ("agg_customer", agg_kpi.forecast_bias, lambda f, o, p, by: forecast_error(f, p, by=by),
     "bias", ["customer", "salesperson"]),
    ("agg_funnel", agg_kpi.close_ratio, lambda f, o, p, by: close_ratio(f, p, by=by),
     "value", ["salesperson", "customer"]),
]


@pytest.mark.parametrize("table,udf_fn,engine_fn,column,dims", CASES,
                         ids=[f"{c[0]}-{c[1].__name__}-{c[4][0]}" for c in CASES])
def test_aggregates_match_the_engine(demo, table, udf_fn, engine_fn, column, dims):
    facts, options, aggs = demo
    checked = 0
    for period in PERIODS:
        total = engine_fn(facts, options, period, None)
        expected = getattr(total, "accuracy" if column == "accuracy" else
                           "bias" if column == "bias" else "value")
        assert same(udf_fn(aggs[table], period), expected), (period, "total")
        for dim in dims:
            frame = engine_fn(facts, options, period, dim)
            for member, row in frame.iterrows():
                value = None if math.isnan(row[column]) else row[column]
                assert same(udf_fn(aggs[table], period, dim, member), value), (period, dim,
                                                                              member)
                checked += 1
    assert checked >= 10  # the cuts really were compared


def test_tracking_signal_and_commit_match(demo):
    facts, _, aggs = demo
    for period in PERIODS:
        assert same(agg_kpi.tracking_signal(aggs["agg_sales"], period),
                    tracking_signal(facts, period))
        for category, value in tracking_signal(facts, period, by="category").items():
            assert same(agg_kpi.tracking_signal(aggs["agg_sales"], period, "category",
                                                category), value)
        assert same(agg_kpi.commit_vs_closed(aggs["agg_funnel"], period),
                    commit_vs_closed(facts, period).ratio)
