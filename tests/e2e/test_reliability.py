"""Never lose a planner's workbook: processes killed mid-save, malformed sources (fuzzed),
formula-looking text, locked and read-only files, undo from the backup.

The kill test's iteration count comes from SOP_KILL_ITERATIONS (default 10 per action).
"""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sources import MASTER, line, ship, write_source
from typer.testing import CliRunner

from sop_workbook import demo_data
from sop_workbook.actions import refresh
from sop_workbook.cli import app
from sop_workbook.workbook.headless import HeadlessWorkbook
from sop_workbook.zip_parts import sheet_parts as _sheet_parts

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "SOP_Template.xlsm"
ITERATIONS = int(os.environ.get("SOP_KILL_ITERATIONS", "10"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reliability")
    demo_data.write(folder / "a", items=8, months=14, seed=1)
    demo_data.write(folder / "b", items=8, months=14, seed=2)
    path = folder / "old.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    refresh(book, str(folder / "a"))
    book.save(backups=0)
    return folder, path


def intact(path: Path, reference: Path) -> bool:
    """A complete workbook: every part's CRC checks, the VBA project and ribbon are the
    reference's, every worksheet is there, and openpyxl opens it."""
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(reference) as ref:
        if z.testzip() is not None:
            return False
        names = set(z.namelist())
        sheets = {n for n in ref.namelist() if n.startswith("xl/worksheets/sheet")}
        if not sheets <= names:
            return False
        for part in ("xl/vbaProject.bin", "customUI/customUI.xml"):
            if z.read(part) != ref.read(part):
                return False
    openpyxl.load_workbook(path, keep_vba=True)
    return True


def _kill_runs(folder: Path, old: Path, args: list[str]) -> dict[str, int]:
    old_bytes = old.read_bytes()
    target = folder / "wb.xlsm"
    # how long an uninterrupted run takes (and that it does produce a new file)
    shutil.copy(old, target)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sop_workbook", *args, str(target),
                    *(["--source", str(folder / "b")] if args == ["refresh"] else [])],
                   check=True, capture_output=True, timeout=300)
    duration = time.perf_counter() - start
    assert target.read_bytes() != old_bytes and intact(target, old)
    rng = random.Random(42)
    outcomes = {"old": 0, "new": 0}
    for _ in range(ITERATIONS):
        for leftover in folder.glob("wb.xlsm*"):
            leftover.unlink()
        shutil.copy(old, target)
        cmd = [sys.executable, "-m", "sop_workbook", *args, str(target)]
        if args == ["refresh"]:
            cmd += ["--source", str(folder / "b")]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * rng.uniform(0.3, 1.15))  # many kills land in the save phase
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = target.read_bytes()
        if data == old_bytes:
            outcomes["old"] += 1
        else:
            assert intact(target, old), "a killed save left a damaged workbook"
            outcomes["new"] += 1
    print(f"kill test {args[0]}: {ITERATIONS} kills, outcomes {outcomes}")
    return outcomes


def test_killed_refresh_leaves_the_old_or_the_new_workbook(setup):
    folder, old = setup
    outcomes = _kill_runs(folder, old, ["refresh"])
    assert sum(outcomes.values()) == ITERATIONS


def test_killed_roll_forward_leaves_the_old_or_the_new_workbook(setup):
    folder, old = setup
    outcomes = _kill_runs(folder, old, ["roll-forward"])
    assert sum(outcomes.values()) == ITERATIONS


# --------------------------------------------------------------------------- fuzzing

VALID = {
    "sales_lines": [line("O1", 1, 10, "2026-03-10"), line("O2", 1, 4, "2026-03-12", item="B")],
    "sales_shipments": [ship("S1", 1, "O1", 1, "2026-03-10", 10)],
}
MUTATIONS = ["drop_column", "wrong_type", "empty_file", "duplicate_key", "unknown_reference",
             "date_out_of_range", "non_utf8", "huge_number", "bad_period"]


def mutated_source(folder: Path, mutation: str, rng: random.Random) -> tuple[str, str]:
    """Write a valid source, break it one way; return (table, what the report must name)."""
    write_source(folder, **VALID)
    path = folder / "sales_lines.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    header = rows[0]
    if mutation == "drop_column":
        col = rng.choice(["customer_no", "item_no", "order_date", "quantity"])
        i = header.index(col)
        rows = [r[:i] + r[i + 1:] for r in rows]
        expect = col
    elif mutation == "wrong_type":
        col = rng.choice(["quantity", "order_date", "line_no"])
        rows[2][header.index(col)] = rng.choice(["abc", "12,5", "=1+1", "@SUM(A1)", "--"])
        expect = "row 3"
    elif mutation == "duplicate_key":
        rows.append(list(rows[1]))
        expect = "row 4"
    elif mutation == "unknown_reference":
        rows[1][header.index("item_no")] = "NOPE"
        expect = "row 2"
    elif mutation == "date_out_of_range":
        rows[2][header.index("promised_date")] = rng.choice(["1800-01-01", "2300-05-05",
                                                             "2026-02-30"])
        expect = "row 3"
    elif mutation == "huge_number":
        rows[1][header.index("quantity")] = rng.choice(["1e400", "9e99", "inf"])
        expect = "row 2"
    elif mutation == "bad_period":
        (folder / "inventory.csv").write_text(
            "period,item_no,location_code,quantity,value\n2026-13,A,MAIN,1,1\n", "utf-8")
        return "inventory", "row 2"
    if mutation == "empty_file":
        path.write_bytes(b"")
        return "sales_lines", "empty"
    if mutation == "non_utf8":
        path.write_bytes(path.read_bytes().replace(b"O2", b"\xff\xfe", 1))
        return "sales_lines", "UTF-8"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return "sales_lines", expect


