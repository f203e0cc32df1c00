"""Table plan_history's layout (one row per archived plan × item × location × layer, the
periods across) and the long form the accuracy figures and `sop history` read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sop_workbook.plan_history import LONG_COLUMNS, TABLE_COLUMNS, to_long, to_table

# the plan archived at 2026-11 (horizon 3) and at 2026-12 (horizon 2), two series
LONG = pd.DataFrame([
    ["2026-11", "2026-11", "A", "MAIN", 10.0, 9.0],
    ["2026-11", "2026-12", "A", "MAIN", 11.0, 9.5],
    ["2026-11", "2027-01", "A", "MAIN", 12.0, 10.0],
    ["2026-11", "2026-11", "B", "EAST", 1.0, 2.0],
    ["2026-11", "2026-12", "B", "EAST", 0.0, 2.0],
    ["2026-11", "2027-01", "B", "EAST", 3.0, 2.0],
    ["2026-12", "2026-12", "A", "MAIN", 20.0, 19.0],
    ["2026-12", "2027-01", "A", "MAIN", 21.0, 19.5],
], columns=LONG_COLUMNS)


def test_an_archived_plan_is_laid_out_like_the_plan_grid():
    table = to_table(LONG.sample(frac=1.0, random_state=3))  # any row order
    assert list(table.columns) == TABLE_COLUMNS
    keys = table[["snapshot_period", "item_no", "location_code", "layer"]].values.tolist()
    assert keys == [
        ["2026-11", "A", "MAIN", "consensus"], ["2026-11", "A", "MAIN", "baseline"],
        ["2026-11", "B", "EAST", "consensus"], ["2026-11", "B", "EAST", "baseline"],
        ["2026-12", "A", "MAIN", "consensus"], ["2026-12", "A", "MAIN", "baseline"],
    ]
    # p01 is the snapshot's own period, p02 the next ...; beyond the horizon: no value
    assert table.loc[0, ["p01", "p02", "p03"]].tolist() == [10.0, 11.0, 12.0]
    assert table.loc[1, ["p01", "p02", "p03"]].tolist() == [9.0, 9.5, 10.0]
    assert table.loc[3, ["p01", "p02", "p03"]].tolist() == [2.0, 2.0, 2.0]
    assert table.loc[4, ["p01", "p02"]].tolist() == [20.0, 21.0]
    assert np.isnan(table.loc[4, "p03"]) and table.loc[:, "p04":"p12"].isna().all().all()


def test_the_long_form_comes_back_sorted_by_snapshot_period_item():
    back = to_long(to_table(LONG))
    want = LONG.sort_values(["snapshot_period", "period", "item_no", "location_code"])
    assert back.values.tolist() == want.values.tolist()


def test_only_the_lags_asked_for():
    back = to_long(to_table(LONG), lags=[1])
    assert back.values.tolist() == [
        ["2026-11", "2026-12", "A", "MAIN", 11.0, 9.5],
        ["2026-11", "2026-12", "B", "EAST", 0.0, 2.0],   # a zero forecast is kept
        ["2026-12", "2027-01", "A", "MAIN", 21.0, 19.5],
    ]
    assert to_long(to_table(LONG), lags=[3]).empty  # no plan reached 3 periods out here


def test_a_cell_typed_as_a_date_or_text_reads_back():
    table = to_table(LONG).astype(object)
    table.loc[0, "snapshot_period"] = pd.Timestamp("2026-11-01")  # Excel made it a date
    table.loc[1, "snapshot_period"] = pd.Timestamp("2026-11-01")
    table.loc[0, "p02"] = "11"
    back = to_long(table, lags=[1])
    assert back.iloc[0].tolist() == ["2026-11", "2026-12", "A", "MAIN", 11.0, 9.5]


def test_periods_beyond_twelve_are_refused():
    bad = LONG.copy()
    bad.loc[0, "period"] = "2027-11"  # 12 periods after its snapshot
    with pytest.raises(ValueError, match="0 to 11"):
        to_table(bad)
