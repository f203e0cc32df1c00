"""Packaging of the macro workbook: VBA project, ribbon part, .xlsm container.

Checked independently of the code under test where it matters: olevba (oletools) reads the
VBA source back, the dir stream is parsed here record by record, the ribbon XML is read with
ElementTree, and openpyxl / LibreOffice open the result.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import struct
import subprocess
import warnings
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import olefile
import openpyxl
import pytest
import xlwings
from ms_ovba_compression.ms_ovba import MsOvba as MsOvbaCompression

with warnings.catch_warnings():  # oletools 0.60 uses pyparsing names deprecated in 3.3
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools.olevba import VBA_Parser, decompress_stream

from sop_workbook.template.package import (
    _decompress,
    build_vba_project,
    generate_udf_wrappers,
    make_macro_workbook,
    ribbon_callbacks,
)

ROOT = Path(__file__).resolve().parents[2]
XL = ROOT / "xl"
VBA_DIR = XL / "vba"
CUSTOM_UI = XL / "customUI.xml"
CUSTOMUI_NS = "http://schemas.microsoft.com/office/2006/01/customui"
UI_REL = "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
MACRO_CT = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
VBA_CT = "application/vnd.ms-office.vbaProject"

SHEETS = {"Guide": "Sheet1", "Data": "Sheet2"}  # sheet title → code name
UDFS = [
    ("udfs", "SOP_FILL_RATE", ["period", "by", "caller"]),
    ("udfs", "SOP_SUM", ["first", "*rest"]),
    ("udfs", "SOP_LAG", ["period", "lag=1"]),
]


def tiny_xlsx() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Guide"
    ws["A1"] = "S&OP"
    data = wb.create_sheet("Data")
    data.append(["item", "qty"])
    data.append(["A", 1])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def build_vba() -> bytes:
    return build_vba_project(
        VBA_DIR,
        sheet_code_names=list(SHEETS.values()),
        extra_modules={"xlwings_udfs": generate_udf_wrappers(UDFS)},
    )


def build_xlsm() -> bytes:
    return make_macro_workbook(tiny_xlsx(), build_vba(), CUSTOM_UI.read_bytes(),
                               code_names=SHEETS)


@pytest.fixture(scope="module")
def xlsm() -> bytes:
    return build_xlsm()


@pytest.fixture(scope="module")
def vba_bin(xlsm) -> bytes:
    with zipfile.ZipFile(io.BytesIO(xlsm)) as z:
        return z.read("xl/vbaProject.bin")


@pytest.fixture(scope="module")
def modules(xlsm) -> dict[str, str]:
    """Module name → source text as olevba reads it from the built .xlsm."""
    parser = VBA_Parser("SOP_Template.xlsm", data=xlsm)
    try:
        return {stream.split("/")[-1]: code for _, stream, _, code in parser.extract_macros()}
    finally:
        parser.close()


def code_lines(source: str) -> list[str]:
    """Source without what VBA adds or keeps apart: the exported-class header and the leading
    ``Attribute VB_*`` lines; line endings normalised, trailing blank lines dropped."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[0].startswith("VERSION ") and lines[0].endswith(" CLASS"):
        end = lines.index("END")
        lines = lines[end + 1:]
    while lines and re.match(r"Attribute VB_\w+ = ", lines[0]):
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def dir_records(vba_bin: bytes) -> list[tuple[int, bytes]]:
    """The records of the decompressed VBA/dir stream (MS-OVBA 2.3.4.2), as (id, payload)."""
    with olefile.OleFileIO(io.BytesIO(vba_bin)) as ole:
        data = bytes(decompress_stream(bytearray(ole.openstream("VBA/dir").read())))
    records, i = [], 0
    while i < len(data):
        rid, size = struct.unpack_from("<HI", data, i)
        if rid == 0x0009:  # PROJECTVERSION: Size is 4 but 6 bytes follow
            size = 6
        records.append((rid, data[i + 6:i + 6 + size]))
        i += 6 + size
    return records


def project_references(vba_bin: bytes) -> dict[str, tuple[int, bytes]]:
    """Reference name → (record id, payload) of the record following its REFERENCENAME."""
    records = dir_records(vba_bin)
    refs = {}
    for k, (rid, payload) in enumerate(records):
        if rid == 0x0016:
            name = payload.decode("cp1252")
            assert records[k + 1][0] == 0x003E  # the Unicode name
            refs[name] = records[k + 2]
    return refs


