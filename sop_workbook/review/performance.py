"""1 Performance: the sheet's KPI cells are the UDFs of :mod:`sop_workbook.kpi`; the
stage's own table is ``perf_actions`` — the performance review's actions: those of the
last cycle (the last closed period) and older ones still open, by due date."""

from __future__ import annotations

import pandas as pd

from ..periods import format_period, parse_period
from .inputs import Inputs, Settings, is_open, listed_actions


def performance_stage(inputs: Inputs, settings: Settings) -> dict[str, pd.DataFrame]:
    """The Performance sheet's ``perf_actions`` (module docstring)."""
    act = listed_actions(inputs)
    if act is not None:
        due = pd.to_datetime(act.get("due"), errors="coerce")
        last_cycle = format_period(parse_period(settings.current) - 1)
        cycle = act.get("cycle", pd.Series("", index=act.index)).fillna("").astype(str)
        perf = act[(cycle == last_cycle) | (is_open(act) & (cycle < last_cycle))]
        perf = perf.assign(_d=due).sort_values("_d", na_position="last")
        perf_actions = perf[["action", "owner", "due", "status", "id", "cycle"]]
    else:
        perf_actions = pd.DataFrame(columns=["action", "owner", "due", "status", "id", "cycle"])
    return {"perf_actions": perf_actions.reset_index(drop=True)}
