"""Reopening a workbook whose stage sheets hold big tables (issue 15: the repeat refresh
as fast as the first): their bodies are kept out of openpyxl on open, read from the file
when asked, and put back byte for byte at save unless rewritten. What the adapter reads
equals what openpyxl itself reads from the same file; tables openpyxl must handle (a
formula in the body, shared strings) are handled."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sop_workbook.errors import SopError
from sop_workbook.workbook.headless import HeadlessWorkbook
from sop_workbook.zip_parts import sheet_parts as _sheet_parts
from tests.workbook.test_workbook_io_mixed import (
    N,
    demand_frame,
    overrides_frame,
    rollup_frame,
    sheet_table,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"


def _sheet_xml(path: Path, title: str) -> str:
    with zipfile.ZipFile(path) as z:
        part = _sheet_parts({n: z.read(n) for n in z.namelist()})[title]
        return z.read(part).decode("utf-8")


def _cells(xml: str, min_col: int, max_col: int, first: int, last: int) -> list[str]:
    """The <c> elements of a block of the sheet, as written."""
    out = []
    for m in re.finditer(r'<c r="([A-Z]+)(\d+)"[^>]*?(?:/>|>.*?</c>)', xml, re.S):
        col = openpyxl.utils.column_index_from_string(m.group(1))
        if first <= int(m.group(2)) <= last and min_col <= col <= max_col:
            out.append(m.group(0))
    return out


@pytest.fixture()
def saved(tmp_path):
    """2 Demand with plan_demand and demand_rollup (streamed, big) beside plan_overrides
    (small, openpyxl cells), a row height and a formula inside the big rows; saved."""
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    book.write_table("plan_demand", demand_frame(book))
    book.write_table("plan_overrides", overrides_frame(30))
    book.write_table("demand_rollup", rollup_frame(book, 600))
    ws = book.wb["2 Demand"]
    ws.row_dimensions[40].height = 33
    ws["DP40"] = "=1+2"
    book.save(backups=0)
    return path


def test_big_tables_are_kept_out_of_openpyxl_and_read_as_openpyxl_reads_them(saved):
    book = HeadlessWorkbook(saved)
    assert set(book._kept) == {"plan_demand", "demand_rollup"}
    ws = book.wb["2 Demand"]
    assert not [k for k in ws._cells if 29 <= k[0] <= 27 + N and k[1] <= 42]  # no body cells
    assert ws["AR33"].value == "IT5"  # the small table beside it is openpyxl's
    reference = openpyxl.load_workbook(saved, keep_vba=True)["2 Demand"]
    for name in ("plan_demand", "demand_rollup", "plan_overrides"):
        pd.testing.assert_frame_equal(book.read_table(name), sheet_table(reference, name),
                                      check_dtype=False)
    # a cell of a kept body, as recalculation and result_at see it
    assert book.result_at("2 Demand", "A29") == reference["A29"].value
    assert book.result_at("2 Demand", f"AP{27 + N}") == reference[f"AP{27 + N}"].value


def test_unchanged_kept_tables_are_saved_byte_for_byte(saved, tmp_path):
    before = _sheet_xml(saved, "2 Demand")
    book = HeadlessWorkbook(saved)
    book.set_value("cfg_current_period", "2027-01")  # a change elsewhere
    out = tmp_path / "again.xlsm"
    book.save(out, backups=0)
    after = _sheet_xml(out, "2 Demand")
    assert _cells(after, 1, 42, 28, 27 + N) == _cells(before, 1, 42, 28, 27 + N)
    assert _cells(after, 80, 118, 28, 27 + 600) == _cells(before, 80, 118, 28, 27 + 600)
    assert 'ht="33"' in re.search(r'<row r="40"[^>]*>', after).group(0)
    ws = openpyxl.load_workbook(out, keep_vba=True)["2 Demand"]
    reference = openpyxl.load_workbook(saved, keep_vba=True)["2 Demand"]
    for name in ("plan_demand", "demand_rollup", "plan_overrides"):
        pd.testing.assert_frame_equal(sheet_table(ws, name), sheet_table(reference, name))
    assert ws["DP40"].value == "=1+2"
    assert ws[f"F{27 + N}"].number_format == reference[f"F{27 + N}"].number_format


def test_rewriting_a_kept_table_replaces_its_rows(saved, tmp_path):
    book = HeadlessWorkbook(saved)
    bigger = demand_frame(book, N + 100, seed=5)
    book.write_table("plan_demand", bigger)
    book.write_table("demand_rollup", rollup_frame(book, 20))  # back to openpyxl cells
    assert not book._kept
    out = tmp_path / "rewritten.xlsm"
    book.save(out, backups=0)
    ws = openpyxl.load_workbook(out, keep_vba=True)["2 Demand"]
    assert ws.tables["plan_demand"].ref == f"A27:AP{27 + N + 100}"
    assert ws.tables["demand_rollup"].ref == "CB27:DN47"
    got = sheet_table(ws, "plan_demand").reset_index(drop=True)
    assert got["p01"].tolist() == bigger["p01"].tolist()
    assert ws["CB48"].value is None and ws[f"CB{27 + 600}"].value is None
    back = HeadlessWorkbook(out)
    assert set(back._kept) == {"plan_demand"}
    assert len(back.read_table("demand_rollup")) == 20


def test_a_value_typed_into_kept_rows_is_refused(saved):
    before = saved.read_bytes()
    book = HeadlessWorkbook(saved)
    book.wb["2 Demand"]["C100"] = "typed"
    with pytest.raises(SopError, match="C100"):
        book.save(backups=0)
    assert saved.read_bytes() == before


def with_shared_strings(path: Path, out: Path, title: str, columns: str = "[A-Z]+",
                        first_row: int = 1) -> int:
    """``path`` with the text cells of ``columns`` (a regex of column letters) on sheet
    ``title``, from row ``first_row`` on, turned into shared strings, as Excel writes
    them; how many were turned."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    assert "xl/sharedStrings.xml" not in parts
    part = _sheet_parts(parts)[title]
    strings: dict[str, int] = {}

    def shared(m: re.Match) -> str:
        if int(m.group(2)) < first_row:
            return m.group(0)
        index = strings.setdefault(m.group(3), len(strings))
        return f'{m.group(1)} t="s"><v>{index}</v></c>'

    xml = re.sub(r'(<c r="(?:' + columns + r')(\d+)"(?: s="\d+")?) t="inlineStr"><is><t>'
                 r'([^<]*)</t></is></c>', shared, parts[part].decode("utf-8"))
    n = xml.count(' t="s">')
    parts[part] = xml.encode("utf-8")
    items = "".join(f"<si><t>{t}</t></si>" for t in strings)
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    parts["xl/sharedStrings.xml"] = (f'<sst xmlns="{ns}" count="{n}" uniqueCount='
                                     f'"{len(strings)}">{items}</sst>').encode()
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kind}"/>'
        "</Types>".encode())
    rel = ('<Relationship Id="rIdSharedStrings" Type="http://schemas.openxmlformats.org/'
           'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>')
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", rel.encode() + b"</Relationships>")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return n