def parse_reference_project(payload: bytes) -> tuple[str, str, int, int]:
    n = struct.unpack_from("<I", payload, 0)[0]
    absolute = payload[4:4 + n].decode("cp1252")
    m = struct.unpack_from("<I", payload, 4 + n)[0]
    relative = payload[8 + n:8 + n + m].decode("cp1252")
    major, minor = struct.unpack_from("<IH", payload, 8 + n + m)
    return absolute, relative, major, minor


def rels(data: bytes) -> list[dict[str, str]]:
    return [dict(el.attrib) for el in ET.fromstring(data)]


# --- Reproducibility ---------------------------------------------------------------------------


def test_vba_project_build_is_deterministic():
    random.seed(1)
    first = build_vba()
    random.seed(2)
    second = build_vba()
    assert first == second


def test_xlsm_build_is_deterministic(xlsm):
    # A second build from a second openpyxl save (another timestamp) gives the same bytes.
    assert build_xlsm() == xlsm
    with zipfile.ZipFile(io.BytesIO(xlsm)) as z:
        infos = z.infolist()
    names = [i.filename for i in infos]
    assert names[:2] == ["[Content_Types].xml", "_rels/.rels"]
    assert names[2:] == sorted(names[2:])
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}


# --- The VBA source ----------------------------------------------------------------------------


def test_olevba_reads_back_every_module(modules):
    expected = {
        "ThisWorkbook": (VBA_DIR / "ThisWorkbook.cls").read_text(),
        "Sheet1": "",
        "Sheet2": "",
        "Ribbon": (VBA_DIR / "Ribbon.bas").read_text(),
        "xlwings_udfs": generate_udf_wrappers(UDFS),
    }
    assert set(modules) == set(expected)
    for name, source in expected.items():
        assert code_lines(modules[name]) == code_lines(source), name


def test_modules_carry_the_attributes_excel_writes(modules):
    for name, base in (("ThisWorkbook", "00020819"), ("Sheet1", "00020820"),
                       ("Sheet2", "00020820")):
        lines = modules[name].splitlines()
        assert lines[:8] == [
            f'Attribute VB_Name = "{name}"',
            f'Attribute VB_Base = "0{{{base}-0000-0000-C000-000000000046}}"',
            "Attribute VB_GlobalNameSpace = False",
            "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = True",
            "Attribute VB_Exposed = True",
            "Attribute VB_TemplateDerived = False",
            "Attribute VB_Customizable = True",
        ]
    assert modules["Ribbon"].splitlines()[0] == 'Attribute VB_Name = "Ribbon"'
    assert modules["xlwings_udfs"].splitlines()[0] == 'Attribute VB_Name = "xlwings_udfs"'
    assert all("\r\n" in code or not code for code in modules.values())


def test_project_stream_lists_document_and_standard_modules(vba_bin):
    with olefile.OleFileIO(io.BytesIO(vba_bin)) as ole:
        project = ole.openstream("PROJECT").read().decode("cp1252")
        assert ole.openstream("VBA/_VBA_PROJECT").read()[:7] == bytes.fromhex("cc61ffff000300")
    items = [line for line in project.splitlines() if line.split("=")[0] in ("Document", "Module")]
    assert items == [
        "Document=ThisWorkbook/&H00000000",
        "Document=Sheet1/&H00000000",
        "Document=Sheet2/&H00000000",
        "Module=Ribbon",
        "Module=xlwings_udfs",
    ]


def test_no_xlwings_vba_source_is_copied(modules):
    for name, code in modules.items():
        definition = r"^\s*(Public\s+)?(Function|Sub)\s+RunPython\b"
        assert not re.search(definition, code, re.M | re.I), name
    assert not set(modules) & {"Main", "Config", "Utils", "Extensions", "Remote"}


# --- Ribbon ------------------------------------------------------------------------------------


def test_every_ribbon_action_is_a_ribbon_callback_sub(modules):
    root = ET.parse(CUSTOM_UI).getroot()
    assert root.tag == f"{{{CUSTOMUI_NS}}}customUI"
    actions = [el.get("onAction") for el in root.iter() if el.get("onAction")]
    assert actions
    for action in actions:
        module, _, sub = action.rpartition(".")
        candidates = [modules[module]] if module else list(modules.values())
        signature = re.compile(
            rf"^[ \t]*(Public[ \t]+)?Sub[ \t]+{re.escape(sub)}[ \t]*\(control As IRibbonControl\)",
            re.M,
        )
        assert any(signature.search(code) for code in candidates), action
    # The package's own reader agrees.
    assert [a for _, attr, a in ribbon_callbacks(CUSTOM_UI.read_bytes())
            if attr == "onAction"] == actions


