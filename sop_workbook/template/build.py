"""Build ``SOP_Template.xlsm`` from the text sources in ``xl/``.

``xl/styles.toml`` (cell styles), ``xl/sheets.toml`` (layouts of the guide, configuration,
stage, scorecard, calendar, actions and history sheets), ``xl/scorecard.toml`` (the KPIs,
their UDF formulas and default targets), ``xl/tables.toml`` (data tables),
``xl/xlwings.toml`` (the ``xlwings.conf`` sheet), ``xl/vba/`` (VBA modules) and
``xl/customUI.xml`` (the ribbon). The UDF wrappers are generated from the ``udfs`` package.
Same sources → same bytes.
"""

from __future__ import annotations

import inspect
import tomllib
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.data_source import StrRef
from openpyxl.chart.series import SeriesLabel
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.styles.numbers import NumberFormat
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.cell import coordinate_from_string
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.table import Table, TableStyleInfo

from ..kpi.registry import workbook_row
from ..workbook.col_widths import PADDING, column_width, fit_sheet, text_width
from ..workbook.excel_form import (
    dynamic_array_anchors,
    finish_parts,
    is_spilling_formula,
    openpyxl_parts,
)
from ..workbook.recalc import store_cached_values
from ..zip_parts import write_parts
from .package import build_vba_project, generate_udf_wrappers, macro_workbook_parts

_REPO_XL = Path(__file__).resolve().parents[2] / "xl"
#: The sources: the repository's xl/ folder, or the copy inside an installed package.
XL_DIR = _REPO_XL if _REPO_XL.is_dir() else Path(__file__).resolve().parents[1] / "xl"


def packaged_template() -> Path:
    """SOP_Template.xlsm of the repository, or the copy inside an installed package."""
    repo = Path(__file__).resolve().parents[2] / "SOP_Template.xlsm"
    return repo if repo.is_file() else Path(__file__).resolve().parents[1] / \
        "SOP_Template.xlsm"
UDF_MODULE = "udfs"
UDF_CATEGORY = "S&OP"
RAG_FILLS = {"GREEN": "C6EFCE", "AMBER": "FFEB9C", "RED": "FFC7CE"}
RAG_FONTS = {"GREEN": "006100", "AMBER": "9C5700", "RED": "9C0006"}
TABLE_STYLE = "TableStyleMedium2"
DATA_TAB_COLOR = "BFBFBF"


@dataclass(frozen=True)
class Sources:
    styles: dict
    sheets: list[dict]
    kpis: dict[str, dict]
    tables: list[dict]
    xlwings: dict
    vba_dir: Path
    custom_ui: bytes


def read_sources(xl_dir: Path = XL_DIR) -> Sources:
    def toml(name: str) -> dict:
        return tomllib.loads((xl_dir / name).read_text(encoding="utf-8"))

    # Each Scorecard row: its label, formula, format and definition from the KPI registry,
    # its targets, direction and owner from xl/scorecard.toml.
    kpis = {k["key"]: {**workbook_row(k["key"]), **k} for k in toml("scorecard.toml")["kpi"]}
    return Sources(toml("styles.toml"), toml("sheets.toml")["sheet"], kpis,
                   toml("tables.toml")["table"], toml("xlwings.toml")["settings"],
                   xl_dir / "vba", (xl_dir / "customUI.xml").read_bytes())


# --------------------------------------------------------------------------- styles


