"""``sop forecast`` (CSV in, CSV out, errors by row and column) and ``sop baseline``
(re-run the baseline on a workbook without a Refresh), through the real command line."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sources import write_source

from sop_workbook.actions import refresh
from sop_workbook.workbook.headless import HeadlessWorkbook

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"
PATTERN = [10, 12, 30, 50, 40, 20, 10, 8, 9, 11, 25, 60]


def sop(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sop_workbook", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def _write(path: Path, rows: list[tuple]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["series", "period", "quantity"])
        writer.writerows(rows)
    return path


def _months(first_year: int, first_month: int, count: int) -> list[str]:
    start = first_year * 12 + first_month - 1
    return [f"{(start + i) // 12:04d}-{(start + i) % 12 + 1:02d}" for i in range(count)]


def test_forecast_csv_by_hand(tmp_path):
    rows = []
    # "season": two identical years 2023-01 … 2024-12 → seasonal naive alone (backtest
    # MAE 0, every other model errs): 2025-01 … = the pattern
    rows += [("season", p, q) for p, q in zip(_months(2023, 1, 24), PATTERN * 2,
                                               strict=True)]
    # "new": 3 months ending 2025-03 — no origin leaves 3 periods → mean (5 + 7 + 6)/3 = 6,
    # forecast from its own last month: 2025-04 …
    rows += [("new", p, q) for p, q in zip(_months(2025, 1, 3), [5, 7, 6], strict=True)]
    # "spike": 23 zeros then 46 → one demand → mean 46/24 a month (not a third of it)
    rows += [("spike", p, 46 if i == 23 else 0) for i, p in enumerate(_months(2023, 1, 24))]
    target = tmp_path / "out.csv"
    result = sop("forecast", _write(tmp_path / "hist.csv", rows), "--horizon", 13,
                 "--out", target)
    assert result.returncode == 0, result.stderr
    assert "wrote 39 rows (3 series × 13 months)" in result.stderr
    out = pd.read_csv(target, dtype={"period": str})
    assert list(out.columns) == ["series", "period", "forecast", "model"]
    assert out["series"].drop_duplicates().tolist() == ["season", "new", "spike"]
    season = out[out["series"] == "season"]
    assert season["period"].tolist() == _months(2025, 1, 13)
    assert season["forecast"].tolist() == PATTERN + PATTERN[:1]
    assert set(season["model"]) == {"seasonal_naive"}
    new = out[out["series"] == "new"]
    assert new["period"].tolist() == _months(2025, 4, 13)
    assert new["forecast"].tolist() == [6.0] * 13 and set(new["model"]) == {"mean"}
    spike = out[out["series"] == "spike"]
    assert spike["forecast"].tolist() == pytest.approx([46 / 24] * 13)
    # without --out: the CSV on standard output
    shown = sop("forecast", tmp_path / "hist.csv", "--horizon", 2)
    assert shown.returncode == 0, shown.stderr
    assert pd.read_csv(io.StringIO(shown.stdout)).shape == (6, 4)


def test_forecast_errors_name_row_and_column(tmp_path):
    rows = [("A", "2024-01", "5"), ("A", "2024-02", "x"), ("A", "2024-02", "3"),
            ("A", "2024-05", "4"), ("B", "2024-1", "3"), ("", "2024-01", "2"),
            ("A", "2024-05", "1"), ("C", "2024-01", "nan")]
    target = tmp_path / "out.csv"
    result = sop("forecast", _write(tmp_path / "bad.csv", rows), "--out", target)
    assert result.returncode == 2
    err = result.stderr
    assert "error: bad.csv: 6 problems in the history" in err
    # file rows: header = row 1, first data row = row 2
    assert "bad.csv, row 3, column quantity: 'x' is not a number" in err
    assert "bad.csv, row 5, column period: series 'A' has no row for 2024-03, 2024-04" in err
    assert "bad.csv, row 6, column period: '2024-1' is not a period YYYY-MM" in err
    assert "bad.csv, row 7, column series: series is empty" in err
    assert "bad.csv, row 8, column period: series 'A' has period 2024-05 twice (also " \
        "row 5)" in err
    assert "bad.csv, row 9, column quantity: 'nan' is not a number" in err
    assert not target.exists()  # nothing written


def test_forecast_missing_column_and_bad_horizon(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("series,month,quantity\nA,2024-01,1\n", encoding="utf-8")
    result = sop("forecast", path)
    assert result.returncode == 2
    assert "h.csv, row 1, column period: column is missing" in result.stderr
    good = _write(tmp_path / "g.csv", [("A", "2024-01", 1)])
    assert sop("forecast", good, "--horizon", 0).returncode == 2


# --------------------------------------------------------------------------- sop baseline


def _invoices():
    """Invoices 2023-01 … 2025-12 (36 months) at MAIN: A 10 every month; B the pattern,
    three identical years."""
    rows, n = [], 0
    for i, period in enumerate(_months(2023, 1, 36)):
        for item, qty, price in (("A", 10, 20), ("B", PATTERN[i % 12], 8)):
            n += 1
            rows.append({"invoice_no": f"I{n:04d}", "line_no": 1,
                         "posting_date": f"{period}-15", "customer_no": "C1",
                         "item_no": item, "location_code": "MAIN", "quantity": qty,
                         "amount": qty * price, "cost_amount": qty * price / 2})
    return rows


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("baseline")
    source = write_source(folder / "data", sales_invoices=_invoices())
    path = folder / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    book.set_value("cfg_current_period", "2026-01")
    book.write_table("plan_overrides", pd.DataFrame([{
        "item_no": "A", "location_code": "MAIN", "period": "2026-02", "quantity": 5,
        "reason_code": "Promotion", "comment": "kept", "entered_by": "ann"}]))
    refresh(book, str(source))
    book.save()
    return path


def _baseline_rows(path: Path) -> pd.DataFrame:
    grid = HeadlessWorkbook(path).read_table("plan_demand")
    return grid[grid["layer"] == "baseline"].set_index("item_no")


def test_demand_sheet_shows_model_and_backtest_error(refreshed):
    base = _baseline_rows(refreshed)
    # A: 10 every month — every model forecasts 10 with backtest MAE 0; ties → MODELS
    # order (seasonal naive, SES), the second kept (0 ≤ 2 × 0)
    assert base.loc["A", "note"] == "model: seasonal_naive+ses · backtest MAE 0.0 (0%)"
    assert [base.loc["A", f"p{i:02d}"] for i in range(1, 13)] == [10.0] * 12
    # B: three identical years — indices exact, adjusted history flat: all models repeat
    # the pattern with MAE 0 → same pair, baseline = the pattern from 2026-01
    assert base.loc["B", "note"].startswith("model: seasonal_naive+ses · backtest MAE 0.0")
    assert [base.loc["B", f"p{i:02d}"] for i in range(1, 13)] == pytest.approx(PATTERN)


def test_sop_baseline_reruns_without_refresh(refreshed, tmp_path):
    path = tmp_path / "wb.xlsm"
    shutil.copy(refreshed, path)
    book = HeadlessWorkbook(path)
    grid = book.read_table("plan_demand")
    stale = grid["layer"] == "baseline"
    grid.loc[stale, [f"p{i:02d}" for i in range(1, 13)]] = 999.0  # a stale baseline
    grid.loc[stale, "note"] = "model: old"
    book.write_table("plan_demand", grid)
    book.save()
    result = sop("baseline", path)
    assert result.returncode == 0, result.stderr
    assert "2 item × location series (seasonal_naive+ses 2)" in " ".join(
        result.stdout.split())
    base = _baseline_rows(path)
    assert [base.loc["A", f"p{i:02d}"] for i in range(1, 13)] == [10.0] * 12
    assert base.loc["A", "note"].startswith("model: seasonal_naive+ses · backtest MAE")
    book = HeadlessWorkbook(path)
    grid = book.read_table("plan_demand").set_index(["item_no", "layer"])
    assert grid.loc[("A", "override"), "p02"] == 5  # the planner's override is kept
    assert grid.loc[("A", "consensus"), "p02"] == 15
    assert book.read_table("plan_overrides")["comment"].tolist() == ["kept"]
    assert path.with_name("wb.xlsm.bak1").exists()