def test_ribbon_tab_and_buttons():
    root = ET.parse(CUSTOM_UI).getroot()
    ns = {"c": CUSTOMUI_NS}
    tab = root.find("c:ribbon/c:tabs/c:tab", ns)
    assert tab.get("label").replace("&&", "&") == "S&OP"
    buttons = {b.get("label"): b for b in tab.iterfind(".//c:button", ns)}
    assert {"Refresh", "Roll forward", "Export scorecard"} <= set(buttons)
    for label, button in buttons.items():
        for attr in ("id", "imageMso", "screentip", "supertip", "onAction"):
            assert button.get(attr), (label, attr)
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids))


def test_ribbon_callbacks_run_the_python_macros(modules):
    ribbon = modules["Ribbon"]
    for sub, call in (("SOP_Refresh", "macros.refresh()"),
                      ("SOP_RollForward", "macros.roll_forward()"),
                      ("SOP_ExportScorecard", "macros.export_scorecard()")):
        body = re.search(rf"Sub {sub}\(.*?End Sub", ribbon, re.S).group(0)
        assert f'RunPython "import macros; {call}"' in body
    roll = re.search(r"Sub SOP_RollForward\(.*?End Sub", ribbon, re.S).group(0)
    assert roll.index("vbYesNo") < roll.index("If answer <> vbYes Then Exit Sub") \
        < roll.index("RunPython")


# --- References --------------------------------------------------------------------------------


def test_dir_stream_references_the_xlwings_add_in(vba_bin):
    refs = project_references(vba_bin)
    assert list(refs) == ["stdole", "Office", "xlwings"]
    assert refs["stdole"][0] == refs["Office"][0] == 0x000D  # REFERENCEREGISTERED
    assert b"{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}" in refs["Office"][1]  # IRibbonControl
    rid, payload = refs["xlwings"]
    assert rid == 0x000E  # REFERENCEPROJECT
    absolute, relative, _, _ = parse_reference_project(payload)
    assert re.fullmatch(r"\*\\C[A-Z]:\\.*\\xlwings\.xlam", absolute)
    assert re.fullmatch(r"\*\\C.*xlwings\.xlam", relative)


def test_xlwings_reference_has_the_shape_excel_wrote_in_quickstart(vba_bin):
    quickstart = Path(xlwings.__file__).parent / "quickstart.xlsm"
    with zipfile.ZipFile(quickstart) as z:
        excel_made = z.read("xl/vbaProject.bin")
    theirs = project_references(excel_made)["xlwings"]
    ours = project_references(vba_bin)["xlwings"]
    assert theirs[0] == ours[0] == 0x000E
    _, _, their_major, their_minor = parse_reference_project(theirs[1])
    _, _, our_major, our_minor = parse_reference_project(ours[1])
    assert (our_major, our_minor) == (their_major, their_minor)
    # Same record sequence in the PROJECTINFORMATION part (compat version is optional).
    head = [rid for rid, _ in dir_records(vba_bin)][:13]
    excel_head = [rid for rid, _ in dir_records(excel_made) if rid != 0x004A][:13]
    assert head == excel_head


# --- The .xlsm package -------------------------------------------------------------------------


def test_package_parts(xlsm):
    with zipfile.ZipFile(io.BytesIO(xlsm)) as z:
        types = ET.fromstring(z.read("[Content_Types].xml"))
        root_rels = rels(z.read("_rels/.rels"))
        wb_rels = rels(z.read("xl/_rels/workbook.xml.rels"))
        workbook = z.read("xl/workbook.xml").decode()
        sheet1 = z.read("xl/worksheets/sheet1.xml").decode()
        sheet2 = z.read("xl/worksheets/sheet2.xml").decode()
        assert z.read("customUI/customUI.xml") == CUSTOM_UI.read_bytes()
    overrides = {el.get("PartName"): el.get("ContentType") for el in types if el.get("PartName")}
    defaults = {el.get("Extension"): el.get("ContentType") for el in types if el.get("Extension")}
    assert overrides["/xl/workbook.xml"] == MACRO_CT
    assert defaults["bin"] == VBA_CT
    assert {"Type": VBA_REL, "Target": "vbaProject.bin"}.items() <= next(
        r for r in wb_rels if r["Type"] == VBA_REL).items()
    assert [r["Target"] for r in root_rels if r["Type"] == UI_REL] == ["customUI/customUI.xml"]
    for rel_list in (root_rels, wb_rels):
        assert len({r["Id"] for r in rel_list}) == len(rel_list)
    assert '<workbookPr codeName="ThisWorkbook"' in workbook
    assert '<sheetPr codeName="Sheet1"' in sheet1
    assert '<sheetPr codeName="Sheet2"' in sheet2
    ET.fromstring(workbook), ET.fromstring(sheet1)  # still well-formed


