"""Hand-worked: bad input is reported with table, row and column; exit code 2.

data-contract.md: "A missing required column, an unparseable value, a duplicate key or a
reference to an unknown item/customer/vendor/location/GL account is reported with table,
row and column". Row = CSV line number (header = row 1, first data row = row 2).
Text that looks like a formula is plain text, not a problem.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hw_support import MASTER, inv, kpis, problem_lines, run_cli, sh, sl, stock, write_source

P = "2024-03"


def both_commands(src):
    """(validate, kpis) CompletedProcess for a source."""
    return (
        run_cli("validate", "--source", src),
        run_cli("kpis", "--source", src, "--period", P, "--format", "json"),
    )


def assert_reported(src, table, column, row):
    for proc in both_commands(src):
        assert proc.returncode == 2, (
            f"{proc.args[3]} exited {proc.returncode}, expected 2\nstderr:\n{proc.stderr}"
        )
        hits = problem_lines(proc.stderr, table, column, row)
        assert hits, (
            f"{proc.args[3]}: no stderr line naming table {table}, row {row}, column "
            f"{column}\nstderr:\n{proc.stderr}"
        )


def test_good_source_validates(tmp_path):
    src = write_source(
        tmp_path,
        {
            "sales_lines": [sl("S1", 1, "2024-03-10", 5)],
            "sales_shipments": [sh("H1", 1, "S1", 1, "2024-03-10", 5)],
        },
    )
    proc = run_cli("validate", "--source", src)
    assert proc.returncode == 0, proc.stderr


def test_missing_required_column(tmp_path):
    src = write_source(
        tmp_path,
        {
            "sales_lines": [sl("S1", 1, "2024-03-10", 5)],
            "sales_shipments": [sh("H1", 1, "S1", 1, "2024-03-10", 5)],
        },
        drop_columns={"sales_shipments": ["shipment_date"]},
    )
    # a missing column has no data row; table + column must be named
    assert_reported(src, "sales_shipments", "shipment_date", row=None)


def test_unparseable_date(tmp_path):
    src = write_source(
        tmp_path,
        {
            "sales_lines": [
                sl("S1", 1, "2024-03-10", 5),  # row 2
                sl("S2", 1, "2024-02-30", 5),  # row 3: 30 February does not exist
            ]
        },
    )
    assert_reported(src, "sales_lines", "promised_date", row=3)


def test_unparseable_number(tmp_path):
    src = write_source(
        tmp_path,
        {
            "inventory": [
                stock("2024-03", 10, 100),  # row 2
                stock("2024-03", 5, "n/a", item="I2"),  # row 3: value is not a number
            ]
        },
    )
    assert_reported(src, "inventory", "value", row=3)


def test_duplicate_key(tmp_path):
    items = [*MASTER["items"], dict(MASTER["items"][1], description="Gadget again")]
    # rows: 2 I1, 3 I2, 4 I3, 5 I4, 6 I2 (repeats the key of row 3)
    src = write_source(tmp_path, replace={"items": items})
    assert_reported(src, "items", "item_no", row=6)


def test_unknown_item_reference(tmp_path):
    src = write_source(
        tmp_path,
        {
            "sales_invoices": [
                inv("V1", 1, "2024-03-05", 100),  # row 2, item I1
                inv("V1", 2, "2024-03-05", 100, item="I9"),  # row 3: no item I9
            ]
        },
    )
    assert_reported(src, "sales_invoices", "item_no", row=3)


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://x","y")',
        "=1+1",
        "+SUM(A1:A3)",
        "-2+3",
        "@cmd",
    ],
)
def test_formula_looking_text_is_accepted(tmp_path, text):
    items = [dict(MASTER["items"][0], description=text), *MASTER["items"][1:]]
    customers = [dict(MASTER["customers"][0], name=text), *MASTER["customers"][1:]]
    src = write_source(
        tmp_path,
        {
            "sales_lines": [sl("S1", 1, "2024-03-10", 5)],
            "sales_shipments": [sh("H1", 1, "S1", 1, "2024-03-10", 5)],
        },
        replace={"items": items, "customers": customers},
    )
    proc = run_cli("validate", "--source", src)
    assert proc.returncode == 0, proc.stderr
    assert not problem_lines(proc.stderr, "items", "description")
    assert not problem_lines(proc.stderr, "customers", "name")
    out = kpis(src, P)
    assert out["sales_otd"] == pytest.approx(1.0)  # 1 line shipped on its promised date


@pytest.mark.parametrize("how", ["missing", "empty"])
def test_missing_or_empty_master_table_is_one_problem(tmp_path, how):
    from sop_workbook.errors import SourceValidationError
    from sop_workbook.sql import load_aggregates

    lines = {"sales_lines": [sl("SO1", 1, "2024-03-10", 5), sl("SO1", 2, "2024-03-12", 5),
                             sl("SO2", 1, "2024-03-15", 5)]}
    if how == "missing":
        src = write_source(tmp_path, lines, omit=("items",))
    else:
        src = write_source(tmp_path, lines, replace={"items": []})
    # the only rows referring to items are the 3 sales lines
    assert MASTER["items"]
    with pytest.raises(SourceValidationError) as caught:  # the SQL path (refresh)
        load_aggregates(str(src))
    items = [p for p in caught.value.problems if p.table == "items"]
    assert len(items) == 1 and "3 rows refer to it: sales_lines (3)" in items[0].message
    for command in (["validate", "--source", src],
                    ["kpis", "--source", src, "--period", "2024-03"]):
        proc = run_cli(*command)
        assert proc.returncode == 2, proc.stdout
        lines_out = [line for line in proc.stderr.splitlines() if line.startswith("items")]
        assert len(lines_out) == 1, proc.stderr
        state = "is missing from the source" if how == "missing" else "has no rows"
        assert state in lines_out[0] and "3 rows refer to it: sales_lines (3)" in lines_out[0]
        assert "not a known item_no" not in proc.stderr
