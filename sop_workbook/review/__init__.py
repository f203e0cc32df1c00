"""The review stages, one module each in sheet order, each owning its computation.

- :mod:`.performance` — 1 Performance (the KPI cells themselves: :mod:`sop_workbook.kpi`).
- :mod:`.demand` — 2 Demand's tables; :mod:`.demand_plan` the demand plan's layers
  (baseline, override, events, commits, consensus, roll forward);
  :mod:`.demand_accuracy` forecast accuracy, bias and FVA.
- :mod:`.supply` — 3 Supply: capacity load, projected inventory, exceptions.
- :mod:`.finance` — 4 Finance: volume to value, cash need, actual vs budget.
- :mod:`.presop` — 5 Pre-S&OP: scenarios and gaps.
- :mod:`.executive` — 6 Executive: decisions needed, open actions.
- :mod:`.cycle` — one review cycle: every stage in turn (:func:`.cycle.build_stage_tables`);
  :mod:`.inputs` the settings and planners' inputs it starts from; :mod:`.loaded` which
  periods have actuals.
- :mod:`.forecasting` — the statistical baseline's models.

Shared frame and cell helpers: :mod:`sop_workbook.frames`.
"""
