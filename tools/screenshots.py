"""Regenerate the README screenshots in docs/screenshots from a demo workbook: every stage
sheet and the Guide whole (its used range at the width of an A2 page, all pages down), and
page 1 of the exported
scorecard PDF. LibreOffice draws them (workbook → PDF → pdftoppm), as in tools/render_sheet.py.

    uv run sop demo --out /tmp/demo
    uv run python tools/screenshots.py /tmp/demo [--out docs/screenshots]

DEMO is the folder `sop demo` wrote (SOP_Demo.xlsm and scorecard/scorecard.pdf in it).

What differs from the workbook, in the copies drawn only: a spilled UDF result (a dynamic
array) is drawn from its stored values, as Excel shows it — LibreOffice recomputes every
array formula when it opens a file, and without the Python UDFs it would draw ``#NAME?``
there (README, Excel section); frozen panes are dropped (LibreOffice would not print the
rows past them). The PNGs are quantised to 256 colours (a sheet is a few flat colours).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.print_settings import PrintArea

from sop_workbook.workbook.col_widths import plain_value
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

#: pixels per unit of Excel column width in a sheet screenshot (about one character of
#: the sheet's text), so that a wide sheet stays readable when the picture is zoomed
PX_PER_WIDTH = 5.5
#: the resolution of a sheet screenshot stays between these (an A2 landscape page is 23.4 in)
MIN_DPI, MAX_DPI = 80, 220
#: Excel's paper size code of A2
PAPER_A2 = 66
#: longest side of the scorecard screenshot in pixels
LONGEST_SIDE = 2600


def used_range(ws) -> str:
    """A1 to the last row and column that hold a value or a table (styles alone do not
    count). Reads the cells openpyxl holds without creating any (iterating the rows would
    create empty cells over the table bodies the headless workbook keeps out of openpyxl,
    and those would replace them when it saves)."""
    last_row = last_col = 1
    for (row, col), cell in ws._cells.items():
        if cell.value is not None and cell.value != "":
            last_row, last_col = max(last_row, row), max(last_col, col)
    for table in ws.tables.values():
        _, _, col, row = range_boundaries(table.ref)
        last_row, last_col = max(last_row, row), max(last_col, col)
    return f"A1:{get_column_letter(last_col)}{last_row}"


def sheet_width(ws, region: str) -> float:
    """The width of the region's columns, in Excel's units (characters of "0")."""
    last = column_index_from_string("".join(ch for ch in region.split(":")[1]
                                            if ch.isalpha()))
    total = 0.0
    for col in range(1, last + 1):
        dim = ws.column_dimensions.get(get_column_letter(col))
        if dim is not None and dim.hidden:
            continue
        total += dim.width if dim is not None and dim.width else 8.43
    return total


def save_quantised(image, out: Path) -> Path:
    """A PNG of 256 colours (sheets and pages are a few flat colours and anti-aliased
    text: a fifth of the size, the same to the eye)."""
    image.convert("RGB").quantize(colors=256, dither=0).save(out, optimize=True)
    return out


def _spills_as_values(book: HeadlessWorkbook) -> None:
    """Each spilled UDF result's anchor cell set to its stored value (its member cells
    hold theirs already), so that LibreOffice draws what Excel shows."""
    stored = book._stored_results()
    for ws in book.wb.worksheets:
        for cell in list(ws._cells.values()):
            if isinstance(cell.value, ArrayFormula):
                cell.value = plain_value(stored.get((ws.title, cell.coordinate)))


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
    from PIL import Image

    return save_quantised(Image.open(stem.with_suffix(".png")), out)


def render_sheets(workbook: Path, out_dir: Path, only: list[str] | None = None
                  ) -> list[Path]:
    """Every sheet of SHEETS, whole: its used range at the width of one page, the pages down
    stacked into one PNG. One LibreOffice run converts all the sheets."""
    from PIL import Image, ImageOps

    written = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        copies, dpis = [], {}
        for name, stem in SHEETS.items():
            if only and stem not in only:
                continue
            copy = tmp / f"{stem}.xlsm"
            shutil.copy(workbook, copy)
            book = HeadlessWorkbook(copy)  # keeps the cached results of the UDF cells
            wb = book.wb
            _spills_as_values(book)
            for ws in wb.worksheets:
                ws.sheet_state = "visible" if ws.title == name else "hidden"
                ws._print_area = PrintArea()  # LibreOffice prints a hidden sheet's area
            ws = wb[name]
            wb.active = wb.worksheets.index(ws)
            region = used_range(ws)
            ws.print_area = region
            ws.freeze_panes = None  # LibreOffice leaves the rows past a frozen pane unprinted
            dpis[stem] = round(min(MAX_DPI, max(MIN_DPI,
                                                PX_PER_WIDTH * sheet_width(ws, region) / 23.4)))
            ws.page_setup.orientation = "landscape"
            # A2 pages, the sheet's width on one, as many pages down as its rows need
            ws.page_setup.paperSize = PAPER_A2
            ws.sheet_properties.pageSetUpPr.fitToPage = True
            ws.page_setup.fitToWidth = 1
            ws.page_setup.fitToHeight = 0
            book.save(backups=0)
            copies.append(copy)
        subprocess.run(["soffice", "--headless", "--norestore",
                        f"-env:UserInstallation=file://{tmp}/profile", "--convert-to", "pdf",
                        "--outdir", str(tmp), *map(str, copies)], check=True,
                       capture_output=True, timeout=900)
        for copy in copies:
            pdf = copy.with_suffix(".pdf")
            subprocess.run(["pdftoppm", "-r", str(dpis[copy.stem]), "-png", str(pdf),
                            str(tmp / copy.stem)], check=True)
            pages = [Image.open(p) for p in sorted(tmp.glob(f"{copy.stem}-*.png"))]
            width = max(p.width for p in pages)
            sheet = Image.new("RGB", (width, sum(p.height for p in pages)), "white")
            y = 0
            for p in pages:
                sheet.paste(p, (0, y))
                y += p.height
            # trim the blank paper around the sheet, keeping a margin
            box = ImageOps.invert(sheet.convert("L")).getbbox()
            if box:
                margin = 20
                sheet = sheet.crop((max(0, box[0] - margin), max(0, box[1] - margin),
                                    min(sheet.width, box[2] + margin),
                                    min(sheet.height, box[3] + margin)))
            out = out_dir / f"{copy.stem}.png"
            save_quantised(sheet, out)
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
    parser.add_argument("--only", nargs="*", metavar="NAME",
                        help="only these screenshots (file names without .png: "
                        f"{', '.join([*SHEETS.values(), 'scorecard-export'])})")
    a = parser.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if not a.only or set(a.only) - {"scorecard-export"}:
        for path in render_sheets(a.demo / "SOP_Demo.xlsm", a.out, a.only):
            print(path)
    if not a.only or "scorecard-export" in a.only:
        print(render_scorecard(a.demo / "scorecard" / "scorecard.pdf", a.out))