def _apply_style(cell, spec: dict | None) -> None:
    if not spec:
        return
    font = spec.get("font")
    if font:
        # named as Excel names its default font (a record without a name is drawn in
        # another program's default font: LibreOffice's is a serif)
        cell.font = Font(name="Calibri", family=2, scheme="minor",
                         bold=font.get("bold", False), italic=font.get("italic", False),
                         size=font.get("size", 11), color=font.get("color"))
    if "fill" in spec:
        cell.fill = PatternFill("solid", start_color=spec["fill"], end_color=spec["fill"])
    if any(k in spec for k in ("align", "valign", "wrap")):
        cell.alignment = Alignment(horizontal=spec.get("align"), vertical=spec.get("valign"),
                                   wrap_text=spec.get("wrap", False))
    border = spec.get("border")
    if border == "thin":
        side = Side(style="thin", color="BFBFBF")
        cell.border = Border(left=side, right=side, top=side, bottom=side)
    elif border == "bottom":
        cell.border = Border(bottom=Side(style="medium", color="1F3864"))
    if "format" in spec:
        cell.number_format = spec["format"]
    if spec.get("unlocked"):
        cell.protection = Protection(locked=False)


class Builder:
    def __init__(self, src: Sources) -> None:
        self.src = src
        self.wb = Workbook()
        self.wb.remove(self.wb.active)
        self.names: dict[str, str] = {}
        self.code_names: dict[str, str] = {}

    # ----------------------------------------------------------------- helpers
    def style(self, cell, name: str | None) -> None:
        if name:
            if name not in self.src.styles:
                raise ValueError(f"unknown style {name!r} (xl/styles.toml)")
            _apply_style(cell, self.src.styles[name])

    def put(self, ws, at: str, value, style: str | None = None):
        cell = ws[at]
        if value is not None and value != "":
            cell.value = value
        self.style(cell, style)
        if (style and self.src.styles[style].get("wrap") and isinstance(value, str)
                and not value.startswith("=")):
            self.fit_row(ws, cell, value)
        return cell

    @staticmethod
    def fit_row(ws, cell, text: str) -> None:
        """Row height for wrapped text (neither Excel nor LibreOffice re-fits on open)."""
        width = ws.column_dimensions[cell.column_letter].width or 8.43
        lines = max(1, -(-len(text) * 10 // int(width * 12)))  # ~1.2 characters per unit
        height = 15 * lines
        current = ws.row_dimensions[cell.row].height or 15
        ws.row_dimensions[cell.row].height = max(current, height)

    def name(self, name: str, sheet: str, ref: str) -> None:
        if name in self.names:
            raise ValueError(f"defined name {name} twice")
        target = f"'{sheet}'!{ref}"
        self.names[name] = target
        self.wb.defined_names[name] = DefinedName(name, attr_text=target)

    # ----------------------------------------------------------------- sheets
    def sheet(self, spec: dict) -> None:
        ws = self.wb.create_sheet(spec["name"])
        self.code_names[ws.title] = spec["code_name"]
        ws.sheet_properties.codeName = spec["code_name"]
        ws.sheet_properties.tabColor = spec.get("tab_color")
        ws.sheet_view.showGridLines = False
        for col, width in spec.get("widths", {}).items():
            ws.column_dimensions[col].width = width
        if spec.get("owner"):
            self.put(ws, "A2", spec["owner"], "owner")
            ws.merge_cells(f"A2:{self._owner_end(ws, spec['owner'])}2")
        for c in spec.get("cells", []):
            self.put(ws, c["at"], c.get("value"), c.get("style"))
            if c.get("merge"):
                ws.merge_cells(c["merge"])
        for block in spec.get("rows", []):
            self.rows(ws, block)
        for table in spec.get("tables", []):
            self.table(ws, table)
        for block in spec.get("kpi_block", []):
            self.kpi_block(ws, block)
        for v in spec.get("validations", []):
            self.validation(ws, v)
        for rag in spec.get("rag", []):
            self.assessment_colours(ws, rag)
        for rule in spec.get("conditional", []):
            self.conditional(ws, rule)
        for block in spec.get("formats", []):
            self.range_formats(ws, block)
        for group in spec.get("groups", []):
            ws.column_dimensions.group(group["from"], group["to"], hidden=group.get(
                "hidden", True), outline_level=1)
        for chart in spec.get("charts", []):
            self.chart(ws, chart)
        for n in spec.get("names", []):
            self.name(n["name"], ws.title, n["ref"])
        if spec.get("freeze"):
            ws.freeze_panes = spec["freeze"]
        self.print_setup(ws, spec.get("print"))
        if spec.get("protect"):
            self.protect(ws)

    @staticmethod
    def _owner_end(ws, text: str) -> str:
        """The last column of the owner line's merged cell: C, or further right until
        the text fits (the widths set so far only grow when the sheet is fitted)."""
        need = text_width(text, bold=True) + PADDING
        col, total = 1, 0.0
        while True:
            total += column_width(ws, col)
            if col >= 3 and total >= need:
                return get_column_letter(col)
            col += 1

    def rows(self, ws, block: dict) -> None:
        col0, row0 = coordinate_from_string(block["at"])
        c0 = column_index_from_string(col0)
        styles = block.get("style", [])
        for r, values in enumerate(block["values"]):
            for c, value in enumerate(values):
                style = styles[c] if c < len(styles) else None
                self.put(ws, f"{get_column_letter(c0 + c)}{row0 + r}", value, style or None)

    def table(self, ws, spec: dict) -> None:
        col0, row0 = coordinate_from_string(spec["at"])
        c0 = column_index_from_string(col0)
        columns = spec["columns"]
        rows = spec.get("rows", [])
        if spec.get("from_scorecard"):
            rows = [[k["key"], k["label"], k["target"], k["amber"], k["direction"], k["owner"]]
                    for k in self.src.kpis.values()]
        n_rows = max(len(rows), spec.get("empty_rows", 1))
        for i, col in enumerate(columns):
            # styled explicitly too: LibreOffice does not render Excel's table styles
            self.style(ws.cell(row0, c0 + i, col), "header")
        styles = spec.get("column_styles", {})
        for r in range(n_rows):
            values = rows[r] if r < len(rows) else [None] * len(columns)
            for i, col in enumerate(columns):
                cell = ws.cell(row0 + 1 + r, c0 + i)
                if values[i] not in (None, ""):
                    cell.value = values[i]
                self.style(cell, styles.get(col))
        ref = f"{spec['at']}:{get_column_letter(c0 + len(columns) - 1)}{row0 + n_rows}"
        table = Table(displayName=spec["name"], ref=ref)
        table.tableStyleInfo = TableStyleInfo(name=spec.get("style", TABLE_STYLE),
                                              showRowStripes=True)
        ws.add_table(table)
        if spec.get("from_scorecard"):
            self._ratio_targets(ws, c0, row0, columns)

    def _ratio_targets(self, ws, c0: int, row0: int, columns: list[str]) -> None:
        """Targets of a ratio KPI read as the scorecard shows them (95.0%, not 0.95):
        a number format by row, keyed on the kpi column, that survives rows added below."""
        ratios = [k for k, spec in self.src.kpis.items() if spec.get("format") == "pct"]
        key = f"${get_column_letter(c0 + columns.index('kpi'))}{row0 + 1}"
        test = "OR(" + ",".join(f'{key}="{k}"' for k in ratios) + ")"
        first = min(columns.index("target"), columns.index("amber"))
        last = max(columns.index("target"), columns.index("amber"))
        cells = (f"{get_column_letter(c0 + first)}{row0 + 1}:"
                 f"{get_column_letter(c0 + last)}{row0 + 14 + len(self.src.kpis)}")
        self.conditional(ws, {"range": cells, "formula": test, "format": "0.0%"})

    def validation(self, ws, spec: dict) -> None:
        source = spec["source"]
        # a list formula is stored without "=" (as Excel, XlsxWriter and LibreOffice write it)
        formula = source.lstrip("=") if isinstance(source, str) \
            else '"' + ",".join(source) + '"'
        dv = DataValidation(type="list", formula1=formula, allow_blank=True,
                            showErrorMessage=True, errorTitle="Not in the list",
                            error="Choose a value from the list.")
        dv.add(spec["range"])
        ws.add_data_validation(dv)

    def rag(self, ws, cells: str) -> None:
        """Status colours on cells showing GREEN / AMBER / RED."""
        self._text_colours(ws, cells, {s: s for s in RAG_FILLS}, bold=True)

    def assessment_colours(self, ws, spec: dict) -> None:
        """Colours on cells showing other texts, e.g. favourable (green) / unfavourable."""
        self._text_colours(ws, spec["range"],
                           {text: key.upper() for key, text in spec["texts"].items()},
                           bold=False)

    @staticmethod
    def conditional(ws, spec: dict) -> None:
        """A formula rule colouring ``range`` red / amber / green (e.g. an overload), and/or
        giving it the number ``format`` (e.g. a percentage on a table's ratio rows).

        Rules on one range are applied in order, the first that holds wins in LibreOffice:
        so a rule with a colour and a format comes before the rule with the format alone."""
        if "status" not in spec:
            rule = FormulaRule(formula=[spec["formula"]], stopIfTrue=True)
        else:
            status = spec["status"].upper()
            fill = RAG_FILLS[status]
            rule = FormulaRule(formula=[spec["formula"]], stopIfTrue=True,
                               fill=PatternFill("solid", start_color=fill, end_color=fill),
                               font=Font(bold=True, color=RAG_FONTS[status]))
        if "format" in spec:
            rule.dxf.numFmt = NumberFormat(numFmtId=0, formatCode=spec["format"])
        ws.conditional_formatting.add(spec["range"], rule)

    def range_formats(self, ws, spec: dict) -> None:
        """A style on every cell of ``range`` (e.g. the number format of a spilled column:
        the cells a formula spills into show its values in that cell's format)."""
        for row in ws[spec["range"]]:
            for cell in row:
                self.style(cell, spec["style"])

    @staticmethod
    def _text_colours(ws, cells: str, status_of_text: dict[str, str], bold: bool) -> None:
        first = cells.split(":")[0].replace("$", "")
        for text, status in status_of_text.items():
            fill = RAG_FILLS[status]
            ws.conditional_formatting.add(cells, FormulaRule(
                formula=[f'{first}="{text}"'], stopIfTrue=True,
                fill=PatternFill("solid", start_color=fill, end_color=fill),
                font=Font(bold=True, color=RAG_FONTS[status]) if bold
                else Font(color=RAG_FONTS[status])))

    def chart(self, ws, spec: dict) -> None:
        chart = BarChart() if spec.get("kind") == "bar" else LineChart()
        chart.title = spec["title"]
        chart.height, chart.width = spec.get("height", 7.5), spec.get("width", 13)
        anchor_ws = ws
        if spec.get("sheet"):  # data on another sheet (e.g. the executive page's charts)
            ws = self.wb[spec["sheet"]]
        if "series_cols" in spec:  # one series per column, titled by its header cell
            r1, r2 = spec["first_row"], spec["last_row"]
            for col in spec["series_cols"]:
                c = column_index_from_string(col)
                chart.add_data(Reference(ws, min_col=c, max_col=c, min_row=spec["header_row"],
                                         max_row=r2), titles_from_data=True)
            cat = column_index_from_string(spec["categories_col"])
            chart.set_categories(Reference(ws, min_col=cat, max_col=cat, min_row=r1,
                                           max_row=r2))
            chart.y_axis.delete = False
            chart.x_axis.delete = False
            anchor_ws.add_chart(chart, spec["anchor"])
            return
        c1 = column_index_from_string(spec["first_col"])
        c2 = column_index_from_string(spec["last_col"])
        label_col = column_index_from_string(spec["label_col"])
        for row in (self.kpi_row(ws.title, key, spec["title"]) for key in spec["series_kpis"]):
            data = Reference(ws, min_col=c1, max_col=c2, min_row=row, max_row=row)
            chart.add_data(data, from_rows=True, titles_from_data=False)
            chart.series[-1].tx = SeriesLabel(strRef=StrRef(
                f"'{ws.title}'!${get_column_letter(label_col)}${row}"))
        if isinstance(chart, LineChart):
            for series in chart.series:
                series.smooth = False
        cats = Reference(ws, min_col=c1, max_col=c2, min_row=spec["categories_row"],
                         max_row=spec["categories_row"])
        chart.set_categories(cats)
        if spec.get("percent"):
            chart.y_axis.numFmt = "0%"
        chart.y_axis.delete = False
        chart.x_axis.delete = False
        anchor_ws.add_chart(chart, spec["anchor"])

    def kpi_row(self, sheet: str, key: str, chart: str) -> int:
        """The row of a KPI in the KPI blocks of ``sheet`` (every layout writes a header
        row, then one row per key in order), for a chart that plots it."""
        spec = next(s for s in self.src.sheets if s["name"] == sheet)
        for block in spec.get("kpi_block", []):
            if key in block["keys"]:
                return coordinate_from_string(block["at"])[1] + 1 + block["keys"].index(key)
        raise ValueError(f"xl/sheets.toml: chart {chart!r} plots {key!r}, which no KPI "
                         f"block of {sheet!r} shows")

    def print_setup(self, ws, spec: dict | None) -> None:
        """A4 landscape, one page wide (as tall as needed) unless the sheet says otherwise."""
        spec = spec or {}
        ws.print_options.gridLines = False
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.orientation = spec.get("orientation", "landscape")
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = spec.get("fit_width", 1)
        ws.page_setup.fitToHeight = spec.get("fit_height", 0)
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.page_margins.top = ws.page_margins.bottom = 0.5
        if spec.get("area"):
            ws.print_area = spec["area"]

    def protect(self, ws) -> None:
        # openpyxl: False = allowed on the protected sheet. Planners may widen columns,
        # resize rows and insert rows (README: adding rows to an input table); locked
        # cells (formulas, KPI cells, headers) stay locked.
        ws.protection.sheet = True
        ws.protection.formatColumns = False
        ws.protection.formatRows = False
        ws.protection.insertRows = False
        ws.protection.sort = False
        ws.protection.autoFilter = False

    # ----------------------------------------------------------------- KPI blocks
    def kpi_block(self, ws, block: dict) -> None:
        getattr(self, f"_kpis_{block['layout']}")(ws, block)

    def _kpi_format(self, key: str) -> str:
        return "kpi_pct" if self.src.kpis[key]["format"] == "pct" else "kpi_num"

    def _target(self, key: str, column: str) -> str:
        return f'=INDEX(cfg_targets[{column}],MATCH("{key}",cfg_targets[kpi],0))'

    @staticmethod
    def _status(value: str, target: str, amber: str, direction: str) -> str:
        v, t, a, d = value, target, amber, direction
        return (f'=IF(NOT(ISNUMBER({v})),"n/a",IF({d}="higher",IF({v}>={t},"GREEN",'
                f'IF({v}>={a},"AMBER","RED")),IF({d}="lower",IF({v}<={t},"GREEN",'
                f'IF({v}<={a},"AMBER","RED")),IF(ABS({v})<={t},"GREEN",'
                f'IF(ABS({v})<={a},"AMBER","RED")))))')

    def _header(self, ws, col0: int, row: int, labels: list[str]) -> None:
        for i, label in enumerate(labels):
            self.put(ws, f"{get_column_letter(col0 + i)}{row}", label, "header")

    def _kpis_scorecard(self, ws, block: dict) -> None:
        col0, row0 = coordinate_from_string(block["at"])
        c0 = column_index_from_string(col0)
        L = [get_column_letter(c0 + i) for i in range(8)]
        self._header(ws, c0, row0, ["KPI", "Value", "Target", "Amber at", "Direction",
                                    "Status", "Owner", "Definition"])
        for i, key in enumerate(block["keys"]):
            k, r = self.src.kpis[key], row0 + 1 + i
            self.put(ws, f"{L[0]}{r}", k["label"], "label")
            self.put(ws, f"{L[1]}{r}", k["formula"].replace("{period}", "kpi_period"),
                     self._kpi_format(key))
            fmt = "pct" if k["format"] == "pct" else "num"
            self.put(ws, f"{L[2]}{r}", self._target(key, "target"), fmt)
            self.put(ws, f"{L[3]}{r}", self._target(key, "amber"), fmt)
            self.put(ws, f"{L[4]}{r}", self._target(key, "direction"), "calc")
            self.put(ws, f"{L[5]}{r}", self._status(f"{L[1]}{r}", f"{L[2]}{r}", f"{L[3]}{r}",
                                                    f"{L[4]}{r}"), "status")
            self.put(ws, f"{L[6]}{r}", k["owner"], "text")
            self.put(ws, f"{L[7]}{r}", k["basis"], "note")
            self.name(f"kpi_{key}", ws.title, f"${L[1]}${r}")
            self.name(f"tgt_{key}", ws.title, f"${L[2]}${r}")
            self.name(f"rag_{key}", ws.title, f"${L[5]}${r}")
        last = row0 + len(block["keys"])
        self.rag(ws, f"{L[5]}{row0 + 1}:{L[5]}{last}")

    def _kpis_trend(self, ws, block: dict) -> None:
        col0, row0 = coordinate_from_string(block["at"])
        c0 = column_index_from_string(col0)
        L = [get_column_letter(c0 + i) for i in range(11)]
        self._header(ws, c0, row0, ["KPI", "Target", "Actual", "Variance", "Status"])
        for j in range(6):  # trend: the 6 periods ending with the last closed one
            cell = self.put(ws, f"{L[5 + j]}{row0}",
                            f'=TEXT(EDATE(DATEVALUE(kpi_period&"-01"),{j - 5}),"YYYY-MM")',
                            "header")
            cell.number_format = "@"
        for i, key in enumerate(block["keys"]):
            k, r = self.src.kpis[key], row0 + 1 + i
            fmt = "pct" if k["format"] == "pct" else "num"
            self.put(ws, f"{L[0]}{r}", k["label"], "label")
            self.put(ws, f"{L[1]}{r}", f"=tgt_{key}", fmt)
            self.put(ws, f"{L[2]}{r}", f"=kpi_{key}", self._kpi_format(key))
            self.put(ws, f"{L[3]}{r}", f'=IF(ISNUMBER({L[2]}{r}),{L[2]}{r}-{L[1]}{r},"n/a")', fmt)
            self.put(ws, f"{L[4]}{r}", f"=rag_{key}", "status")
            for j in range(6):
                col = L[5 + j]
                self.put(ws, f"{col}{r}", k["formula"].replace("{period}", f"{col}${row0}"),
                         fmt)
        self.rag(ws, f"{L[4]}{row0 + 1}:{L[4]}{row0 + len(block['keys'])}")

    def _kpis_compact(self, ws, block: dict) -> None:
        col0, row0 = coordinate_from_string(block["at"])
        c0 = column_index_from_string(col0)
        L = [get_column_letter(c0 + i) for i in range(3)]
        if not block.get("keep_widths"):
            ws.column_dimensions[L[0]].width = 30
            ws.column_dimensions[L[1]].width = 12
            ws.column_dimensions[L[2]].width = 10
        self._header(ws, c0, row0, ["KPI (last closed period)", "Value", "Status"])
        for i, key in enumerate(block["keys"]):
            r = row0 + 1 + i
            self.put(ws, f"{L[0]}{r}", self.src.kpis[key]["label"], "label")
            self.put(ws, f"{L[1]}{r}", f"=kpi_{key}", self._kpi_format(key))
            self.put(ws, f"{L[2]}{r}", f"=rag_{key}", "status")
        self.rag(ws, f"{L[2]}{row0 + 1}:{L[2]}{row0 + len(block['keys'])}")

    def _kpis_summary(self, ws, block: dict) -> None:
        col0, row0 = coordinate_from_string(block["at"])
        c0 = column_index_from_string(col0)
        L = [get_column_letter(c0 + i) for i in range(4)]
        self._header(ws, c0, row0, ["KPI", "Actual", "Target", "Status"])
        for i, key in enumerate(block["keys"]):
            r = row0 + 1 + i
            fmt = "pct" if self.src.kpis[key]["format"] == "pct" else "num"
            self.put(ws, f"{L[0]}{r}", self.src.kpis[key]["label"], "label")
            self.put(ws, f"{L[1]}{r}", f"=kpi_{key}", self._kpi_format(key))
            self.put(ws, f"{L[2]}{r}", f"=tgt_{key}", fmt)
            self.put(ws, f"{L[3]}{r}", f"=rag_{key}", "status")
        self.rag(ws, f"{L[3]}{row0 + 1}:{L[3]}{row0 + len(block['keys'])}")

    # ----------------------------------------------------------------- data + conf
    def data_sheet(self, spec: dict) -> None:
        ws = self.wb.create_sheet(spec["name"])
        code = "shData_" + spec["name"]
        self.code_names[ws.title] = code[:31]
        ws.sheet_properties.codeName = code[:31]
        ws.sheet_properties.tabColor = DATA_TAB_COLOR
        self.table(ws, {"name": spec["name"], "at": "A1", "columns": spec["columns"]})
        for i, col in enumerate(spec["columns"], start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(12, len(col) + 4)
        ws.freeze_panes = "A2"
        self.print_setup(ws, None)

    def xlwings_conf(self) -> None:
        ws = self.wb.create_sheet("xlwings.conf")
        self.code_names[ws.title] = "shXlwingsConf"
        ws.sheet_properties.codeName = "shXlwingsConf"
        ws.sheet_properties.tabColor = DATA_TAB_COLOR
        ws.column_dimensions["A"].width = 22
        ws.column_dimensions["B"].width = 60
        for r, (key, value) in enumerate(self.src.xlwings.items(), start=1):
            if str(value).strip() == "":
                # xlwings' GetConfig returns a key found on the sheet even when empty, so an
                # empty row would hide the planner's add-in setting (e.g. the interpreter)
                raise ValueError(f"xl/xlwings.toml: {key!r} is empty; leave the key out")
            ws.cell(r, 1, key)
            ws.cell(r, 2, value)


def udf_specs() -> list[tuple[str, str, list[str]]]:
    """(module, function, argument names) of every UDF in the ``udfs`` package."""
    import udfs

    def arg(p: inspect.Parameter) -> str:
        return p.name if p.default is inspect.Parameter.empty else f"{p.name}="

    return [(UDF_MODULE, name, [arg(p) for p in inspect.signature(fn).parameters.values()])
            for name, fn in udfs.UDFS.items()]


def udf_wrapper_module() -> str:
    """The module ``xlwings_udfs`` exactly as xlwings' *Import Functions* writes it for the
    ``udfs`` package: one wrapper per function, in the order xlwings finds them
    (``dir(module)``: by name), nothing added. (A KPI without a value returns the text
    ``#N/A``: an xlwings UDF cannot return an Excel error value.)"""
    return generate_udf_wrappers(sorted(udf_specs(), key=lambda spec: spec[1]))


#: The UDF descriptions in ASCII (VBA sources stay ASCII: xl/README.md).
_VBA_TEXT = str.maketrans({"Σ": "sum ", "−": "-", "÷": "/", "×": "x", "≤": "<=", "≥": ">=",
                           "…": "...", "“": '"', "”": '"', "’": "'", "‘": "'"})


def _vba_string(text: str) -> str:
    text = text.translate(_VBA_TEXT).encode("ascii", "replace").decode("ascii")
    return '"' + text.replace('"', '""') + '"'


def function_help_module() -> str:
    """Standard module ``SopFunctionHelp``: ``RegisterFunctionHelp`` gives Excel's *Insert
    Function* dialog each UDF's description, category and argument descriptions with
    ``Application.MacroOptions`` — the call xlwings' *Import Functions* makes
    (``xlwings/udfs.py``, ``import_udfs``) — so the template needs no import step.
    ``ThisWorkbook`` calls it on open: Excel does not keep argument descriptions in the
    file."""
    import udfs

    lines = [
        'Attribute VB_Name = "SopFunctionHelp"',
        "' Generated by sop build-template from the udfs package: do not edit.",
        "' Descriptions for Excel's Insert Function dialog, registered as xlwings' Import",
        "' Functions does (Application.MacroOptions); Workbook_Open calls it.",
        "Option Explicit",
        "",
        "Public Sub RegisterFunctionHelp()",
        "    On Error Resume Next",
    ]
    for name, description, arg_docs in udfs.function_help():
        call = [f"    Application.MacroOptions Macro:=\"'\" & ThisWorkbook.Name & \"'!{name}\", _",
                f"        Description:={_vba_string(description)}, _",
                f"        Category:={_vba_string(UDF_CATEGORY)}"]
        if arg_docs:
            call[-1] += ", _"
            call.append("        ArgumentDescriptions:=Array(" + ", ".join(
                _vba_string(d) for d in arg_docs) + ")")
        lines += call
    lines += ["End Sub", ""]
    return "\n".join(lines)


def stored_results(wb) -> dict[tuple[str, str], object]:
    """Every formula cell's result, computed as the headless recalculation does (the UDFs
    on the empty tables, the native formulas), so that the template carries a cached value
    in each formula cell; a spilling UDF becomes a dynamic-array formula laid out over its
    result. (sheet, cell) → value."""
    from ..workbook.headless import spill_into
    from ..workbook.recalc import evaluate_all

    for ws in wb.worksheets:
        for cell in list(ws._cells.values()):
            text = cell._value
            if isinstance(text, str) and is_spilling_formula(text):
                cell.value = ArrayFormula(cell.coordinate, text)
    resolver = evaluate_all(wb)
    # a native formula outside the headless evaluator's subset is left without a cached
    # value (resolver.unevaluated); tests/workbook/test_excel_form.py requires there be none
    cached = dict(resolver.native_values)
    for (sheet, coord), value in resolver.udf_values.items():
        cached[(sheet, coord)] = spill_into(wb[sheet], coord, value) \
            if isinstance(value, list) else value
    return cached


def fit_book(wb, cached: dict[tuple[str, str], object]) -> None:
    """Every sheet's columns fitted to its headers and values (the cached results of its
    formula cells), the rows of wrapped text to their lines: workbook/col_widths.py."""
    by_sheet: dict[str, dict[str, object]] = {}
    for (sheet, coord), value in cached.items():
        by_sheet.setdefault(sheet, {})[coord] = value
    for ws in wb.worksheets:
        fit_sheet(ws, by_sheet.get(ws.title))


def build_template_bytes(xl_dir: Path = XL_DIR) -> bytes:
    """The template as bytes (deterministic)."""
    src = read_sources(xl_dir)
    b = Builder(src)
    for spec in src.sheets:
        b.sheet(spec)
    for spec in src.tables:
        b.data_sheet(spec)
    b.xlwings_conf()
    b.wb.active = 0
    cached = stored_results(b.wb)
    fit_book(b.wb, cached)
    parts = openpyxl_parts(b.wb)  # every part made once, zipped once
    store_cached_values(parts, cached)
    finish_parts(parts, dynamic_array_anchors(b.wb))
    vba = build_vba_project(src.vba_dir, sheet_code_names=list(b.code_names.values()),
                            extra_modules={"xlwings_udfs": udf_wrapper_module(),
                                           "SopFunctionHelp": function_help_module()})
    return write_parts(macro_workbook_parts(parts, vba, src.custom_ui,
                                            code_names=b.code_names))


def build_template(out: Path, xl_dir: Path = XL_DIR) -> Path:
    """Write the template to ``out`` atomically (temporary file, then replace)."""
    data = build_template_bytes(xl_dir)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out
