"""SOP_Template.xlsm as committed: rebuilt from xl/, structure a planner relies on, VBA and
ribbon wiring, UDF wrappers, a headless save that keeps every part, and LibreOffice
opening it and exporting every stage sheet to PDF."""

from __future__ import annotations

import inspect
import io
import re
import shutil
import subprocess
import tomllib
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.formula.tokenizer import Tokenizer

import udfs
from sop_workbook.template.build import XL_DIR, build_template_bytes, udf_wrapper_module
from sop_workbook.template.package import ribbon_callbacks, vba_ribbon_callbacks

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from oletools.olevba import VBA_Parser

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"
STAGES = ["1 Performance", "2 Demand", "3 Supply", "4 Finance", "5 Pre-S&OP", "6 Executive"]
KPIS = tomllib.loads((XL_DIR / "scorecard.toml").read_text(encoding="utf-8"))["kpi"]
DATA_TABLES = [t["name"] for t in
               tomllib.loads((XL_DIR / "tables.toml").read_text(encoding="utf-8"))["table"]]


@pytest.fixture(scope="module")
def wb():
    return openpyxl.load_workbook(TEMPLATE, keep_vba=True)


@pytest.fixture(scope="module")
def modules() -> dict[str, str]:
    parser = VBA_Parser(str(TEMPLATE))
    try:
        return {stream.split("/")[-1]: code for _, stream, _, code in parser.extract_macros()}
    finally:
        parser.close()


def code_lines(source: str) -> list[str]:
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[0].startswith("VERSION ") and lines[0].endswith(" CLASS"):
        lines = lines[lines.index("END") + 1:]
    while lines and re.match(r"Attribute VB_\w+ = ", lines[0]):
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def test_committed_template_is_rebuilt_from_its_sources():
    assert TEMPLATE.read_bytes() == build_template_bytes(), \
        "SOP_Template.xlsm is stale: run `uv run sop build-template`"


def test_sheets_in_cycle_order_with_owners(wb):
    names = wb.sheetnames
    assert names[:2] == ["Guide", "Config"]
    assert names[2:8] == STAGES
    assert names[8:12] == ["Scorecard", "Calendar", "Actions", "Plan history"]
    assert names[12:-1] == DATA_TABLES  # data tables grouped at the end
    assert names[-1] == "xlwings.conf"
    for stage in STAGES:
        assert str(wb[stage]["A2"].value).startswith("Owner: "), stage
        assert wb[stage].sheet_properties.tabColor is not None


def test_every_kpi_has_a_name_on_the_scorecard_for_the_last_closed_period(wb):
    period = wb.defined_names["kpi_period"].attr_text
    assert period == "'Scorecard'!$B$3"
    # the last closed period; while it is not loaded (Config's "Data loaded through" names
    # an earlier month), the last loaded one
    from sop_workbook.workbook.formula import evaluate

    formula = wb["Scorecard"]["B3"].value
    for current, through, shown in (("2026-11", "", "2026-10"),
                                    ("2026-11", "2026-10", "2026-10"),
                                    ("2027-01", "2026-12", "2026-12"),
                                    ("2026-12", "2026-10 (2026-11 not loaded: Refresh)",
                                     "2026-10"),
                                    ("2026-11", "nothing (2026-10 and before not loaded: "
                                     "Refresh)", "2026-10"),
                                    ("2026-08", "2026-10", "2026-07")):
        names = {"cfg_current_period": current, "cfg_data_through": through}
        assert evaluate(formula, names.__getitem__) == shown, (current, through)
    assert wb.defined_names["cfg_data_through"].attr_text == "'Config'!$B$14"
    assert wb.defined_names["cfg_current_period"].attr_text == "'Config'!$B$5"
    for kpi in KPIS:
        target = wb.defined_names[f"kpi_{kpi['key']}"].attr_text
        sheet, ref = target.split("!")
        assert sheet == "'Scorecard'"
        formula = wb["Scorecard"][ref.replace("$", "")].value
        assert formula.startswith("=SOP_") and "kpi_period" in formula, kpi["key"]


def udf_calls(wb) -> list[tuple[str, str, int]]:
    """(cell, function, argument count) of every SOP_ call in a formula."""
    calls = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if not (isinstance(cell.value, str) and cell.value.startswith("=")):
                    continue
                stack: list[list] = []
                for tok in Tokenizer(cell.value).items:
                    if tok.type == "FUNC" and tok.subtype == "OPEN":
                        stack.append([tok.value[:-1].upper(), 0, False])
                    elif stack and tok.type == "SEP" and tok.subtype == "ARG":
                        stack[-1][1] += 1
                    elif tok.type == "FUNC" and tok.subtype == "CLOSE":
                        name, seps, _ = stack.pop()
                        if name.startswith("SOP_"):
                            calls.append((f"{ws.title}!{cell.coordinate}", name, seps + 1))
    return calls


def test_every_udf_in_a_cell_has_a_wrapper_and_a_python_function(wb, modules):
    calls = udf_calls(wb)
    assert len(calls) > 60
    wrappers = {}
    source = modules["xlwings_udfs"].replace("\r\n", "\n")
    for m in re.finditer(r"^Function (\w+)\((.*)\)$", source, re.M):
        args = [a.strip() for a in m.group(2).split(",") if a.strip()]
        wrappers[m.group(1)] = (sum(not a.startswith("Optional") for a in args), len(args))
    for where, name, n in calls:
        assert name in wrappers, (where, name)
        low, high = wrappers[name]
        assert low <= n <= high, (where, name, n)
        params = inspect.signature(udfs.UDFS[name]).parameters.values()
        required = sum(p.default is inspect.Parameter.empty for p in params)
        assert required <= n <= len(params), (where, name)
    assert set(wrappers) == set(udfs.UDFS)


