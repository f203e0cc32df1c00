"""What a review cycle starts from besides the data: the Config sheet's planning settings
and the planners' inputs (overrides, events, plan snapshots, decisions, actions), as the
actions (:mod:`sop_workbook.actions`) read them from the workbook; and when a decision
or action row counts as open."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

CLOSED_STATUSES = {"done", "cancelled", "closed", "approved", "rejected"}


@dataclass
class Settings:
    """The Config sheet's planning settings."""

    current: str
    horizon: int = 12
    safety_days: float = 14.0
    lookahead: int = 3
    labour_rate: float = 0.0


@dataclass
class Inputs:
    """The planners' inputs, read from the workbook (empty frames when none)."""

    overrides: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    snapshots: pd.DataFrame = field(default_factory=pd.DataFrame)
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    actions: pd.DataFrame = field(default_factory=pd.DataFrame)


def is_open(frame: pd.DataFrame) -> pd.Series:
    """Per decision or action row: its status is not one of :data:`CLOSED_STATUSES`."""
    status = frame.get("status", pd.Series("", index=frame.index)).fillna("").astype(str)
    return ~status.str.strip().str.lower().isin(CLOSED_STATUSES)


def listed_actions(inputs: Inputs) -> pd.DataFrame | None:
    """The action log's rows that name an action (``None`` when it has none)."""
    act = inputs.actions
    if len(act) and "action" in act:
        return act[act["action"].notna() & (act["action"].astype(str).str.strip() != "")]
    return None
