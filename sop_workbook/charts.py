"""Native Excel charts whose number depends on the data (one per demand category).

Built as openpyxl chart objects referencing workbook cells, so Excel (and LibreOffice)
draw them from the live table values; the headless adapter places them
(:meth:`~sop_workbook.workbook.headless.HeadlessWorkbook.replace_charts`).
"""

from __future__ import annotations

import pandas as pd
from openpyxl.chart import LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.drawing.spreadsheet_drawing import AnchorMarker, OneCellAnchor
from openpyxl.drawing.xdr import XDRPositiveSize2D
from openpyxl.utils import column_index_from_string
from openpyxl.utils.units import cm_to_EMU

#: Series of a category chart: (rollup layer, legend label).
CATEGORY_SERIES = (("invoiced", "History (invoiced)"), ("baseline", "Baseline"),
                   ("consensus", "Consensus"))
CHART_WIDTH_CM, CHART_HEIGHT_CM = 13.0, 9.0
PERIOD_COLUMNS = 36  # h24 … h01, p01 … p12
FIRST_ANCHOR = ("R", 5)  # first visible column after the collapsed h24…h13 group
COLUMNS_PER_CHART = 9


class _SheetRef:
    """What openpyxl's Reference needs of a worksheet: its title."""

    def __init__(self, title: str) -> None:
        self.title = title


def category_charts(rollup: pd.DataFrame, sheet: str, header_row: int, first_col: str,
                    *, label_sheet: str, label_row: int, label_first_col: str) -> list:
    """One line chart per category from ``demand_rollup`` (location ``(all)`` rows):
    invoiced history, baseline and consensus over h24…p12, x-axis = the period labels."""
    if rollup.empty:
        return []
    c0 = column_index_from_string(first_col)
    lc0 = column_index_from_string(label_first_col)
    ws = _SheetRef(sheet)
    charts = []
    totals = rollup[rollup["location_code"].astype(str) == "(all)"]
    for n, (category, rows) in enumerate(totals.groupby("category", sort=True)):
        chart = LineChart()
        chart.title = f"{category}: history, baseline, consensus"
        chart.height, chart.width = CHART_HEIGHT_CM, CHART_WIDTH_CM
        chart.display_blanks = "gap"
        for layer, label in CATEGORY_SERIES:
            match = rows.index[rows["layer"].astype(str) == layer]
            if not len(match):
                continue
            row = header_row + 1 + int(match[0])
            chart.add_data(Reference(ws, min_col=c0, max_col=c0 + PERIOD_COLUMNS - 1,
                                     min_row=row, max_row=row), from_rows=True,
                           titles_from_data=False)
            chart.series[-1].tx = SeriesLabel(v=label)
            chart.series[-1].smooth = False
        chart.set_categories(Reference(_SheetRef(label_sheet), min_col=lc0,
                                       max_col=lc0 + PERIOD_COLUMNS - 1, min_row=label_row,
                                       max_row=label_row))
        chart.y_axis.delete = False
        chart.x_axis.delete = False
        chart.x_axis.tickLblSkip = 3
        col = column_index_from_string(FIRST_ANCHOR[0]) + n * COLUMNS_PER_CHART
        chart.anchor = OneCellAnchor(
            _from=AnchorMarker(col=col - 1, row=FIRST_ANCHOR[1] - 1),
            ext=XDRPositiveSize2D(cm_to_EMU(CHART_WIDTH_CM), cm_to_EMU(CHART_HEIGHT_CM)))
        charts.append(chart)
    return charts

