"""Big tables on sheets with other content (the review-stage sheets): their bodies are
streamed into the sheet XML at save and merged row by row with the cells openpyxl wrote
(side-by-side tables, formulas, row heights). What write_table saved, openpyxl, the
adapter and LibreOffice read back; UDF formulas next to a streamed table are recalculated."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import udfs
from sop_workbook.errors import SopError
from sop_workbook.workbook import headless
from sop_workbook.workbook.headless import HeadlessWorkbook
from sop_workbook.zip_parts import sheet_parts as _sheet_parts

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"
TEXT_COLUMNS = ("item_no", "description", "category", "location_code", "layer", "note")
N = headless.STREAM_MIN_ROWS + 700


def demand_frame(book: HeadlessWorkbook, n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = book.table_columns("plan_demand")
    frame = pd.DataFrame({c: np.round(rng.normal(100, 40, n), 3) for c in columns})
    frame.loc[rng.random(n) < 0.2, "h01"] = np.nan
    for j, col in enumerate(TEXT_COLUMNS):
        frame[col] = [None if (i + j) % 11 == 0 else
                      "=SUM(A1)" if (i + j) % 13 == 0 else f"{col} {i} <&> ünï" for i in range(n)]
    frame["p01"] = np.arange(n)  # integers
    return frame


def rollup_frame(book: HeadlessWorkbook, n: int) -> pd.DataFrame:
    columns = book.table_columns("demand_rollup")
    frame = pd.DataFrame({c: np.arange(n) * 0.5 for c in columns})
    frame["category"] = [f"cat {i % 7}" for i in range(n)]
    frame["location_code"] = "(all)"
    frame["layer"] = "consensus"
    return frame


def sheet_table(ws, name: str) -> pd.DataFrame:
    rows = [[c.value for c in row] for row in ws[ws.tables[name].ref]]
    return pd.DataFrame(rows[1:], columns=rows[0]).dropna(how="all")


def overrides_frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"item_no": [f"IT{i}" for i in range(n)], "location_code": "MAIN",
                         "period": "2026-08", "quantity": [float(i) for i in range(n)],
                         "reason_code": "promo", "comment": "=not a formula",
                         "entered_by": "me"})


@pytest.fixture()
def written(tmp_path):
    """Side by side on the same rows of 2 Demand: plan_demand (A:AP, streamed),
    plan_overrides (AR:AX, openpyxl), demand_rollup (CB:DN, streamed); a row height and a
    formula inside the streamed rows; saved."""
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    demand = demand_frame(book)
    rollup = rollup_frame(book, headless.STREAM_MIN_ROWS + 50)
    book.write_table("plan_demand", demand)
    book.write_table("plan_overrides", overrides_frame(30))
    book.write_table("demand_rollup", rollup)
    ws = book.wb["2 Demand"]
    ws.row_dimensions[40].height = 33
    ws["DP40"] = "=1+2"
    expected = {name: book.read_table(name) for name in ("plan_demand", "demand_rollup",
                                                         "plan_overrides")}
    book.save(backups=0)
    return path, expected, demand


def test_streamed_tables_round_trip_next_to_other_content(written):
    path, expected, demand = written
    assert set(HeadlessWorkbook(path)._streamed) == set()  # nothing streamed on open
    # what write_table was given, as the adapter reads it back (before and after save)
    assert len(expected["plan_demand"]) == N
    got = expected["plan_demand"].reset_index(drop=True)
    for col in demand.columns:
        want = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v
                for v in demand[col].tolist()]
        have = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v
                for v in got[col].tolist()]
        assert have == want, col
    again = HeadlessWorkbook(path)
    for name, frame in expected.items():
        back = again.read_table(name)
        pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    # openpyxl reads every table identically
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb["2 Demand"]
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(sheet_table(ws, name), frame, check_dtype=False)
    assert ws.tables["plan_demand"].ref == f"A27:AP{27 + N}"
    assert ws["DP40"].value == "=1+2"
    assert ws.row_dimensions[40].height == 33
    assert ws["A29"].data_type == "s" and ws["A29"].value == "item_no 1 <&> ünï"
    text = [v for v in expected["plan_demand"]["item_no"] if isinstance(v, str)
            and v.startswith("=")]
    assert text and all(isinstance(v, str) for v in text)  # text, never a formula
    # the template's styles of the first body row carry down the streamed rows
    assert ws[f"F{27 + N}"].number_format == ws["F28"].number_format
    assert ws.freeze_panes == openpyxl.load_workbook(TEMPLATE)["2 Demand"].freeze_panes


def test_rows_are_merged_in_column_order_without_duplicates(written):
    path, _, _ = written
    with zipfile.ZipFile(path) as z:
        part = _sheet_parts({n: z.read(n) for n in z.namelist()})["2 Demand"]
        xml = z.read(part).decode("utf-8")
    numbers = [int(n) for n in re.findall(r'<row r="(\d+)"', xml)]
    assert numbers == sorted(set(numbers))
    for row in re.finditer(r'<row r="(\d+)"[^>]*>(.*?)</row>', xml, re.S):
        cols = [openpyxl.utils.column_index_from_string(c) for c, r in
                re.findall(r'<c r="([A-Z]+)(\d+)"', row.group(2))]
        assert cols == sorted(set(cols)), row.group(1)
    row40 = re.search(r'<row r="40"[^>]*>', xml).group(0)
    assert 'ht="33"' in row40
    dim = re.search(r'<dimension ref="([^"]+)"', xml).group(1)
    assert dim.endswith(str(27 + N))


def test_libreoffice_opens_the_merged_sheet(written, tmp_path):
    path, expected, _ = written
    assert shutil.which("soffice"), "LibreOffice (soffice) is required: .ci/run installs it"
    out = tmp_path / "lo"
    run = subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/u",
                          "--convert-to", "xlsx", "--outdir", str(out), str(path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    ws = openpyxl.load_workbook(out / "wb.xlsx", data_only=True)["2 Demand"]
    demand = expected["plan_demand"]
    last = 27 + N
    assert ws["A27"].value == "item_no"
    assert ws[f"F{last}"].value == pytest.approx(demand["h24"].iloc[-1])
    assert ws[f"AR{28 + 5}"].value == "IT5"  # plan_overrides on the same rows
    assert ws["DP40"].value == 3  # LibreOffice computed the formula next to the tables
    assert ws[f"A{last + 1}"].value is None


def test_udf_next_to_a_streamed_table_is_recalculated(tmp_path, monkeypatch):
    monkeypatch.setitem(udfs.UDFS, "SOP_TEST_TOTAL",
                        lambda rows, col: sum(r[int(col)] for r in rows[1:]
                                              if r[int(col)] is not None))
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    demand = demand_frame(book)
    book.write_table("plan_demand", demand)
    ws = book.wb["2 Demand"]
    col = book.table_columns("plan_demand").index("p01")
    ws["DP30"] = f"=SOP_TEST_TOTAL(plan_demand[#All],{col})"
    ws["DQ30"] = f"=SOP_TEST_TOTAL(A27:AP1300,{col})"
    assert book.recalculate() >= 2
    total = float(demand["p01"].sum())
    assert book.result_at("2 Demand", "DP30") == pytest.approx(total)
    assert book.result_at("2 Demand", "DQ30") == pytest.approx(total)
    assert book.result_at("2 Demand", "AP28") == demand["note"].iloc[0]  # streamed cell
    book.save(backups=0)
    values = openpyxl.load_workbook(path, data_only=True, keep_vba=True)["2 Demand"]
    assert values["DP30"].value == pytest.approx(total)


def test_shrinking_below_the_threshold_goes_back_to_cells(tmp_path):
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    book.write_table("plan_demand", demand_frame(book))
    small = demand_frame(book, 20, seed=3)
    book.write_table("plan_demand", small)
    assert "plan_demand" not in book._streamed
    book.save(backups=0)
    ws = openpyxl.load_workbook(path)["2 Demand"]
    assert ws.tables["plan_demand"].ref == "A27:AP47"
    back = HeadlessWorkbook(path).read_table("plan_demand")
    assert len(back) == 20 and ws["A48"].value is None and ws[f"A{27 + N}"].value is None


def test_a_value_typed_into_streamed_rows_is_refused(tmp_path):
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    before = path.read_bytes()
    book = HeadlessWorkbook(path)
    book.write_table("plan_demand", demand_frame(book))
    book.wb["2 Demand"]["C100"] = "typed"
    with pytest.raises(SopError, match="C100"):
        book.save(backups=0)
    assert path.read_bytes() == before
