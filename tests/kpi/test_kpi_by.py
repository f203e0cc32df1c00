"""SOP_KPI_BY's table (kpi_by) equals the KPI computed member by member with the
single-cut function, for every KPI and every dimension its aggregate table has."""

from __future__ import annotations

import math

import pytest

from sop_workbook import demo_data
from sop_workbook.aggregate_tables import build_aggregates
from sop_workbook.kpi import build_facts
from sop_workbook.kpi.ratios import DIMENSION_COLUMNS, KPI_FUNCTIONS, kpi_by, select
from sop_workbook.kpi.standards import labour_aggregate, lead_time_aggregate
from sop_workbook.loader import load_source

TABLE_OF = {"sales_otd": "agg_sales", "fill_rate": "agg_sales", "vendor_otd": "agg_vendor",
            "schedule_attainment": "agg_production", "inventory_turns": "agg_sales",
            "days_of_supply": "agg_sales", "forecast_accuracy": "agg_sales",
            "forecast_bias": "agg_sales", "tracking_signal": "agg_sales",
            "close_ratio": "agg_funnel", "commit_vs_closed": "agg_funnel",
            "lead_time_adherence": "agg_lead_time", "labour_absorption": "agg_labour"}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kpiby") / "data"
    demo_data.write(folder, items=12, months=14)
    data = load_source(folder)
    return {**build_aggregates(build_facts(data)), "agg_lead_time": lead_time_aggregate(data),
            "agg_labour": labour_aggregate(data)}


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("kpi", sorted(KPI_FUNCTIONS))
def test_kpi_by_equals_the_kpi_member_by_member(tables, kpi):
    table = tables[TABLE_OF[kpi]]
    period = sorted(set(table["period"].astype(str)))[-2]
    fn = KPI_FUNCTIONS[kpi]
    checked = 0
    for dimension, column in DIMENSION_COLUMNS.items():
        if column not in table:
            continue
        got = kpi_by(table, kpi, period, dimension)
        members = sorted(set(select(table, period)[column].astype(str)))
        assert got[dimension].tolist() == members
        for member, value in zip(got[dimension], got["value"], strict=True):
            assert _same(value, fn(table, period, dimension, member)), (dimension, member)
            checked += 1
    assert checked > 0