def test_tables_with_a_formula_or_shared_strings(saved, tmp_path):
    """A formula in a big table's body leaves the table to openpyxl; a table whose text
    cells are shared strings (as Excel writes them) is kept and saved as values."""
    formula = tmp_path / "formula.xlsm"
    wb = openpyxl.load_workbook(saved, keep_vba=True)
    wb["2 Demand"]["C200"] = "=1+1"  # inside plan_demand
    wb.save(formula)
    plain = tmp_path / "plain.xlsm"
    assert with_shared_strings(formula, plain, "2 Demand", "CB|CC|CD") >= 600
    book = HeadlessWorkbook(plain)
    assert set(book._kept) == {"demand_rollup"}
    assert book._kept["demand_rollup"].has_shared_strings
    reference = openpyxl.load_workbook(plain, keep_vba=True)["2 Demand"]
    expected = {n: sheet_table(reference, n) for n in ("plan_demand", "demand_rollup")}
    assert expected["demand_rollup"]["category"].iloc[1] == "cat 1"
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(book.read_table(name), frame, check_dtype=False)
    out = tmp_path / "out.xlsm"
    book.save(out, backups=0)
    ws = openpyxl.load_workbook(out, keep_vba=True)["2 Demand"]
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(sheet_table(ws, name), frame)
    assert ws["C200"].value == "=1+1"


def test_a_table_past_excels_last_row_is_refused(saved, monkeypatch):
    """A plan history that outgrows the sheet (72,000 rows per roll at 2,000 items × 3
    locations) is refused with the table named, before anything changes."""
    from sop_workbook.workbook import headless

    monkeypatch.setattr(headless, "EXCEL_MAX_ROWS", 27 + N)
    before = saved.read_bytes()
    book = HeadlessWorkbook(saved)
    book.write_table("plan_demand", demand_frame(book, N))  # up to the last row: fine
    with pytest.raises(SopError, match=r"plan_demand would need 1,201 rows.*last row"):
        book.write_table("plan_demand", demand_frame(book, N + 1))
    assert "plan_demand" in book._streamed and saved.read_bytes() == before


def test_a_kept_part_is_read_back_piece_by_piece_as_it_was(tmp_path):
    """PartSource.reader(): ranges asked for in increasing order (gaps skipped, ranges
    crossing the inflater's pieces) are the bytes of the member read whole."""
    import zipfile

    import numpy as np

    from sop_workbook.workbook.kept import PartSource

    rng = np.random.default_rng(7)
    xml = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, v)
                   for i, v in enumerate(rng.integers(0, 10**9, 400_000)))
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", xml)
    source = PartSource(path.read_bytes(), "xl/worksheets/sheet1.xml")
    cuts = np.sort(rng.choice(len(xml), 40, replace=False))
    reader = source.reader()
    for a, b in zip(cuts[::2].tolist(), cuts[1::2].tolist(), strict=True):
        assert bytes(reader.read(a, b)) == xml[a:b]
    assert source.whole() == xml
