"""The variants of the KPIs a planner can choose (``sop kpis`` options, the workbook's Config
and the SQL path all take them): sales OTD tolerance, fill-rate level and basis, the vendor
on-time window, the inventory-turns and tracking-signal windows, the accuracy lag and the
labour rate."""

from __future__ import annotations

from dataclasses import dataclass

from .delivery import FILL_BASES, FILL_LEVELS


@dataclass(frozen=True)
class KpiOptions:
    """The variants a planner can choose; they are printed next to the figures."""

    tolerance_days: int = 0  # sales OTD and fill rate
    fill_level: str = "line"  # line | unit | order
    fill_basis: str = "promised"  # promised | requested
    days_early: int | None = None  # vendor OTD; None = unlimited
    days_late: int = 0
    turns_months: int = 1  # inventory turns window ending at the period
    ts_periods: int = 6  # tracking signal window
    lag: int = 1  # accuracy at lag / forecast value added (needs plan snapshots)
    labour_rate: float | None = None  # over/under-absorbed payroll (None: not computed)

    def __post_init__(self) -> None:
        if self.fill_level not in FILL_LEVELS:
            raise ValueError(f"fill level must be one of {', '.join(FILL_LEVELS)}")
        if self.fill_basis not in FILL_BASES:
            raise ValueError(f"fill basis must be one of {', '.join(FILL_BASES)}")
        for name in ("tolerance_days", "days_late", "lag"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be ≥ 0")
        if self.days_early is not None and self.days_early < 0:
            raise ValueError("days_early must be ≥ 0")
        if self.turns_months < 1 or self.ts_periods < 1:
            raise ValueError("turns_months and ts_periods must be ≥ 1")
