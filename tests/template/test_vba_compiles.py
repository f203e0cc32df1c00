"""Every VBA module of the template compiles in LibreOffice's VBA interpreter — the
nearest thing to Excel's *Debug › Compile VBAProject* on Linux (tools/lo_vba_compile.py,
run with the system Python's LibreOffice bridge, Debian package python3-uno, which .ci/run
installs). A deliberately broken module is caught (the check can fail)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import openpyxl

from sop_workbook.template.package import build_vba_project, make_macro_workbook

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools.olevba import VBA_Parser

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"
TOOL = ROOT / "tools" / "lo_vba_compile.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def compile_in_libreoffice(path: Path) -> dict[str, str]:
    assert shutil.which("soffice"), "LibreOffice (soffice) is required: .ci/run installs it"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True)
    assert probe.returncode == 0, "python3-uno (LibreOffice's Python bridge) is required: " \
        ".ci/run installs it"
    run = subprocess.run([SYSTEM_PYTHON, str(TOOL), str(path)], capture_output=True,
                         text=True, timeout=300)
    lines = [json.loads(ln) for ln in run.stdout.splitlines() if ln.startswith("{")]
    assert lines and "error" not in lines[0], run.stdout + run.stderr
    return {ln["module"]: ln["status"] for ln in lines}


def test_every_module_of_the_template_compiles():
    statuses = compile_in_libreoffice(TEMPLATE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parser = VBA_Parser(str(TEMPLATE))
        modules = {name.rsplit(".", 1)[0] for _, _, name, _ in parser.extract_macros()}
        parser.close()
    assert set(statuses) == modules and len(modules) >= 30
    assert {"Ribbon", "xlwings_udfs", "SopFunctionHelp", "ThisWorkbook"} <= modules
    assert {m: s for m, s in statuses.items() if s != "ok"} == {}


def test_a_module_that_does_not_compile_is_reported(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Guide"
    buf = io.BytesIO()
    wb.save(buf)
    vba = tmp_path / "vba"
    vba.mkdir()
    (vba / "Good.bas").write_text("Public Function SopGood()\n    SopGood = 1\nEnd Function\n")
    (vba / "Broken.bas").write_text("Public Sub SopBroken(\n    x = \nEnd Sub\n")
    project = build_vba_project(vba, sheet_code_names=["Sheet1"])
    path = tmp_path / "broken.xlsm"
    path.write_bytes(make_macro_workbook(buf.getvalue(), project,
                                         (ROOT / "xl" / "customUI.xml").read_bytes(),
                                         code_names={"Guide": "Sheet1"}))
    statuses = compile_in_libreoffice(path)
    assert statuses["Broken"] != "ok"
