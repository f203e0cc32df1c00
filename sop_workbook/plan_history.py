"""The plan history as it is kept in the workbook (table ``plan_history``) and as the
accuracy figures and the plan-snapshot file read it.

*Roll forward* archives the plan as it stood — consensus and baseline per item × location ×
period of the horizon — before it advances the period. In the workbook one archived plan is
laid out like the demand plan grid: one row per snapshot × item × location × layer
(``consensus``, ``baseline``) with the periods across, ``p01`` being the snapshot's own
period (the workbook's current period when it was rolled), ``p02`` the next and so on — so
``pNN`` is the forecast of period snapshot + NN − 1 made **at lag NN − 1**. At 2,000 items
× 3 locations one roll adds 12,000 rows of 16 cells (the long form below would add 72,000
rows of 6 cells: Excel's row limit after 14 rolls, against 87 here).

The long form — one row per snapshot × period × item × location with ``quantity`` (the
consensus) and ``baseline_quantity`` — is what :mod:`sop_workbook.review.demand_accuracy`, ``sop
kpis --snapshots`` and ``sop history`` use (:data:`LONG_COLUMNS`). :func:`to_table` and
:func:`to_long` convert between them; ``to_long(table, lags=…)`` gives only the lags a
figure needs (the demand review's accuracy uses lags 1 and 3), without unfolding the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import SopError
from .frames import key_text as _text
from .frames import per_unique
from .periods import format_period, parse_period

KEYS = ["item_no", "location_code"]
#: The plan-snapshot form (``sop kpis --snapshots``, ``sop history``).
LONG_COLUMNS = ["snapshot_period", "period", *KEYS, "quantity", "baseline_quantity"]
#: The layers of an archived plan, in row order, and the long-form column each fills.
LAYERS = {"consensus": "quantity", "baseline": "baseline_quantity"}
#: Periods of an archived plan (the plan's horizon at most).
SLOTS = 12
PERIOD_COLUMNS = [f"p{k:02d}" for k in range(1, SLOTS + 1)]
#: The columns of table ``plan_history``.
TABLE_COLUMNS = ["snapshot_period", *KEYS, "layer", *PERIOD_COLUMNS]


class PeriodError(ValueError):
    """A period cell that is neither ``YYYY-MM`` text nor a date: ``offset`` is its row's
    index label in the frame read (a table's offset below its header), ``column`` its
    column."""

    def __init__(self, offset, column, value) -> None:
        super().__init__(f"period {value!r} is not YYYY-MM")
        self.offset, self.column, self.value = offset, column, value


def _months(periods: pd.Series) -> np.ndarray:
    """Month indexes of period cells (``YYYY-MM`` text or a date Excel made of it), parsed
    once per distinct value; a :class:`PeriodError` naming the first that is neither."""
    try:
        return np.asarray(per_unique(periods.reset_index(drop=True), lambda s: s.map(
            lambda v: parse_period(period_text(v)))), dtype=np.int64)
    except SopError:
        for label, value in periods.items():
            try:
                parse_period(period_text(value))
            except SopError:
                raise PeriodError(label, periods.name, value) from None
        raise


def period_text(value) -> str:
    """A period cell as ``YYYY-MM`` (Excel may have turned typed text into a date)."""
    if hasattr(value, "year") and hasattr(value, "month"):
        return f"{value.year:04d}-{value.month:02d}"
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) \
        else str(value).strip()


def _key_text(values: pd.Series) -> np.ndarray:
    """Key cells as the other tables' keys are read (:func:`frames.key_text`: a number
    read back as 1001.0 is ``'1001'``); an empty cell is ``''``."""
    return _text(values.reset_index(drop=True).astype(object).where(values.notna().to_numpy(),
                                                                    "")).to_numpy(dtype=object)


def to_table(snapshot: pd.DataFrame) -> pd.DataFrame:
    """Long-form snapshot rows (:data:`LONG_COLUMNS`) as rows of table ``plan_history``
    (:data:`TABLE_COLUMNS`): per snapshot × item × location a consensus and a baseline row,
    sorted by snapshot, item, location. A period more than 11 after its snapshot is an
    error (the plan's horizon is 12 periods at most)."""
    if snapshot.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    snaps = _months(snapshot["snapshot_period"])
    offset = _months(snapshot["period"]) - snaps
    if offset.min() < 0 or offset.max() >= SLOTS:
        raise ValueError(f"a plan snapshot holds periods 0 to {SLOTS - 1} after its "
                         f"snapshot period, not {int(offset.min())} to {int(offset.max())}")
    keys = pd.DataFrame({"snap": snaps,
                         "item_no": _key_text(snapshot["item_no"]),
                         "location_code": _key_text(snapshot["location_code"])})
    series = keys.drop_duplicates().sort_values(["snap", *KEYS], kind="stable")
    series = series.reset_index(drop=True)
    index = pd.MultiIndex.from_frame(series)
    row = index.get_indexer(pd.MultiIndex.from_frame(keys))
    n = len(series)
    frames = []
    for layer, column in LAYERS.items():
        grid = np.full((n, SLOTS), np.nan)
        grid[row, offset] = pd.to_numeric(snapshot[column], errors="coerce").to_numpy(
            dtype=float)
        part = pd.DataFrame(grid, columns=PERIOD_COLUMNS)
        part.insert(0, "layer", layer)
        part.insert(0, "location_code", series["location_code"].to_numpy())
        part.insert(0, "item_no", series["item_no"].to_numpy())
        part.insert(0, "snapshot_period", [format_period(int(m)) for m in series["snap"]])
        part["_order"] = np.arange(n) * len(LAYERS) + len(frames)
        frames.append(part)
    out = pd.concat(frames, ignore_index=True).sort_values("_order", kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def columns_for(lags: Iterable[int]) -> list[str]:
    """The columns of table ``plan_history`` that :func:`to_long` reads for ``lags``."""
    return ["snapshot_period", *KEYS, "layer",
            *(PERIOD_COLUMNS[k] for k in sorted({int(k) for k in lags}) if 0 <= k < SLOTS)]


def snapshot_months(table: pd.DataFrame) -> np.ndarray:
    """The month indexes of the filled snapshot periods of table ``plan_history`` rows,
    in row order (a :class:`PeriodError` for one that is not a period)."""
    if table is None or table.empty or "snapshot_period" not in table:
        return np.zeros(0, dtype=np.int64)
    periods = table["snapshot_period"]
    return _months(periods[_filled(periods)])


def check_periods(table: pd.DataFrame) -> None:
    """A :class:`PeriodError` for the first filled snapshot period of table
    ``plan_history`` rows that is not a period (the check :func:`to_long` makes)."""
    if table is None or table.empty or "snapshot_period" not in table:
        return
    periods = table["snapshot_period"]
    _months(periods[_filled(periods)])


def _filled(periods: pd.Series) -> np.ndarray:
    """Which period cells are not empty (a mask)."""
    return np.asarray(per_unique(periods.reset_index(drop=True),
                                 lambda s: s.map(lambda v: bool(period_text(v)))), dtype=bool)


def to_long(table: pd.DataFrame, lags: Iterable[int] | None = None) -> pd.DataFrame:
    """Table ``plan_history`` rows in the long form (:data:`LONG_COLUMNS`): periods as
    ``YYYY-MM``, quantities as numbers, a cell without a value in both layers left out;
    ``lags``: only the periods that many periods after their snapshot (lag 0 = the
    snapshot's own period). Sorted by snapshot, period, item, location."""
    wanted = range(SLOTS) if lags is None else sorted({int(k) for k in lags})
    wanted = [k for k in wanted if 0 <= k < SLOTS]
    if table is None or table.empty or not wanted:
        return pd.DataFrame({c: pd.Series(dtype=float if "quantity" in c else object)
                             for c in LONG_COLUMNS})
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"plan_history has no column {missing[0]!r}")
    table = table[_filled(table["snapshot_period"])]
    snaps = _months(table["snapshot_period"])
    layer = table["layer"].astype(str).str.strip().str.lower().to_numpy()
    keys = pd.DataFrame({"snap": snaps, "item_no": _key_text(table["item_no"]),
                         "location_code": _key_text(table["location_code"])})
    series = keys.drop_duplicates().reset_index(drop=True)
    row = pd.MultiIndex.from_frame(series).get_indexer(pd.MultiIndex.from_frame(keys))
    values = {}
    for name, column in LAYERS.items():
        grid = np.full((len(series), len(wanted)), np.nan)
        mine = layer == name
        cols = [PERIOD_COLUMNS[k] for k in wanted]
        grid[row[mine]] = table.loc[mine, cols].apply(
            pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        values[column] = grid.ravel()
    n = len(series)
    lag = np.tile(np.asarray(wanted, dtype=np.int64), n)
    snap = np.repeat(series["snap"].to_numpy(dtype=np.int64), len(wanted))
    months = snap + lag
    labels = {m: format_period(int(m)) for m in np.unique(np.concatenate([snap, months]))}
    out = pd.DataFrame({
        "snapshot_period": [labels[m] for m in snap],
        "period": [labels[m] for m in months],
        "item_no": np.repeat(series["item_no"].to_numpy(), len(wanted)),
        "location_code": np.repeat(series["location_code"].to_numpy(), len(wanted)),
        "quantity": values["quantity"],
        "baseline_quantity": values["baseline_quantity"],
    })
    out["_snap"], out["_month"] = snap, months
    out = out[~(np.isnan(values["quantity"]) & np.isnan(values["baseline_quantity"]))]
    out = out.sort_values(["_snap", "_month", *KEYS], kind="stable")
    return out.drop(columns=["_snap", "_month"]).reset_index(drop=True)


def snapshot_periods(table: pd.DataFrame) -> list[str]:
    """The archived plans' snapshot periods, oldest first."""
    if table is None or table.empty:
        return []
    texts = {period_text(v) for v in table["snapshot_period"]} - {""}
    return sorted(texts, key=parse_period)
