"""Table plan_history's layout (one row per archived plan × item × location × layer, the
periods across) and the long form the accuracy figures and `sop history` read."""

from __future__ import annotations

from pathlib import Path

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


def _long_history(snapshots: int, series: int) -> pd.DataFrame:
    rows = []
    for s in range(snapshots):
        snap = f"{2025 + (s + 10) // 12}-{(s + 10) % 12 + 1:02d}"  # 2025-11 on
        for i in range(series):
            for k in range(12):
                m = 2025 * 12 + 10 + s + k
                rows.append([snap, f"{m // 12}-{m % 12 + 1:02d}", f"I{i:03d}", "MAIN",
                             float(100 * s + i + k), float(i)])
    return pd.DataFrame(rows, columns=LONG_COLUMNS)


def test_a_refresh_reads_only_the_tail_of_a_long_history(tmp_path):
    """A history of 15 archived plans saved and reopened (big enough to be kept out of
    openpyxl): the rows read from a snapshot on are exactly those of the whole table from
    that snapshot on, and the demand review's part equals the whole history's."""
    import shutil

    from sop_workbook.actions import review_history, review_snapshots
    from sop_workbook.periods import parse_period
    from sop_workbook.review.demand_accuracy import LAGS
    from sop_workbook.workbook.headless import HeadlessWorkbook

    path = tmp_path / "wb.xlsm"
    shutil.copy(Path(__file__).resolve().parents[2] / "SOP_Template.xlsm", path)
    book = HeadlessWorkbook(path)
    table = to_table(_long_history(15, 30))  # 900 rows
    book.write_table("plan_history", table)
    book.save(backups=0)
    whole = HeadlessWorkbook(path).read_table("plan_history")
    assert len(whole) == 900
    for earliest in ("2025-01", "2025-11", "2026-06", "2027-01", "2027-02"):
        book = HeadlessWorkbook(path)
        assert "plan_history" in book._kept  # the case this is about
        month = parse_period(earliest)
        got = book.read_table_from("plan_history", "snapshot_period",
                                   lambda v, e=month: parse_period(str(v)) >= e)
        want = whole[[parse_period(str(v)) >= parse_period(earliest)
                      for v in whole["snapshot_period"]]]
        assert got.astype(object).values.tolist() == want.astype(object).values.tolist()
        assert list(got.index) == list(want.index)
    # the review reads plans from current − 6 − 3 on: 2026-12 − 9 = 2026-03
    review = review_history(HeadlessWorkbook(path), "2026-12")
    full = review_snapshots(whole)
    full = full[[parse_period(s) >= parse_period("2026-03") for s in full["snapshot_period"]]]
    assert review.values.tolist() == full.reset_index(drop=True).values.tolist()
    assert set(review["period"].map(parse_period) - review["snapshot_period"].map(
        parse_period)) == set(LAGS)


def _saved_history(path: Path, table: pd.DataFrame) -> None:
    import shutil

    from sop_workbook.workbook.headless import HeadlessWorkbook

    shutil.copy(Path(__file__).resolve().parents[2] / "SOP_Template.xlsm", path)
    book = HeadlessWorkbook(path)
    book.write_table("plan_history", table)
    book.save(backups=0)


def test_the_review_converts_only_the_columns_of_its_lags(tmp_path):
    """read_table_from with ``columns``: the columns asked for are the whole table's,
    the other columns of the kept table come back empty."""
    from sop_workbook.periods import parse_period
    from sop_workbook.plan_history import columns_for
    from sop_workbook.review.demand_accuracy import LAGS
    from sop_workbook.workbook.headless import HeadlessWorkbook

    path = tmp_path / "wb.xlsm"
    _saved_history(path, to_table(_long_history(15, 30)))
    whole = HeadlessWorkbook(path).read_table("plan_history")
    book = HeadlessWorkbook(path)
    assert "plan_history" in book._kept
    wanted = columns_for(LAGS)
    assert wanted == ["snapshot_period", "item_no", "location_code", "layer", "p02", "p04"]
    got = book.read_table_from("plan_history", "snapshot_period",
                               lambda v: parse_period(str(v)) >= parse_period("2026-06"),
                               wanted)
    want = whole[[parse_period(str(v)) >= parse_period("2026-06")
                  for v in whole["snapshot_period"]]]
    assert list(got.columns) == TABLE_COLUMNS and list(got.index) == list(want.index)
    assert got[wanted].astype(object).values.tolist() == \
        want[wanted].astype(object).values.tolist()
    others = [c for c in TABLE_COLUMNS if c not in wanted]
    assert got[others].isna().all().all()
    assert want[others].notna().any().any()  # they hold values in the file


