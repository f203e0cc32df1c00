"""One save pass (issue 21): a headless save makes every part once, in memory, and zips
the package once.

The saved file is compared, part by part, with what openpyxl itself writes for the same
workbook object (its own ``save``, through ``zipfile``) plus the splices the save is
documented to make: the cached results of the formula cells (workbook/recalc.py), Excel's
own form (workbook/excel_form.py: calcPr, font records, dynamic arrays, list validations)
and the table bodies kept out of openpyxl (workbook/datasheet_writer.py, kept.py). The
expected figures come from openpyxl's writer and reader, not from the code under test.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import types
import xml.etree.ElementTree as ET
import zipfile
from io import BytesIO
from pathlib import Path

import openpyxl
import openpyxl.writer.excel
import pandas as pd
import pytest
from conftest import TEMPLATE, refreshed_demo
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet.formula import ArrayFormula

from sop_workbook.actions import roll_forward
from sop_workbook.workbook import excel_form
from sop_workbook.workbook.headless import HeadlessWorkbook

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
FIXED = dt.datetime(2026, 11, 5, 12, 0, 0)
#: what a save changes in openpyxl's own parts besides the worksheets (module docstring)
SPLICED = {"xl/workbook.xml", "xl/styles.xml", "[Content_Types].xml",
           "xl/_rels/workbook.xml.rels"}


class _Frozen(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED.replace(tzinfo=tz) if tz else FIXED


@pytest.fixture
def frozen_clock(monkeypatch):
    """Both writers stamp docProps/core.xml with the time of the save: the same time."""
    clock = types.SimpleNamespace(datetime=_Frozen, timezone=dt.timezone)
    monkeypatch.setattr(openpyxl.writer.excel, "datetime", clock)
    monkeypatch.setattr(excel_form, "_SAVE_CLOCK", clock)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """A small refreshed workbook (demo data of 12 items): data sheets, stage sheets,
    charts, spills."""
    return refreshed_demo(tmp_path_factory.mktemp("small"), items=12, months=18)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _sheet_titles(parts: dict[str, bytes]) -> dict[str, str]:
    """Worksheet part → sheet title, read with ElementTree."""
    wb = ET.fromstring(parts["xl/workbook.xml"])
    rels = {r.get("Id"): r.get("Target") for r in ET.fromstring(
        parts["xl/_rels/workbook.xml.rels"])}
    rid = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    return {rels[s.get(rid)].lstrip("/"): s.get("name") for s in wb.iter(MAIN + "sheet")}


def _font_canonical(xml: bytes) -> bytes:
    """styles.xml with each font's children sorted by tag (their order aside)."""
    root = ET.fromstring(xml)
    for font in root.iter(MAIN + "font"):
        children = sorted(font, key=lambda e: e.tag)
        for child in list(font):
            font.remove(child)
        font.extend(children)
    return ET.tostring(root)


def _cells(ws) -> dict[str, object]:
    return {c.coordinate: (("array", c.value.ref, c.value.text)
                           if isinstance(c.value, ArrayFormula) else c.value)
            for row in ws.iter_rows() for c in row if c.value is not None}


def _save_and_plain(book: HeadlessWorkbook, out: Path) -> tuple[bytes, bytes]:
    """(the file the headless save writes, openpyxl's own save of the same workbook)."""
    book.save(out, backups=0)
    buf = BytesIO()
    book.wb.save(buf)
    return out.read_bytes(), buf.getvalue()