def test_vba_read_back_equals_the_sources(modules):
    for path in sorted((XL_DIR / "vba").glob("*.bas")):
        assert code_lines(modules[path.stem]) == code_lines(path.read_text()), path.name
    assert code_lines(modules["xlwings_udfs"]) == code_lines(udf_wrapper_module())
    assert "RunPython" not in {m.group(1) for m in re.finditer(
        r"^\s*(?:Public\s+)?(?:Sub|Function)\s+(\w+)", "\n".join(modules.values()), re.M)}


def test_ribbon_buttons_call_existing_callbacks(modules):
    with zipfile.ZipFile(TEMPLATE) as z:
        custom_ui = z.read("customUI/customUI.xml")
    actions = {cb for _, attr, cb in ribbon_callbacks(custom_ui) if attr == "onAction"}
    assert {"Ribbon.SOP_Refresh", "Ribbon.SOP_RollForward",
            "Ribbon.SOP_ExportScorecard"} <= actions
    subs = vba_ribbon_callbacks(modules["Ribbon"])
    for action in actions:
        assert action.split(".")[-1] in subs, action


def test_xlwings_conf_sheet(wb):
    ws = wb["xlwings.conf"]
    conf = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, ws.max_row + 1)}
    assert conf["UDF Modules"] == "udfs"
    # xlwings' GetConfig (addin/Config.bas) returns a key found on the sheet even when its
    # value is empty, so the per-machine keys must be absent (the add-in setting applies)
    # and no key may be empty
    assert not {"Interpreter_Win", "Interpreter_Mac", "PYTHONPATH"} & set(conf)
    assert all(value not in (None, "") for value in conf.values()), conf


def test_inputs_unlocked_formulas_locked_sheets_protected(wb):
    for name in ["Config", *STAGES, "Scorecard", "Actions"]:
        assert wb[name].protection.sheet, name
    assert wb["Config"]["B5"].protection.locked is False  # current period: an input
    assert wb["Scorecard"]["B6"].protection.locked is True  # a KPI formula
    assert wb["Actions"]["B5"].protection.locked is False  # the action log is typed in


def parts(path_or_bytes) -> dict[str, bytes]:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def inventory(wb) -> dict:
    return {
        "tables": sorted((ws.title, t.displayName, t.ref) for ws in wb.worksheets
                         for t in ws.tables.values()),
        "names": sorted((n, d.attr_text) for n, d in wb.defined_names.items()),
        "validations": sorted((ws.title, str(dv.sqref), dv.formula1) for ws in wb.worksheets
                              for dv in ws.data_validations.dataValidation),
        "conditional": sorted((ws.title, str(cf.sqref), len(cf.rules)) for ws in wb.worksheets
                              for cf in ws.conditional_formatting),
        "charts": sorted((ws.title, len(ws._charts)) for ws in wb.worksheets),
        "code_names": [ws.sheet_properties.codeName for ws in wb.worksheets],
    }


def test_headless_save_keeps_every_part(tmp_path, wb):
    saved = tmp_path / "saved.xlsm"
    openpyxl.load_workbook(TEMPLATE, keep_vba=True).save(saved)
    before, after = parts(TEMPLATE), parts(saved)
    assert after["xl/vbaProject.bin"] == before["xl/vbaProject.bin"]
    assert after["customUI/customUI.xml"] == before["customUI/customUI.xml"]
    assert b"relationships/ui/extensibility" in after["_rels/.rels"]
    assert b"macroEnabled.main+xml" in after["[Content_Types].xml"]
    # Performance: delivery and forecast trends; Pre-S&OP: revenue by scenario;
    # Executive: delivery trend and revenue by scenario
    assert sum(n.startswith("xl/charts/chart") for n in after) == \
        sum(n.startswith("xl/charts/chart") for n in before) == 5
    assert inventory(openpyxl.load_workbook(saved, keep_vba=True)) == inventory(wb)
    assert len(inventory(wb)["validations"]) >= 10
    assert len(inventory(wb)["conditional"]) >= 6


def test_libreoffice_opens_and_exports_every_stage_sheet(tmp_path):
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice (soffice) is required: .ci/run installs it"
    shutil.copy(TEMPLATE, tmp_path / "t.xlsm")
    run = subprocess.run([soffice, "--headless", "--norestore", "--convert-to", "pdf",
                          "--outdir", str(tmp_path), str(tmp_path / "t.xlsm")],
                         capture_output=True, text=True, timeout=180,
                         env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    pdf = tmp_path / "t.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    for title in ["1 · Previous-period performance", "2 · Demand review", "3 · Supply review",
                  "4 · Finance review", "5 · Pre-S&OP", "6 · Executive S&OP"]:
        assert title in text
    assert text.count("Owner: ") >= 6
    # LibreOffice computed the native formulas: the last closed period of 2026-11
    assert "Balanced scorecard for 2026-10 (last closed period)" in text
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "3", "-l", "3", str(pdf),
                    str(tmp_path / "page")], check=True)
    pngs = list(tmp_path.glob("page*.png"))
    assert pngs and pngs[0].stat().st_size > 10_000
