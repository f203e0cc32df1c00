"""Workbooks that try to take control when opened: refused with a clear error, in bounded
time and memory, before any XML is parsed (zip bomb) or by defusedxml (entity bomb)."""

import zipfile

import pytest

from sop_workbook.errors import SopError
from sop_workbook.workbook.headless import HeadlessWorkbook


def test_zip_bomb_is_refused(tmp_path):
    bomb = tmp_path / "bomb.xlsm"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        # 192 MiB of zeros in one part: compresses ~1000:1
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            block = b"\0" * (1 << 24)
            for _ in range(12):
                part.write(block)
    with pytest.raises(SopError, match="refusing to open"):
        HeadlessWorkbook(bomb)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">&lol9;</workbook>
"""


def test_billion_laughs_is_refused(tmp_path):
    from pathlib import Path

    template = Path(__file__).resolve().parents[2] / "SOP_Template.xlsm"
    hostile = tmp_path / "laughs.xlsm"
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(hostile, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/workbook.xml":
                data = BILLION_LAUGHS.encode()
            dst.writestr(info, data)
    with pytest.raises(SopError, match="cannot open"):
        HeadlessWorkbook(hostile)


def test_not_a_zip_is_a_clear_error(tmp_path):
    fake = tmp_path / "fake.xlsm"
    fake.write_text("=cmd|' /C calc'!A0")
    with pytest.raises(SopError, match="is not a workbook"):
        HeadlessWorkbook(fake)
