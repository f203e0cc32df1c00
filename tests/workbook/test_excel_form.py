"""The files as Excel would check them: the template and a refreshed workbook (the demo)
validate against the Office Open XML schemas (PyPI ``openxml-audit``), store spills as
Excel 365's dynamic arrays (compared with what XlsxWriter — whose output is checked against
Excel-made files — writes), carry a cached value in every formula cell, open in readers
that do not calculate (python-calamine, and LibreOffice, which must not recalculate them
into ``#NAME?``), and keep all of that through a headless save."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl
import pytest
import xlsxwriter
from conftest import TEMPLATE
from python_calamine import CalamineWorkbook

from sop_workbook.workbook.excel_form import CALC_ID, METADATA_XML
from sop_workbook.workbook.headless import HeadlessWorkbook

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
AUDIT = shutil.which("openxml-audit", path=str(Path(sys.executable).parent))

#: openxml-audit findings accepted, each with the reason. Only warnings may be listed:
#: a schema error is never accepted.
ALLOWED_WARNINGS = {
    # Inline strings (<c t="inlineStr">) are valid SpreadsheetML (ECMA-376 Part 1,
    # 18.3.1.53 <is>); openpyxl 3.1 and the streaming table writer emit them. Excel reads
    # them and moves them to its shared-string table when it next saves the file: a
    # rewrite on save, not a repair on open.
    "inline-string cells": re.compile(r"has \d+ inline-string cell\(s\)"),
}


def books(demo: Path) -> list[Path]:
    return [TEMPLATE, demo]


def sheet_xml(path: Path) -> dict[str, str]:
    """Sheet title → worksheet XML, read with zipfile and ElementTree (not the code under
    test)."""
    with zipfile.ZipFile(path) as z:
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels}
        wb = ET.fromstring(z.read("xl/workbook.xml"))
        out = {}
        for sheet in wb.iter(f"{{{MAIN}}}sheet"):
            t = target[sheet.get(f"{{{REL}}}id")]
            part = t.lstrip("/") if t.startswith("/") else "xl/" + t
            out[sheet.get("name")] = z.read(part).decode()
        return out


CELL = re.compile(r'<c r="([A-Z]+\d+)"([^>]*)>(<f[^>]*>.*?</f>|<f[^>]*/>)(.*?)</c>', re.S)


def formula_cells(path: Path) -> list[tuple[str, str, str, str, str]]:
    """(sheet, cell, attributes, <f> element, what follows it) of every formula cell."""
    return [(sheet, m.group(1), m.group(2), m.group(3), m.group(4))
            for sheet, xml in sheet_xml(path).items() for m in CELL.finditer(xml)]


# --------------------------------------------------------------------------- schema


def audit(path: Path) -> dict:
    assert AUDIT, "openxml-audit (dev dependency) is not installed"
    run = subprocess.run([AUDIT, "-f", "microsoft365", "-m", "0", "-o", "json", str(path)],
                         capture_output=True, text=True, timeout=300)
    return json.loads(run.stdout)[0]


@pytest.mark.parametrize("which", ["template", "demo"])
def test_no_schema_error_and_only_allowed_warnings(which, demo):
    report = audit(TEMPLATE if which == "template" else demo)
    errors = [e for e in report["errors"] if e["severity"] == "error"]
    assert report["error_count"] == 0 and not errors, errors[:5]
    unexplained = [e["description"] for e in report["errors"] if e["severity"] != "error"
                   and not any(p.search(e["description"]) for p in ALLOWED_WARNINGS.values())]
    assert not unexplained, unexplained[:5]


# --------------------------------------------------------------------------- form


def xlsxwriter_reference(tmp_path: Path) -> dict[str, bytes]:
    """A dynamic-array formula as XlsxWriter writes it."""
    path = tmp_path / "reference.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet().write_dynamic_array_formula("A1:A3", "=SOP_KPI_BY(B1:B3)")
    wb.close()
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.mark.parametrize("which", ["template", "demo"])
def test_spills_are_dynamic_arrays_as_excel_writes_them(which, demo, tmp_path):
    path = TEMPLATE if which == "template" else demo
    ref = xlsxwriter_reference(tmp_path)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert z.read("xl/metadata.xml") == ref["xl/metadata.xml"] == METADATA_XML
        types = z.read("[Content_Types].xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    assert "xl/metadata.xml" in names
    ct = re.search(r'<Override PartName="/xl/metadata.xml" ContentType="([^"]+)"/>',
                   ref["[Content_Types].xml"].decode()).group(1)
    assert f'<Override PartName="/xl/metadata.xml" ContentType="{ct}"/>' in types
    ref_rels = ET.fromstring(ref["xl/_rels/workbook.xml.rels"])
    rel = next(r.get("Type") for r in ref_rels if r.get("Target") == "metadata.xml")
    assert [r.get("Type") for r in ET.fromstring(rels) if r.get("Target") == "metadata.xml"
            ] == [rel]

    arrays = [c for c in formula_cells(path) if 't="array"' in c[3]]
    spilling = [c for c in formula_cells(path) if re.search(
        r">(SOP_KPI_BY|SOP_VENDOR_WATCH|SOP_VARIANCE_DETAIL|SOP_LABOUR_BY_WORK_CENTER)\(", c[3])]
    # the 7 spilling cells of xl/sheets.toml: SOP_KPI_BY ×4 (fill rate by category, lead
    # times by salesperson, schedule attainment by work center and by item),
    # SOP_LABOUR_BY_WORK_CENTER, SOP_VENDOR_WATCH, SOP_VARIANCE_DETAIL
    assert len(spilling) == 7 and {c[:2] for c in spilling} == {c[:2] for c in arrays}
    xml = sheet_xml(path)
    for sheet, coord, attrs, f, _ in arrays:
        assert re.search(r'\bcm="1"', attrs), (sheet, coord)
        first, last = re.search(r'ref="([A-Z]+\d+):([A-Z]+\d+)"', f).groups()
        assert first == coord
        # the member cells: plain cached values, never a formula or an inline string
        lo = openpyxl.utils.cell.range_boundaries(f"{first}:{last}")
        for r in range(lo[1], lo[3] + 1):
            for c in range(lo[0], lo[2] + 1):
                member = f"{openpyxl.utils.get_column_letter(c)}{r}"
                if member == coord:
                    continue
                m = re.search(rf'<c r="{member}"([^>]*?)(?:/>|>(.*?)</c>)', xml[sheet], re.S)
                if m is None or m.group(2) is None:
                    continue  # an empty member cell
                assert "<f" not in m.group(2) and "inlineStr" not in m.group(1), m.group(0)
                assert re.fullmatch(r"<v>[^<]*</v>", m.group(2)), m.group(0)
    if which == "demo":  # the spill grew to the result: fill rate by the 5 categories
        perf = next(c for c in arrays if c[0] == "1 Performance")
        assert 'ref="M5:N10"' in perf[3]


@pytest.mark.parametrize("which", ["template", "demo"])
def test_every_formula_cell_carries_a_cached_value(which, demo):
    path = TEMPLATE if which == "template" else demo
    cells = formula_cells(path)
    assert len(cells) > 300
    # an empty text result (t="str", <v></v>) is a cached value too: Excel writes it so
    missing = [(s, c, f) for s, c, a, f, rest in cells
               if not (re.match(r"<v>[^<]+</v>", rest)
                       or ('t="str"' in a and rest.startswith("<v></v>")))]
    assert not missing, missing[:10]


@pytest.mark.parametrize("which", ["template", "demo"])
def test_calculation_properties_and_list_validations(which, demo):
    path = TEMPLATE if which == "template" else demo
    with zipfile.ZipFile(path) as z:
        wb = z.read("xl/workbook.xml").decode()
    assert re.findall(r"<calcPr[^>]*>", wb) == [f'<calcPr calcId="{CALC_ID}"/>']
    formulas = [f for xml in sheet_xml(path).values()
                for f in re.findall(r"<formula1>([^<]*)</formula1>", xml)]
    assert len(formulas) >= 9
    assert not [f for f in formulas if f.startswith("=")]
    # named lists resolve to a defined name of the workbook
    names = set(re.findall(r'<definedName name="([^"]+)"', wb))
    for f in formulas:
        if not f.startswith('"'):
            assert f in names, f


# --------------------------------------------------------------------------- round trip


def test_a_headless_save_keeps_the_dynamic_arrays(demo, tmp_path):
    # openpyxl alone drops metadata.xml and the cm attributes ...
    plain = tmp_path / "plain.xlsm"
    wb = openpyxl.load_workbook(demo, keep_vba=True)
    wb.save(plain)
    with zipfile.ZipFile(plain) as z:
        assert "xl/metadata.xml" not in z.namelist()
    # ... a headless save (no recalculation in between) writes them again
    copy = tmp_path / "copy.xlsm"
    shutil.copy(plain, copy)
    book = HeadlessWorkbook(copy)
    book.set_value("cfg_horizon", book.get_value("cfg_horizon"))
    book.save(backups=0)
    before = {(c[0], c[1]): c for c in formula_cells(demo) if 't="array"' in c[3]}
    after = {(c[0], c[1]): c for c in formula_cells(copy) if 't="array"' in c[3]}
    assert before.keys() == after.keys() and len(after) == 7
    for key, cell in after.items():
        assert 'cm="1"' in cell[2] and cell[3] == before[key][3], key
    with zipfile.ZipFile(copy) as z:
        assert z.read("xl/metadata.xml") == METADATA_XML
        assert re.findall(r"<calcPr[^>]*>", z.read("xl/workbook.xml").decode()) == [
            f'<calcPr calcId="{CALC_ID}"/>']


# --------------------------------------------------------------------------- readers


def cached_values(path: Path) -> dict[tuple[str, str], object]:
    """(sheet, cell) → the cached value of each formula cell, read from the XML."""
    out = {}
    for sheet, coord, attrs, _, rest in formula_cells(path):
        v = re.match(r"<v>([^<]*)</v>", rest).group(1)
        kind = re.search(r'\bt="(\w+)"', attrs)
        kind = kind.group(1) if kind else "n"
        v = v.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        out[(sheet, coord)] = float(v) if kind == "n" else (v == "1" if kind == "b" else v)
    return out


ERRORS = {"#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#DIV/0!", "#NULL!"}


def same(shown, stored) -> bool:
    if isinstance(stored, float):
        return isinstance(shown, (int, float)) and not isinstance(shown, bool) and \
            shown == pytest.approx(stored, rel=1e-12, abs=1e-12)
    return str(shown) == str(stored)


@pytest.mark.parametrize("which", ["template", "demo"])
def test_calamine_sees_every_stored_value(which, demo):
    path = TEMPLATE if which == "template" else demo
    wb = CalamineWorkbook.from_path(str(path))
    grids = {name: wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
             for name in wb.sheet_names}
    wrong = []
    for (sheet, coord), stored in cached_values(path).items():
        r, c = openpyxl.utils.cell.coordinate_to_tuple(coord)
        grid = grids[sheet]
        shown = grid[r - 1][c - 1] if r - 1 < len(grid) and c - 1 < len(grid[r - 1]) else ""
        # python-calamine returns a cell error as "" (it has no error type)
        ok = shown == "" if stored in ERRORS else same(shown, stored)
        if not ok:
            wrong.append((sheet, coord, stored, shown))
    assert not wrong, wrong[:10]


def test_libreoffice_shows_the_stored_values(demo, tmp_path):
    """LibreOffice does not know the UDFs: were it to recalculate the workbook on load (it
    does with ``fullCalcOnLoad``, which openpyxl writes), every UDF cell would show #NAME?.
    It must show what the refresh stored. Known limit: LibreOffice 7.4 always recomputes
    array formulas on load, and re-evaluates a cell whose stored result is an error, so the
    5 spill ranges and a UDF cell holding #N/A show #NAME? there (Excel keeps them)."""
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice (soffice) is required: .ci/run installs it"
    shutil.copy(demo, tmp_path / "in.xlsm")
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--norestore", "--convert-to", "xlsx", "--outdir", str(tmp_path / "out"),
                    str(tmp_path / "in.xlsm")], check=True, capture_output=True, timeout=300)
    shown = openpyxl.load_workbook(tmp_path / "out" / "in.xlsx", data_only=True)
    in_arrays = set()
    for sheet, _, _, f, _ in formula_cells(demo):
        if 't="array"' in f:
            ref = re.search(r'ref="([A-Z]+\d+:[A-Z]+\d+)"', f).group(1)
            in_arrays |= {(sheet, c.coordinate) for row in shown[sheet][ref] for c in row}
    checked, wrong = 0, []
    for (sheet, coord), stored in cached_values(demo).items():
        if (sheet, coord) in in_arrays:
            continue
        value = shown[sheet][coord].value
        checked += 1
        if isinstance(stored, float):
            ok = isinstance(value, (int, float)) and value == pytest.approx(stored, rel=1e-9)
        elif stored in ERRORS:  # LibreOffice 7.4 re-evaluates a cell whose stored result is
            ok = value in ERRORS  # an error: an error still, #NAME? for a UDF
        else:  # an empty text result reads back as an empty cell
            ok = str(value) == str(stored) or (stored == "" and value is None)
        if not ok:
            wrong.append((sheet, coord, stored, value))
    assert checked > 300 and not wrong, wrong[:10]


_CACHED = {}


def cached(path: Path) -> openpyxl.Workbook:
    if path not in _CACHED:
        _CACHED[path] = openpyxl.load_workbook(path, data_only=True, keep_vba=True)
    return _CACHED[path]