def test_openpyxl_round_trip_keeps_vba_project_and_ribbon(xlsm, vba_bin):
    wb = openpyxl.load_workbook(io.BytesIO(xlsm), keep_vba=True)
    assert wb.code_name == "ThisWorkbook"
    assert [ws.sheet_properties.codeName for ws in wb.worksheets] == ["Sheet1", "Sheet2"]
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as z:
        assert z.read("xl/vbaProject.bin") == vba_bin
        assert z.read("customUI/customUI.xml") == CUSTOM_UI.read_bytes()
        assert [r["Target"].lstrip("/") for r in rels(z.read("_rels/.rels"))
                if r["Type"] == UI_REL] == ["customUI/customUI.xml"]
        assert any(r["Type"] == VBA_REL for r in rels(z.read("xl/_rels/workbook.xml.rels")))
        types = ET.fromstring(z.read("[Content_Types].xml"))
        assert any(el.get("PartName") == "/xl/workbook.xml" and el.get("ContentType") == MACRO_CT
                   for el in types)


def test_code_names_must_match_the_document_modules():
    vba = build_vba_project(VBA_DIR)  # ThisWorkbook only
    with pytest.raises(ValueError, match="no document module for Sheet1, Sheet2"):
        make_macro_workbook(tiny_xlsx(), vba, CUSTOM_UI.read_bytes())
    vba = build_vba_project(VBA_DIR, sheet_code_names=["shGuide", "shData"])
    with pytest.raises(ValueError, match="worksheets without a code name: Data"):
        make_macro_workbook(tiny_xlsx(), vba, CUSTOM_UI.read_bytes(),
                            code_names={"Guide": "shGuide"})
    out = make_macro_workbook(tiny_xlsx(), vba, CUSTOM_UI.read_bytes(),
                              code_names={"Guide": "shGuide", "Data": "shData"})
    wb = openpyxl.load_workbook(io.BytesIO(out), keep_vba=True)
    assert [ws.sheet_properties.codeName for ws in wb.worksheets] == ["shGuide", "shData"]


def test_only_the_2006_ribbon_schema_is_accepted():
    ui14 = b'<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui"/>'
    with pytest.raises(ValueError, match="2006 schema"):
        make_macro_workbook(tiny_xlsx(), build_vba(), ui14, code_names=SHEETS)


def test_too_big_a_project_is_refused_not_corrupted(monkeypatch):
    # ms-cfb 0.0.6 writes one FAT sector (128 sectors of 512 bytes); beyond that the build must
    # fail loudly instead of writing a container whose streams do not read back. Raw
    # (uncompressed, MS-OVBA 2.4.1.3.10) chunks make a big container without a slow compression.
    def raw_chunks(self, data: bytes) -> bytes:
        chunks = [data[i:i + 4096] for i in range(0, len(data), 4096)]
        return b"\x01" + b"".join(b"\xff\x3f" + c.ljust(4096, b"\0") for c in chunks)

    monkeypatch.setattr(MsOvbaCompression, "compress", raw_chunks)
    few = [("udfs", f"SOP_KPI_{i}", ["period", "by", "caller"]) for i in range(60)]
    build_vba_project(VBA_DIR, extra_modules={"xlwings_udfs": generate_udf_wrappers(few)})
    many = [("udfs", f"SOP_KPI_{i}", ["period", "by", "caller"]) for i in range(150)]
    with pytest.raises(RuntimeError, match="128 sectors"):
        build_vba_project(VBA_DIR, extra_modules={"xlwings_udfs": generate_udf_wrappers(many)})