def test_the_tail_is_read_slice_by_slice_as_it_is_read_whole(tmp_path, monkeypatch):
    """read_table_from inflates and parses a kept table slice by slice: with slices of a
    few rows (the 1 M-line workbook's are 8 MiB) the rows, values, columns and index are
    those of the whole table from the first row asked for — that row anywhere in a
    slice, at a slice's first or last row, before the first row or after the last."""
    from sop_workbook.periods import parse_period
    from sop_workbook.plan_history import columns_for
    from sop_workbook.review.demand_accuracy import LAGS
    from sop_workbook.workbook import headless
    from sop_workbook.workbook.headless import HeadlessWorkbook

    path = tmp_path / "wb.xlsm"
    _saved_history(path, to_table(_long_history(15, 30)))
    whole = HeadlessWorkbook(path).read_table("plan_history")
    monkeypatch.setattr(headless, "KEPT_SLICE", 7_000)  # ~9 rows a slice, 100 slices
    for earliest in ("2025-01", "2025-11", "2025-12", "2026-06", "2027-01", "2027-02"):
        for columns in (None, columns_for(LAGS)):
            book = HeadlessWorkbook(path)
            assert "plan_history" in book._kept
            month = parse_period(earliest)
            got = book.read_table_from("plan_history", "snapshot_period",
                                       lambda v, e=month: parse_period(str(v)) >= e,
                                       columns)
            want = whole[[parse_period(str(v)) >= month for v in whole["snapshot_period"]]]
            shown = list(want.columns) if columns is None else columns
            assert list(got.columns) == list(whole.columns)
            assert list(got.index) == list(want.index)
            assert got[shown].astype(object).values.tolist() == \
                want[shown].astype(object).values.tolist()
            if len(want):
                assert got["p02"].dtype == want["p02"].dtype == float
    # rows that start mid-slice: the first row is bisected within its slice
    book = HeadlessWorkbook(path)
    got = book.read_table_from("plan_history", "snapshot_period",
                               lambda v: str(v) >= "2026-03")
    assert got.index[0] == list(whole["snapshot_period"]).index("2026-03")


def test_a_snapshot_period_that_is_not_one_is_reported_with_its_cell(tmp_path):
    """A snapshot period typed over in the plan history (900 rows: kept out of openpyxl)
    is reported with its sheet and cell by `sop history`, the refresh's read and roll
    forward's check — the cell located here with openpyxl."""
    import openpyxl

    from sop_workbook.actions import check_history_periods, plan_history, review_history
    from sop_workbook.errors import SopError
    from sop_workbook.workbook.headless import HeadlessWorkbook

    path = tmp_path / "wb.xlsm"
    table = to_table(_long_history(15, 30))
    table.loc[850, "snapshot_period"] = "Nov-26"  # in the last plan (2027-01)
    _saved_history(path, table)
    wb = openpyxl.load_workbook(path, read_only=True)
    found = [(ws.title, cell.coordinate) for ws in wb.worksheets for row in ws.iter_rows()
             for cell in row if getattr(cell, "value", None) == "Nov-26"]
    wb.close()
    assert len(found) == 1
    where = f"{found[0][0]}!{found[0][1]}"
    book = HeadlessWorkbook(path)
    assert "plan_history" in book._kept
    for read in (lambda b: plan_history(b), lambda b: review_history(b, "2027-02"),
                 lambda b: check_history_periods(b, b.read_table("plan_history"))):
        with pytest.raises(SopError) as exc:
            read(HeadlessWorkbook(path))
        assert f"{where}: snapshot_period 'Nov-26'" in str(exc.value)
        assert "is not a period (YYYY-MM)" in str(exc.value)


def test_an_archived_plan_is_appended_without_rewriting_the_history(tmp_path):
    """append_rows on a history kept out of openpyxl gives the rows and the file that
    reading it, joining and writing it gives (every part the same bytes but the save
    time), without reading or encoding the old rows again."""
    import shutil
    import zipfile

    from sop_workbook.workbook.headless import HeadlessWorkbook, _appended

    path = tmp_path / "wb.xlsm"
    history = to_table(_long_history(16, 30))
    old, new = history.iloc[:900], history.iloc[900:].reset_index(drop=True)
    _saved_history(path, old)
    joined = tmp_path / "joined.xlsm"
    shutil.copy(path, joined)

    book = HeadlessWorkbook(path)
    assert "plan_history" in book._kept
    book.append_rows("plan_history", new)
    assert _appended("plan_history") in book._streamed  # the fast path, not a rewrite
    assert book._kept["plan_history"].frame is None  # the old rows were not read
    got = book.read_table("plan_history")
    assert got.astype(object).values.tolist() == history.astype(object).values.tolist()
    assert list(got.index) == list(range(960))
    book.save(backups=0)

    other = HeadlessWorkbook(joined)
    other.write_table("plan_history", pd.concat([other.read_table("plan_history"), new],
                                                ignore_index=True))
    other.save(backups=0)
    back = HeadlessWorkbook(path).read_table("plan_history")
    assert back.astype(object).values.tolist() == history.astype(object).values.tolist()
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(joined) as b:
        assert a.namelist() == b.namelist()
        # the save time may differ (docProps/core.xml), nothing else
        assert {n for n in a.namelist() if a.read(n) != b.read(n)} <= {"docProps/core.xml"}