def _compare(saved: bytes, plain: bytes, book: HeadlessWorkbook, tables: dict[str, pd.DataFrame]
             ) -> None:
    with zipfile.ZipFile(BytesIO(saved)) as z:
        assert z.testzip() is None  # every member's CRC
        infos = z.infolist()
    names = [i.filename for i in infos]
    # the documented zip layout: content types, root rels, then by name; fixed date
    assert names == ["[Content_Types].xml", "_rels/.rels",
                     *sorted(n for n in names if n not in ("[Content_Types].xml", "_rels/.rels"))]
    with zipfile.ZipFile(TEMPLATE) as z:  # as zipfile wrote the template's entries
        template = {(i.date_time, i.compress_type, i.external_attr) for i in z.infolist()}
    assert {(i.date_time, i.compress_type, i.external_attr) for i in infos} == template
    assert template == {((1980, 1, 1, 0, 0, 0), zipfile.ZIP_DEFLATED, 0o600 << 16)}
    s, p = _members(saved), _members(plain)
    assert set(s) - set(p) <= {"xl/metadata.xml"} and set(p) <= set(s)
    sheets = _sheet_titles(p)
    # every part no splice touches: openpyxl's bytes, unchanged (VBA project, ribbon,
    # tables, charts, drawings, theme, docProps …)
    untouched = [n for n in p if n not in SPLICED and n not in sheets]
    assert untouched and {n: s[n] for n in untouched} == {n: p[n] for n in untouched}
    # workbook.xml: the calculation properties of current Excel, nothing else
    assert s["xl/workbook.xml"] == re.sub(rb"<calcPr\b[^>]*/>", b'<calcPr calcId="191029"/>',
                                          p["xl/workbook.xml"])
    # styles.xml: the same records, font children reordered only
    assert _font_canonical(s["xl/styles.xml"]) == _font_canonical(p["xl/styles.xml"])
    # content types and workbook relationships: openpyxl's, plus the metadata part's
    for part in ("[Content_Types].xml", "xl/_rels/workbook.xml.rels"):
        got = [(e.tag, sorted(e.attrib.items())) for e in ET.fromstring(s[part])]
        want = [(e.tag, sorted(e.attrib.items())) for e in ET.fromstring(p[part])]
        assert got[:len(want)] == want
        assert all("metadata" in str(e) for e in got[len(want):])
    # worksheets: every cell openpyxl wrote is there with the same formula or value; the
    # other cells are the rows of the tables kept out of openpyxl, equal to the frames
    # written (read back by openpyxl's own reader); formula cells carry the results
    # computed in the session
    got_wb = openpyxl.load_workbook(BytesIO(saved))
    want_wb = openpyxl.load_workbook(BytesIO(plain))
    values_wb = openpyxl.load_workbook(BytesIO(saved), data_only=True)
    bodies = {name: got_wb[title].tables[name] for name, title in
              ((n, book.table_position(n)[0]) for n in tables)}
    for title in want_wb.sheetnames:
        got, want = _cells(got_wb[title]), _cells(want_wb[title])
        for coord, value in want.items():
            assert got.get(coord) == value or (  # a spill member: a plain value now
                isinstance(value, str) and str(got.get(coord)) == value), (title, coord)
        extra = {c for c in got if c not in want}
        inside = set()
        for name, table in bodies.items():
            if book.table_position(name)[0] == title:
                min_col, min_row, max_col, max_row = range_boundaries(table.ref)
                inside |= {c.coordinate for row in got_wb[title].iter_rows(
                    min_row=min_row + 1, max_row=max_row, min_col=min_col, max_col=max_col)
                    for c in row}
        assert extra <= inside, (title, sorted(extra - inside)[:5])
        for (sheet, coord), value in book._cached.items():
            if sheet == title and not isinstance(value, list):
                stored = values_wb[title][coord].value
                assert stored == value or str(stored) == str(getattr(value, "code", value)) \
                    or (value in (None, "") and stored in (None, "")), (title, coord)
    for name, frame in tables.items():
        ws, table = got_wb[book.table_position(name)[0]], bodies[name]
        rows = [[c.value for c in row] for row in ws[table.ref]]
        read = pd.DataFrame(rows[1:], columns=rows[0]).dropna(how="all")
        assert len(read) == len(frame.dropna(how="all")), name
        for col in frame.columns:
            want_col = frame[col].dropna().tolist()
            got_col = read[col].dropna().tolist()
            assert len(got_col) == len(want_col), (name, col)
            assert [str(v)[:10] if isinstance(v, (dt.date, pd.Timestamp)) else v
                    for v in got_col] == [str(v)[:10] if isinstance(v, (dt.date, pd.Timestamp))
                                          else v for v in want_col], (name, col)


def _big_tables(book: HeadlessWorkbook) -> dict[str, pd.DataFrame]:
    """The tables whose rows the save streams or copies instead of openpyxl, as read
    before the save."""
    names = [t.displayName for ws in book.wb.worksheets for t in ws.tables.values()
             if ws.title in book._data] + list(book._streamed) + list(book._kept)
    return {n: book.read_table(n) for n in dict.fromkeys(names) if "\0" not in n}


def test_a_save_zips_once_and_each_part_is_openpyxls_plus_the_splices(
        small, tmp_path, frozen_clock, monkeypatch):
    path = tmp_path / "book.xlsm"
    shutil.copy(small, path)
    book = HeadlessWorkbook(path)
    book.set_value("cfg_company_name", "One Pass Ltd")
    tables = _big_tables(book)
    assert tables and book._kept  # data sheets and kept stage tables are in play
    opened = []
    real = zipfile.ZipFile.__init__

    def counting(self, file, mode="r", *args, **kwargs):
        opened.append((mode, file if isinstance(file, (str, Path)) else type(file).__name__))
        return real(self, file, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "__init__", counting)
    book.save(tmp_path / "out.xlsm", backups=0)
    monkeypatch.setattr(zipfile.ZipFile, "__init__", real)
    # the package is zipped once, by the save's own writer: no zip is written, and none
    # is opened but the source file's (read) and the new file's (checked before replace)
    assert [m for m, _ in opened if m != "r"] == []
    assert all(f == "BytesIO" or Path(f).parent == tmp_path for _, f in opened), opened
    saved = (tmp_path / "out.xlsm").read_bytes()
    buf = BytesIO()
    book.wb.save(buf)
    _compare(saved, buf.getvalue(), book, tables)


def test_rows_appended_and_a_template_without_rows(small, tmp_path, frozen_clock):
    """Roll forward (a kept plan history with rows appended below it) and an empty
    template: the same comparison."""
    path = tmp_path / "book.xlsm"
    shutil.copy(small, path)
    book = HeadlessWorkbook(path)
    roll_forward(book)
    tables = {n: book.read_table(n) for n in _big_tables(book)}
    saved, plain = _save_and_plain(book, tmp_path / "rolled.xlsm")
    _compare(saved, plain, book, tables)
    template = tmp_path / "template.xlsm"
    shutil.copy(TEMPLATE, template)
    book = HeadlessWorkbook(template)
    saved, plain = _save_and_plain(book, tmp_path / "empty.xlsm")
    _compare(saved, plain, book, _big_tables(book))
