"""Red / amber / green by the thresholds set on Config, as a spreadsheet engine shows them.

The status cells are native formulas (target and amber looked up in Config's cfg_targets,
compared with the KPI cell by the KPI's direction), so a real engine decides them:
LibreOffice opens the refreshed workbook, computes the status formulas from the stored
KPI values and the thresholds, and we read the statuses back. The thresholds are set
around each KPI's stored value v, so the expected colour follows from the rule alone:

- higher is better: v ≥ target → GREEN; amber ≤ v < target → AMBER; v < amber → RED;
- lower is better: v ≤ target → GREEN; target < v ≤ amber → AMBER; v > amber → RED;
- band: |v| ≤ target → GREEN; target < |v| ≤ amber → AMBER; |v| > amber → RED.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl

from sop_workbook import demo_data
from sop_workbook.actions import refresh
from sop_workbook.workbook.headless import HeadlessWorkbook

ROOT = Path(__file__).resolve().parents[2]


def _thresholds(kpi: str, direction: str, v: float, want: str) -> tuple[float, float]:
    """(target, amber) that put the value v in the wanted colour for the direction."""
    a = abs(v)
    table = {
        ("higher", "GREEN"): (v - 0.01, v - 0.02), ("higher", "AMBER"): (v + 0.01, v - 0.01),
        ("higher", "RED"): (v + 0.02, v + 0.01),
        ("lower", "GREEN"): (v + 0.01, v + 0.02), ("lower", "AMBER"): (v - 0.01, v + 0.01),
        ("lower", "RED"): (v - 0.02, v - 0.01),
        ("band", "GREEN"): (a + 0.01, a + 0.02), ("band", "AMBER"): (a - 0.01, a + 0.01),
        ("band", "RED"): (a - 0.02, a - 0.01),
    }
    return table[(direction, want)]


CASES = [  # kpi, direction set on Config, wanted status
    ("sales_otd", "higher", "GREEN"), ("fill_rate", "higher", "AMBER"),
    ("fill_rate_unit", "higher", "RED"), ("days_of_supply", "lower", "GREEN"),
    ("inventory_turns", "lower", "AMBER"), ("vendor_otd", "lower", "RED"),
    ("forecast_bias", "band", "GREEN"), ("forecast_accuracy", "band", "AMBER"),
    ("close_ratio", "band", "RED"),
]


def test_statuses_follow_the_thresholds_on_config(tmp_path):
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice (soffice) is required: .ci/run installs it"
    demo_data.write(tmp_path / "data", items=10, months=18)
    path = tmp_path / "wb.xlsm"
    shutil.copy(ROOT / "SOP_Template.xlsm", path)
    book = HeadlessWorkbook(path)
    refresh(book, str(tmp_path / "data"))
    values = {kpi: book.result_of_name(f"kpi_{kpi}") for kpi, _, _ in CASES}
    assert all(isinstance(v, float) for v in values.values()), values
    targets = book.read_table("cfg_targets")
    for kpi, direction, want in CASES:
        target, amber = _thresholds(kpi, direction, values[kpi], want)
        row = targets["kpi"] == kpi
        targets.loc[row, ["target", "amber", "direction"]] = [target, amber, direction]
    book.write_table("cfg_targets", targets.astype({"target": float, "amber": float}))
    book.save()

    out = tmp_path / "lo"
    run = subprocess.run([soffice, "--headless", "--norestore",
                          f"-env:UserInstallation=file://{tmp_path}/profile",
                          "--convert-to", "xlsx", "--outdir", str(out), str(path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    shown = openpyxl.load_workbook(out / "wb.xlsx", data_only=True)
    names = openpyxl.load_workbook(path, keep_vba=True).defined_names
    got = {}
    for kpi, _, _ in CASES:
        sheet, ref = names[f"rag_{kpi}"].attr_text.split("!")
        got[kpi] = shown[sheet.strip("'")][ref.replace("$", "")].value
    assert got == {kpi: want for kpi, _, want in CASES}, (values, got)
