"""Regenerate the README screenshots in docs/screenshots from a demo workbook: every stage
sheet and the Guide whole (its used range at the width of one page, all pages down), and
page 1 of the exported
scorecard PDF. LibreOffice draws them (workbook → PDF → pdftoppm), as in tools/render_sheet.py.

    uv run sop demo --out /tmp/demo
    uv run python tools/screenshots.py /tmp/demo [--out docs/screenshots]

DEMO is the folder `sop demo` wrote (SOP_Demo.xlsm and scorecard/scorecard.pdf in it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.print_settings import PrintArea

from sop_workbook.workbook.headless import HeadlessWorkbook

#: sheet → screenshot file name (without .png), in the README's order
SHEETS = {
    "2 Demand": "demand",
    "3 Supply": "supply",
    "4 Finance": "finance",
    "5 Pre-S&OP": "presop",
    "6 Executive": "executive",
    "1 Performance": "performance",
    "Guide": "guide",
}

#: resolution of the sheet screenshots (a landscape page is then 1,870 px wide)
DPI = 160
#: longest side of the scorecard screenshot in pixels
LONGEST_SIDE = 2600


def used_range(ws) -> str:
    """A1 to the last row and column that hold a value (styles alone do not count)."""
    last_row = last_col = 1
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is not None and cell.value != "":
                last_row = max(last_row, cell.row)
                last_col = max(last_col, cell.column)
    return f"A1:{get_column_letter(last_col)}{last_row}"


def _pages_to_png(pdf: Path, page: int, out: Path, tmp: Path) -> Path:
    """Page `page` of `pdf` as a PNG whose longest side is about LONGEST_SIDE pixels."""
    info = subprocess.run(["pdfinfo", "-f", str(page), "-l", str(page), str(pdf)],
                          check=True, capture_output=True, text=True).stdout
    size = next(line for line in info.splitlines() if line.startswith(f"Page{page:5d} size:")
                or line.startswith("Page size:"))
    w, h = (float(x) for x in size.split(":")[1].split("pts")[0].split(" x "))
    dpi = max(60, min(220, round(LONGEST_SIDE / (max(w, h) / 72))))
    stem = tmp / f"page{page}"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", str(page), "-l",
                    str(page), str(pdf), str(stem)], check=True)
    shutil.copy(stem.with_suffix(".png"), out)
    return out


def render_sheets(workbook: Path, out_dir: Path) -> list[Path]:
    """Every sheet of SHEETS, whole: the used range at the width of one page, as many pages
    down as it takes, stacked into one PNG. One LibreOffice run converts all the sheets."""
    from PIL import Image

    written = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        copies = []
        for name, stem in SHEETS.items():
            copy = tmp / f"{stem}.xlsm"
            shutil.copy(workbook, copy)
            book = HeadlessWorkbook(copy)  # keeps the cached results of the UDF cells
            wb = book.wb
            for ws in wb.worksheets:
                ws.sheet_state = "visible" if ws.title == name else "hidden"
                ws._print_area = PrintArea()  # LibreOffice prints a hidden sheet's area
            ws = wb[name]
            wb.active = wb.worksheets.index(ws)
            ws.print_area = used_range(ws)
            ws.print_title_rows = None
            ws.page_setup.orientation = "landscape"
            ws.sheet_properties.pageSetUpPr.fitToPage = True
            ws.page_setup.fitToWidth = 1
            ws.page_setup.fitToHeight = 0  # as many pages down as the sheet needs
            book.save(backups=0)
            copies.append(copy)
        subprocess.run(["soffice", "--headless", "--norestore",
                        f"-env:UserInstallation=file://{tmp}/profile", "--convert-to", "pdf",
                        "--outdir", str(tmp), *map(str, copies)], check=True,
                       capture_output=True, timeout=900)
        for copy in copies:
            pdf = copy.with_suffix(".pdf")
            subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(pdf), str(tmp / copy.stem)],
                           check=True)
            pages = [Image.open(p) for p in sorted(tmp.glob(f"{copy.stem}-*.png"))]
            width = max(p.width for p in pages)
            sheet = Image.new("RGB", (width, sum(p.height for p in pages)), "white")
            y = 0
            for p in pages:
                sheet.paste(p, (0, y))
                y += p.height
            out = out_dir / f"{copy.stem}.png"
            sheet.save(out, optimize=True)
            written.append(out)
    return written


def render_scorecard(pdf: Path, out_dir: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        return _pages_to_png(pdf, 1, out_dir / "scorecard-export.png", Path(tmp))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="folder written by `sop demo`")
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "docs" /
                        "screenshots")
    a = parser.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for path in render_sheets(a.demo / "SOP_Demo.xlsm", a.out):
        print(path)
    print(render_scorecard(a.demo / "scorecard" / "scorecard.pdf", a.out))
