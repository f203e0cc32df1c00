"""One review cycle: every review stage's tables, computed in sheet order from the
workbook's aggregate tables.

One pure function per stage (in its module of :mod:`sop_workbook.review`) turns the
aggregates *Refresh* wrote (or the ones already in the workbook, for *Roll forward*) plus
the planners' inputs (overrides, events, decisions, actions, settings) into the tables
the stage sheets show. No workbook access here: the actions (:mod:`sop_workbook.actions`)
read inputs and write results through an adapter.

Stage → tables:

- 1 Performance: ``perf_actions`` (:mod:`~sop_workbook.review.performance`).
- 2 Demand: ``plan_demand``, ``demand_rollup``, ``demand_accuracy``, ``demand_fva``
  (:mod:`~sop_workbook.review.demand`).
- 3 Supply: ``supply_capacity``, ``supply_projection``, ``supply_exceptions``
  (:mod:`~sop_workbook.review.supply`).
- 4 Finance: ``fin_plan_value``, ``fin_cash_need``, ``fin_value_summary``,
  ``fin_actual_vs_budget``, ``fin_value_issues`` (:mod:`~sop_workbook.review.finance`).
- 5 Pre-S&OP: ``presop_scenarios``, ``presop_scenario_periods``, ``presop_gaps``
  (:mod:`~sop_workbook.review.presop`).
- 6 Executive: ``exec_needed``, ``exec_actions`` (:mod:`~sop_workbook.review.executive`).
"""

from __future__ import annotations

import pandas as pd

from .demand import demand_stage
from .executive import executive_stage
from .finance import finance_stage
from .inputs import Inputs, Settings
from .performance import performance_stage
from .presop import presop_stage
from .supply import supply_stage


def build_stage_tables(agg: dict[str, pd.DataFrame], inputs: Inputs, settings: Settings
                       ) -> dict[str, pd.DataFrame]:
    """Every review-stage table, by Excel table name."""
    demand = demand_stage(agg, inputs, settings)
    plan = demand.plan
    supply_tables, supply = supply_stage(agg, plan, settings)
    tables = {**demand.tables, **supply_tables}
    tables.update(finance_stage(agg, plan, supply["load"], settings, supply["cells"]))
    tables.update(presop_stage(agg, plan, settings, supply))
    tables.update(executive_stage(inputs, tables.get("presop_gaps")))
    tables.update(performance_stage(inputs, settings))
    return tables
