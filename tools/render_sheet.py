"""Render one region of a workbook sheet to PNG, as LibreOffice draws it (for reviews and
the README screenshots): copy → only that sheet visible, print area = the region, one page
→ LibreOffice PDF → pdftoppm.

    uv run python tools/render_sheet.py WORKBOOK "2 Demand" A1:AO60 out.png [--dpi 110]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from sop_workbook.workbook.headless import HeadlessWorkbook


def render(workbook: Path, sheet: str, region: str, out: Path, dpi: int = 110) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        copy = tmp / "render.xlsm"
        shutil.copy(workbook, copy)
        book = HeadlessWorkbook(copy)  # keeps the cached results of the UDF cells
        wb = book.wb
        for ws in wb.worksheets:
            ws.sheet_state = "visible" if ws.title == sheet else "hidden"
        ws = wb[sheet]
        wb.active = wb.worksheets.index(ws)
        ws.print_area = region
        ws.page_setup.orientation = "landscape"
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 1
        book.recalculate()  # cached results of the UDF cells, as Excel would show them
        book.save(backups=0)
        subprocess.run(["soffice", "--headless", "--norestore",
                        f"-env:UserInstallation=file://{tmp}/profile", "--convert-to", "pdf",
                        "--outdir", str(tmp), str(copy)], check=True, capture_output=True,
                       timeout=300)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", "1", "-l",
                        "1", str(tmp / "render.pdf"), str(tmp / "page")], check=True)
        shutil.copy(tmp / "page.png", out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("workbook", type=Path)
    parser.add_argument("sheet")
    parser.add_argument("region")
    parser.add_argument("out", type=Path)
    parser.add_argument("--dpi", type=int, default=110)
    a = parser.parse_args()
    print(render(a.workbook, a.sheet, a.region, a.out, a.dpi))
