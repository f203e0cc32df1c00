"""Headless refresh + recalculation: every UDF cell of the template equals the KPI
engine's figure for the same cut; the named KPI cells hold the right numbers (demo data and
a hand-worked set); LibreOffice shows no error in native formula cells; bad input leaves
the workbook unchanged byte for byte."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.formula.tokenizer import Token, Tokenizer
from sources import line, ship, write_source

from sop_workbook import demo_data
from sop_workbook.actions import refresh
from sop_workbook.errors import SourceValidationError
from sop_workbook.kpi import build_facts
from sop_workbook.kpi.options import KpiOptions
from sop_workbook.kpi_report import compute_kpis
from sop_workbook.loader import load_source
from sop_workbook.workbook.formula import FormulaError
from sop_workbook.workbook.headless import HeadlessWorkbook
from sop_workbook.workbook.recalc import compute, formula_text

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recalc")
    demo_data.write(folder / "data")
    path = folder / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    refresh(book, str(folder / "data"))
    book.save()
    return path, load_source(folder / "data")


def cached(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path, data_only=True, keep_vba=True)


def test_named_kpi_cells_equal_the_engine(demo_book):
    path, data = demo_book
    values = cached(path)
    sheet, ref = values.defined_names["cfg_labour_rate"].attr_text.split("!")
    rate = float(values[sheet.strip("'")][ref.replace("$", "")].value)
    engine = compute_kpis(data, "2026-10", KpiOptions(labour_rate=rate))
    engine["fill_rate_unit"] = compute_kpis(data, "2026-10", KpiOptions(fill_level="unit"))[
        "fill_rate"]
    names = [n for n in values.defined_names if n.startswith("kpi_") and n != "kpi_period"]
    assert len(names) == 15
    assert engine["lead_time_adherence"] is not None and engine["labour_absorption"] is not None
    for name in names:
        sheet, ref = values.defined_names[name].attr_text.split("!")
        got = values[sheet.strip("'")][ref.replace("$", "")].value
        want = engine[name[4:]]
        if want is None:
            assert got == "#N/A", name
        else:
            assert got == pytest.approx(want, rel=1e-9), name
    assert values["Scorecard"]["B3"].value == "2026-10"


def udf_cells(path: Path):
    wb = openpyxl.load_workbook(path, keep_vba=True)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                text = formula_text(cell.value)
                if text and text.startswith("=SOP_"):
                    yield ws.title, cell.coordinate, text


def test_finance_drill_down_and_spilled_breakdown(demo_book, tmp_path):
    path, data = demo_book
    copy = tmp_path / "wb.xlsm"
    shutil.copy(path, copy)
    book = HeadlessWorkbook(copy)
    book.wb["4 Finance"]["S5"] = "6310"
    book.recalculate()
    book.save()
    from sop_workbook import kpi

    mapping = kpi.map_sales_budget_to_gl(data)
    variance = kpi.budget_variance(data, mapping, "2026-10").set_index("gl_account")
    v = cached(copy)
    fin = v["4 Finance"]
    assert fin["S7"].value == pytest.approx(variance.loc["6310", "variance"])
    assert fin["U7"].value == pytest.approx(variance.loc["6310", "variance_pct"])
    detail = kpi.variance_detail(mapping, "6310", "2026-10")
    shown = [[fin.cell(r, c).value for c in range(18, 22)] for r in range(10, 10 + len(detail))]
    assert [row[3] for row in shown] == pytest.approx(detail["amount"].tolist())
    assert fin["R9"].value == "customer_no"
    assert fin.cell(10 + len(detail), 18).value is None  # nothing below the spill
    # fill rate by category, spilled on the Performance sheet, against the engine
    facts = kpi.build_facts(data)
    by_category = kpi.fill_rate(facts, "2026-10", by="category")["value"]
    perf = v["1 Performance"]
    got = {perf.cell(r, 13).value: perf.cell(r, 14).value for r in range(6, 6 + 10)
           if perf.cell(r, 13).value}
    assert got == pytest.approx(by_category.to_dict())


def test_every_udf_cell_equals_the_engine_for_its_cut(demo_book):
    """Trend cells (6 periods) and scorecard cells, each against the engine's figure."""
    path, data = demo_book
    facts = build_facts(data)
    values = cached(path)
    from sop_workbook import kpi

    engine = {
        "SOP_SALES_OTD": lambda p, lvl: kpi.sales_otd(facts, p).value,
        "SOP_FILL_RATE": lambda p, lvl: kpi.fill_rate(facts, p, level=lvl or "line").value,
        "SOP_VENDOR_OTD": lambda p, lvl: kpi.vendor_otd(facts, p).value,
        "SOP_SCHEDULE_ATTAINMENT": lambda p, lvl: kpi.schedule_attainment(facts, p).value,
        "SOP_INVENTORY_TURNS": lambda p, lvl: kpi.inventory_turns(facts, p).value,
        "SOP_DAYS_OF_SUPPLY": lambda p, lvl: kpi.days_of_supply(facts, p).value,
        "SOP_FORECAST_ACCURACY": lambda p, lvl: kpi.forecast_error(facts, p).accuracy,
        "SOP_FORECAST_BIAS": lambda p, lvl: kpi.forecast_error(facts, p).bias,
        "SOP_TRACKING_SIGNAL": lambda p, lvl: kpi.tracking_signal(facts, p),
        "SOP_CLOSE_RATIO": lambda p, lvl: kpi.close_ratio(facts, p).value,
        "SOP_COMMIT_VS_CLOSED": lambda p, lvl: kpi.commit_vs_closed(facts, p).ratio,
    }
    checked = 0
    for sheet, coord, formula in udf_cells(path):
        tokens = [t for t in Tokenizer(formula).items if t.type != Token.WSPACE]
        name = tokens[0].value[:-1]
        if name not in engine:  # finance and spilled breakdowns: tested below
            continue
        args = [t.value for t in tokens if t.type == Token.OPERAND]
        period_ref = args[1]
        if period_ref == "kpi_period":
            period = values["Scorecard"]["B3"].value
        else:  # a trend header such as F$5 on the same sheet
            period = values[sheet][period_ref.replace("$", "")].value
        level = args[4].strip('"') if len(args) > 4 else None
        want = engine[name](period, level)
        got = values[sheet][coord].value
        if want is None:
            assert got == "#N/A", (sheet, coord)
        else:
            assert got == pytest.approx(want, rel=1e-9), (sheet, coord, formula)
        checked += 1
    assert checked == 84  # 12 scorecard + 72 trend cells