def test_build_self_check_decompresses_what_excel_compressed():
    # The build checks every module with its own MS-OVBA decompressor: it must agree with
    # olevba's on Excel-compressed, multi-chunk module streams (xlwings' add-in).
    with zipfile.ZipFile(Path(xlwings.__file__).parent / "addin" / "xlwings.xlam") as z:
        excel_made = z.read("xl/vbaProject.bin")
    records = dir_records(excel_made)
    streams = [p.decode("cp1252") for rid, p in records if rid == 0x001A]
    offsets = [struct.unpack("<I", p)[0] for rid, p in records if rid == 0x0031]
    checked = 0
    with olefile.OleFileIO(io.BytesIO(excel_made)) as ole:
        for name, offset in zip(streams, offsets, strict=True):
            compressed = ole.openstream(f"VBA/{name}").read()[offset:]
            expected = bytes(decompress_stream(bytearray(compressed)))
            assert _decompress(compressed) == expected, name
            checked += len(expected) > 4096
    assert checked  # at least one module spans several chunks


# --- UDF wrappers ------------------------------------------------------------------------------


def test_udf_wrapper_has_the_shape_xlwings_import_functions_writes():
    assert generate_udf_wrappers([("udfs", "SOP_FILL_RATE", ["period", "by"])]) == (
        'Attribute VB_Name = "xlwings_udfs"\n'
        "'Autogenerated code by xlwings - changes will be lost with next import!\n"
        '#Const App = "Microsoft Excel" \'Adjust when using outside of Excel\n'
        "Function SOP_FILL_RATE(period, by)\n"
        '    #If App = "Microsoft Excel" Then\n'
        "        If TypeOf Application.Caller Is Range Then On Error GoTo failed\n"
        '        SOP_FILL_RATE = XLPy.CallUDF("udfs", "SOP_FILL_RATE", Array(period, by), '
        "ThisWorkbook, Application.Caller)\n"
        "        Exit Function\n"
        "    #Else\n"
        '        SOP_FILL_RATE = XLPy.CallUDF("udfs", "SOP_FILL_RATE", Array(period, by))\n'
        "        Exit Function\n"
        "    #End If\n"
        "failed:\n"
        "    SOP_FILL_RATE = Err.Description\n"
        "End Function\n"
        "\n"
    )


def test_udf_wrapper_optional_vararg_and_caller_arguments():
    text = generate_udf_wrappers(UDFS)
    assert "Function SOP_FILL_RATE(period, by)\n" in text
    assert "Array(period, by, Nothing), ThisWorkbook, Application.Caller)" in text
    assert "Function SOP_SUM(first, ParamArray rest())\n" in text
    assert "    ReDim Preserve argsArray(0 to UBound(rest) - LBound(rest) + 1)\n" in text
    assert 'SOP_SUM = XLPy.CallUDF("udfs", "SOP_SUM", argsArray, ThisWorkbook,' in text
    assert "Function SOP_LAG(period, Optional lag)\n" in text


@pytest.mark.parametrize("spec", [
    ("udfs", "SOP_X", ["date"]),  # a VBA keyword
    ("udfs", "_private", ["a"]),  # not a VBA identifier
    ("udfs", "SOP_X", ["a", "A"]),  # VBA is case-insensitive
    ("udfs", "End", []),
    ("not a module", "SOP_X", []),
])
def test_udf_names_vba_cannot_compile_are_refused(spec):
    with pytest.raises(ValueError):
        generate_udf_wrappers([spec])


# --- LibreOffice -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None,
                    reason="LibreOffice (soffice) is not installed; .ci/run installs it")
def test_libreoffice_opens_the_xlsm_and_imports_the_modules(xlsm, tmp_path):
    src = tmp_path / "SOP_Template.xlsm"
    src.write_bytes(xlsm)
    profile = (tmp_path / "lo-profile").as_uri()
    result = subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore",
         "--convert-to", "ods", "--outdir", str(tmp_path), str(src)],
        capture_output=True, text=True, timeout=180, check=False,
    )
    out = tmp_path / "SOP_Template.ods"
    assert result.returncode == 0 and out.exists(), result.stdout + result.stderr
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        for module in ("ThisWorkbook", "Sheet1", "Sheet2", "Ribbon", "xlwings_udfs"):
            assert f"Basic/VBAProject/{module}.xml" in names, module
        ribbon = z.read("Basic/VBAProject/Ribbon.xml").decode()
        settings = z.read("settings.xml").decode()
    assert 'moduleType="normal"' in ribbon
    for sub in ("SOP_Refresh", "SOP_RollForward", "SOP_ExportScorecard"):
        assert f"Public Sub {sub}(control As IRibbonControl)" in ribbon
    code_names = re.findall(r'config:name="CodeName" config:type="string">(\w+)<', settings)
    assert code_names == ["ThisWorkbook", "Sheet1", "Sheet2"]
