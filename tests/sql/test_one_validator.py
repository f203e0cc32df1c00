"""One validator: `sop validate`, `sop kpis` and `sop refresh` check a source with the same
SQL checks and messages, accept a folder or a database URL, and never print a password."""

from __future__ import annotations

import json

import duckdb
import pytest
from sql_postgres import line, ship, write_source
from typer.testing import CliRunner

from sop_workbook.cli import app
from sop_workbook.errors import SourceValidationError
from sop_workbook.sql import load_aggregates

P = "2026-03"


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def _problem_lines(text: str) -> list[str]:
    return [row for row in text.splitlines() if not row.startswith(("error:", "warning:"))]


@pytest.fixture()
def bad_folder(tmp_path):
    return write_source(tmp_path / "bad", sales_lines=[
        line("SO1", 1, 5, "2026-02-30"),  # not a date
        line("SO1", 2, "x", "2026-03-10"),  # not a number
        line("SO2", 1, 5, "2026-03-10", item="NOPE"),  # unknown item
    ])


def test_validate_kpis_and_refresh_report_the_same_problems(bad_folder):
    validate = _run("validate", "--source", str(bad_folder))
    kpis = _run("kpis", "--source", str(bad_folder), "--period", P)
    assert validate.exit_code == kpis.exit_code == 2
    problems = _problem_lines(validate.stderr)
    assert problems == _problem_lines(kpis.stderr)
    assert len(problems) == 3
    with pytest.raises(SourceValidationError) as caught:  # what refresh runs
        load_aggregates(str(bad_folder))
    assert [str(p) for p in caught.value.problems] == problems


def test_a_duckdb_url_is_a_source_for_validate_and_kpis(tmp_path):
    folder = write_source(tmp_path / "src",
                          sales_lines=[line("SO1", 1, 10, "2026-03-10"),
                                       line("SO1", 2, 4, "2026-03-20")],
                          sales_shipments=[ship("SH1", 1, "SO1", 1, "2026-03-09", 10),
                                           ship("SH2", 1, "SO1", 2, "2026-03-25", 4)])
    db = tmp_path / "src.duckdb"
    con = duckdb.connect(str(db))
    for path in sorted(folder.glob("*.csv")):
        con.execute(f"CREATE TABLE {path.stem} AS SELECT * FROM read_csv('{path}', "
                    "header = true, all_varchar = true)")
    con.close()
    url = f"duckdb:///{db}"
    validate = _run("validate", "--source", url)
    assert validate.exit_code == 0, validate.stderr
    assert url in validate.stdout  # the URL as given, not mangled into a path
    from_url = json.loads(_run("kpis", "--source", url, "--period", P, "--format",
                               "json").stdout)
    from_folder = json.loads(_run("kpis", "--source", str(folder), "--period", P,
                                  "--format", "json").stdout)
    # SH1 on 03-09 ≤ promised 03-10 on time, SH2 on 03-25 > 03-20 late → 1 / 2
    assert from_url["sales_otd"] == pytest.approx(0.5)
    assert {k: v for k, v in from_url.items() if k != "warnings"} == \
        {k: v for k, v in from_folder.items() if k != "warnings"}


@pytest.mark.parametrize("url", [
    "postgresql://planner:s3cret@127.0.0.1:1/sop",  # nothing listens on port 1
    "postgresql://planner:s3cret@host:notaport/sop",  # not a URL SQLAlchemy parses
])
@pytest.mark.parametrize("command", [["validate"], ["kpis", "--period", P]])
def test_a_password_is_never_printed(url, command):
    run = _run(command[0], "--source", url, *command[1:])
    assert run.exit_code == 2
    assert "s3cret" not in run.stdout + run.stderr
    assert "planner" in run.stderr  # the URL is named, without its password