@settings(max_examples=36, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(mutation=st.sampled_from(MUTATIONS), seed=st.integers(0, 10_000))
def test_malformed_sources_give_a_located_error_and_leave_the_workbook_unchanged(
        setup, tmp_path_factory, mutation, seed):
    _, old = setup
    folder = tmp_path_factory.mktemp("fuzz")
    table, expect = mutated_source(folder / "src", mutation, random.Random(seed))
    target = folder / "wb.xlsm"
    shutil.copy(old, target)
    before = target.read_bytes()
    result = CliRunner().invoke(app, ["refresh", str(target), "--source", str(folder / "src")])
    assert result.exit_code == 2, (mutation, result.output)
    assert result.output.startswith("error: ")
    assert f"{table}, row" in result.output or f"{table}:" in result.output
    assert expect in result.output, (mutation, result.output)
    assert target.read_bytes() == before
    assert not list(folder.glob("wb.xlsm.bak*"))


# --------------------------------------------------------------------------- other guards

HOSTILE = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "@SUM(A1:A9)", "+1+1", "-2+3"]


def test_formula_looking_source_text_lands_as_text(tmp_path):
    items = [{**MASTER["items"][0], "description": HOSTILE[0]},
             {**MASTER["items"][1], "description": HOSTILE[1]}]
    customers = [{**MASTER["customers"][0], "name": HOSTILE[2]},
                 {**MASTER["customers"][1], "name": HOSTILE[3]}]
    vendors = [{"vendor_no": "V1", "name": HOSTILE[4]}]
    src = write_source(tmp_path / "src", items=items, customers=customers, vendors=vendors)
    path = tmp_path / "wb.xlsm"
    shutil.copy(TEMPLATE, path)
    book = HeadlessWorkbook(path)
    refresh(book, str(src))
    book.save()
    wb = openpyxl.load_workbook(path, keep_vba=True)
    shown = [wb["items"]["B2"], wb["items"]["B3"], wb["customers"]["B2"],
             wb["customers"]["B3"], wb["vendors"]["B2"]]
    assert [c.value for c in shown] == HOSTILE
    assert all(c.data_type == "s" for c in shown)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    for title in ("items", "customers", "vendors"):
        sheet = parts[_sheet_parts(parts)[title]].decode()
        assert "<f>" not in sheet, title  # no formula anywhere in the data table


def test_open_or_read_only_workbook_is_refused_without_writing(setup, tmp_path):
    folder, old = setup
    target = tmp_path / "wb.xlsm"
    shutil.copy(old, target)
    before = target.read_bytes()
    lock = tmp_path / "~$wb.xlsm"  # what Excel keeps next to an open workbook
    lock.write_text("someone")
    run = CliRunner().invoke(app, ["refresh", str(target), "--source", str(folder / "b")])
    assert run.exit_code == 2 and "open in another program" in run.output
    lock.unlink()
    target.chmod(0o444)
    run = CliRunner().invoke(app, ["roll-forward", str(target)])
    assert run.exit_code == 2 and "read-only" in run.output
    target.chmod(0o644)
    assert target.read_bytes() == before
    assert not list(tmp_path.glob("wb.xlsm.bak*"))


def test_undo_restores_the_state_before_the_last_change(setup, tmp_path):
    _folder, old = setup
    target = tmp_path / "wb.xlsm"
    shutil.copy(old, target)
    before = target.read_bytes()
    assert CliRunner().invoke(app, ["roll-forward", str(target)]).exit_code == 0
    assert target.read_bytes() != before
    run = CliRunner().invoke(app, ["undo", str(target)])
    assert run.exit_code == 0, run.output
    assert target.read_bytes() == before
    assert (tmp_path / "wb.xlsm.undone").exists()
    again = CliRunner().invoke(app, ["undo", str(target)])
    assert again.exit_code == 2 and "no backup" in again.output


def test_override_outside_the_horizon_is_reported_with_its_cell(setup, tmp_path):
    import pandas as pd

    from sop_workbook.actions import roll_forward
    from sop_workbook.errors import SopError

    _, old = setup
    target = tmp_path / "wb.xlsm"
    shutil.copy(old, target)
    book = HeadlessWorkbook(target)
    book.write_table("plan_overrides", pd.DataFrame({
        "item_no": ["X"], "location_code": ["MAIN"], "period": ["2028-01"], "quantity": [3]}))
    with pytest.raises(SopError) as exc:
        roll_forward(book)
    assert "2 Demand!AT28: period 2028-01 is outside the plan horizon" in exc.value.detail


def test_roll_forward_twice_to_the_same_period_changes_nothing_the_second_time(setup,
                                                                                  tmp_path):
    _, old = setup
    target = tmp_path / "wb.xlsm"
    shutil.copy(old, target)
    first = CliRunner().invoke(app, ["roll-forward", str(target), "--to", "2026-12"])
    assert first.exit_code == 0, first.output
    after_first = target.read_bytes()
    second = CliRunner().invoke(app, ["roll-forward", str(target), "--to", "2026-12"])
    assert second.exit_code == 0 and "nothing changed" in second.output
    assert target.read_bytes() == after_first
    history = HeadlessWorkbook(target).read_table("plan_history")
    assert set(history["snapshot_period"]) == {"2026-11"}  # archived once