def test_hand_worked_figures_through_the_workbook(tmp_path):
    # The delivery fixture of test_kpi_delivery_supply: March 2026.
    src = write_source(
        tmp_path / "src",
        sales_lines=[line("O1", 1, 10, "2026-03-10"), line("O1", 2, 5, "2026-03-20", item="B"),
                     line("O2", 1, 4, "", "2026-03-05", customer="C2", location="EAST"),
                     line("O3", 1, 6, "2026-03-31", "2026-03-25", customer="C2", item="B",
                          location="EAST")],
        sales_shipments=[ship("S1", 1, "O1", 1, "2026-03-10", 10),
                         ship("S1", 2, "O1", 2, "2026-03-19", 3),
                         ship("S2", 1, "O1", 2, "2026-03-25", 2),
                         ship("S3", 1, "O2", 1, "2026-03-06", 4),
                         ship("S4", 1, "O3", 1, "2026-03-30", 6)],
    )
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    book.set_value("cfg_current_period", "2026-04")  # last closed period: 2026-03
    refresh(book, str(src))
    book.save()
    v = cached(path)
    assert v["Scorecard"]["B3"].value == "2026-03"
    # OTD: S1/1 on, S1/2 on, S2/1 late, S3/1 late (requested 03-05), S4/1 on → 3/5
    assert v["Scorecard"]["B6"].value == pytest.approx(3 / 5)
    # fill rate: O1/1 filled, O1/2 3 of 5, O2/1 0 of 4 by 03-05, O3/1 filled → 2/4
    assert v["Scorecard"]["B7"].value == pytest.approx(2 / 4)
    # units: (10 + 3 + 0 + 6) / 25
    assert v["Scorecard"]["B8"].value == pytest.approx(19 / 25)
    assert v["Scorecard"]["B9"].value == "#N/A"  # no receipts: vendor OTD has no value


def test_libreoffice_shows_no_error_in_native_formula_cells(demo_book, tmp_path):
    path, _ = demo_book
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice (soffice) is required: .ci/run installs it"
    shutil.copy(path, tmp_path / "in.xlsm")
    subprocess.run([soffice, "--headless", "--norestore", "--convert-to", "xlsx", "--outdir",
                    str(tmp_path / "out"), str(tmp_path / "in.xlsm")], check=True,
                   capture_output=True, timeout=180,
                   env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    computed = openpyxl.load_workbook(tmp_path / "out" / "in.xlsx", data_only=True)
    formulas = openpyxl.load_workbook(path, keep_vba=True)
    natives = 0
    for ws in formulas.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                f = cell.value
                if isinstance(f, str) and f.startswith("=") and not f.startswith("=SOP_"):
                    natives += 1
                    value = computed[ws.title][cell.coordinate].value
                    assert not (isinstance(value, str) and value.startswith("#")
                                and value != "#N/A"), (ws.title, cell.coordinate, f, value)
    assert natives > 100


def test_invalid_source_leaves_the_workbook_unchanged(demo_book, tmp_path):
    path, _ = demo_book
    copy = tmp_path / "wb.xlsm"
    shutil.copy(path, copy)
    before = copy.read_bytes()
    bad = write_source(tmp_path / "bad", sales_lines=[line("O1", 1, "x", "2026-03-10")])
    book = HeadlessWorkbook(copy)
    with pytest.raises(SourceValidationError):
        refresh(book, str(bad))
    assert copy.read_bytes() == before
    assert not list(tmp_path.glob("*.bak*"))


def test_refresh_keeps_the_parts_and_planner_inputs(demo_book, tmp_path):
    path, _ = demo_book
    with zipfile.ZipFile(TEMPLATE) as a, zipfile.ZipFile(path) as b:
        assert a.read("xl/vbaProject.bin") == b.read("xl/vbaProject.bin")
        assert a.read("customUI/customUI.xml") == b.read("customUI/customUI.xml")
        assert b"ui/extensibility" in b.read("_rels/.rels")
    wb = openpyxl.load_workbook(path, keep_vba=True)
    assert wb["Config"]["B5"].value == "2026-11"
    assert len(wb["Scorecard"].conditional_formatting) >= 1


def test_unsupported_formula_in_an_argument_is_a_clear_error(tmp_path):
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb["Scorecard"]["B6"] = "=SOP_SALES_OTD(agg_sales[#All],VLOOKUP(1,A1:B2,2))"
    wb.save(path)
    with pytest.raises(FormulaError, match=r"Scorecard!B6: function VLOOKUP"):
        compute(path)
