"""Big data sheets are not inflated whole on open (datasheet_reader._sketch): only the part
up to the first data row and what follows the rows are kept, the rows are dropped as they
are inflated and looked at only when asked for (read, or saved unchanged). Every data sheet
is sketched here (threshold 0) and the result compared with reading the parts whole."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from io import BytesIO
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sop_workbook import demo_data
from sop_workbook.actions import refresh
from sop_workbook.workbook import datasheet_reader
from sop_workbook.workbook.headless import HeadlessWorkbook
from tests.workbook.test_workbook_io_kept import with_shared_strings

TEMPLATE = Path(__file__).resolve().parents[2] / "SOP_Template.xlsm"


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str, Path]:
    """A refreshed workbook, and the same saved again by openpyxl (whose data sheets'
    text cells then point into sharedStrings)."""
    root = tmp_path_factory.mktemp("sketch")
    folder = root / "data"
    demo_data.write(folder, items=6, months=14, seed=4)
    refreshed = root / "refreshed.xlsm"
    shutil.copy(TEMPLATE, refreshed)
    book = HeadlessWorkbook(refreshed)
    refresh(book, str(folder))
    book.save(backups=0)
    shared = root / "shared.xlsm"
    assert with_shared_strings(refreshed, shared, "agg_sales", first_row=3) > 100
    return {"template": TEMPLATE, "refreshed": refreshed, "shared": shared}




def _package(data: bytes):
    package = datasheet_reader.open_package(data)
    with zipfile.ZipFile(BytesIO(package.stub)) as z:
        parts = {i.filename: hashlib.sha256(z.read(i.filename)).hexdigest()
                 for i in z.infolist()}
    unknown = {t for t, s in package.sheets.items() if s.shared is None}
    sheets = {t: (s.part, s.table_part, s.ref, s.has_shared_strings, s.first_data_row)
              for t, s in package.sheets.items()}
    kept = {n: (t.part, t.ref, t.rows.tolist()) for n, t in package.kept.items()}
    return parts, sheets, kept, unknown


@pytest.mark.parametrize("which", ["template", "refreshed", "shared"])
def test_a_sketched_sheet_opens_as_one_read_whole(books, which, monkeypatch):
    """The package openpyxl loads, the data sheets found and whether their cells point into
    sharedStrings (looked for when asked) are those of reading every part whole."""
    data = books[which].read_bytes()
    monkeypatch.setattr(datasheet_reader, "SKETCH_MIN_BYTES", 1 << 60)
    whole = _package(data)
    monkeypatch.setattr(datasheet_reader, "SKETCH_MIN_BYTES", 0)
    sketched = _package(data)
    assert sketched[:3] == whole[:3]
    assert not whole[3]  # read whole: every sheet looked at on open
    if which != "template":
        assert sketched[3]  # sketched: their rows not looked at on open
    if which == "shared":
        assert "agg_sales" in sketched[3]  # its shared strings lie past its first data row
        assert sketched[1]["agg_sales"][3]  # ... and are found when asked


def test_a_sketched_sheet_reads_and_saves_as_one_read_whole(books, tmp_path, monkeypatch):
    """Tables read from sketched sheets are those read from whole ones; a sketched sheet
    saved unchanged whose cells point into sharedStrings (which openpyxl rewrites) is
    written as values, and reads back the same."""
    monkeypatch.setattr(datasheet_reader, "SKETCH_MIN_BYTES", 1 << 60)
    whole = HeadlessWorkbook(books["shared"])
    names = [n for n in whole.tables if whole._data_sheet(whole.tables[n][0]) is not None]
    want = {n: whole.read_table(n) for n in names}
    monkeypatch.setattr(datasheet_reader, "SKETCH_MIN_BYTES", 0)
    path = tmp_path / "wb.xlsm"
    shutil.copy(books["shared"], path)
    book = HeadlessWorkbook(path)
    assert book._data["agg_sales"].shared is None  # not looked for on open
    for n in [n for n in names if n != "agg_sales"][::2]:
        pd.testing.assert_frame_equal(book.read_table(n), want[n])
    fresh = HeadlessWorkbook(books["shared"])  # its shared strings found as it is read
    pd.testing.assert_frame_equal(fresh.read_table("agg_sales"), want["agg_sales"])
    assert fresh._data["agg_sales"].shared is True
    assert book._data["agg_sales"].frame is None  # agg_sales not read: saved unchanged
    book.set_value("cfg_company_name", "Sketch Ltd")
    book.save(backups=0)
    again = HeadlessWorkbook(path)
    for n in names:
        pd.testing.assert_frame_equal(again.read_table(n).reset_index(drop=True),
                                      want[n].reset_index(drop=True), check_dtype=False)


def test_a_formula_in_the_first_data_row_leaves_a_sketched_sheet_to_openpyxl(
        tmp_path, monkeypatch):
    """What the sketch keeps is checked as a whole part is: a formula in the first data
    row makes the sheet an ordinary one (nothing on it is lost)."""
    monkeypatch.setattr(datasheet_reader, "SKETCH_MIN_BYTES", 0)
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb["locations"]["B2"] = "=A2&\"x\""
    wb.save(path)
    book = HeadlessWorkbook(path)
    assert "locations" not in book._data and "customers" in book._data
    book.save(backups=0)
    assert openpyxl.load_workbook(path, keep_vba=True)["locations"]["B2"].value == "=A2&\"x\""
