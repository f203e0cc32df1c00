"""Apache Spark as a source, for real: a local Spark session (pyspark, Java from Debian's
default-jre-headless, installed by .ci/run) runs the Spark dialect's SQL on the demo data,
read by Spark from CSV files (text) and from Parquet files registered in its catalog
(typed); every table equals the in-memory path's. One session for the module."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from sql_postgres import assert_same_tables
from typer.testing import CliRunner

from sop_workbook import demo_data
from sop_workbook.cli import app
from sop_workbook.errors import SourceValidationError
from sop_workbook.sql import in_memory_tables, load_aggregates
from sop_workbook.sql.reference import table_differences
from sop_workbook.sql.refresh_tables import RESULT_ORDER
from sop_workbook.template.build import packaged_template
from sop_workbook.workbook.headless import HeadlessWorkbook

DEMO = {"seed": 5, "items": 12, "months": 13}


@pytest.fixture(scope="module")
def spark():
    if not shutil.which("java"):
        pytest.fail("Java is required by the Spark tests: apt-get install default-jre-headless "
                    "(.ci/run does this)", pytrace=False)
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("sop-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.execution.arrow.pyspark.enabled", "false")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    demo_data.write(folder, **DEMO)
    return folder, in_memory_tables(str(folder))


def test_spark_catalog_tables_typed(spark, demo, tmp_path):
    """Typed tables (dates, doubles, booleans) in Spark's catalog, names in upper case."""
    _folder, expected = demo
    con = duckdb.connect()
    for name, frame in demo_data.generate(**DEMO).items():
        path = tmp_path / f"{name}.parquet"
        con.register("f", frame)
        con.execute(f"COPY (SELECT * FROM f) TO '{path}' (FORMAT parquet)")
        con.unregister("f")
        spark.read.parquet(str(path)).createOrReplaceTempView(name.upper())
    try:
        got = load_aggregates("spark://local")
        assert_same_tables(expected, got.tables)
        # a problem is named by table, column and key
        lines = spark.table("SALES_LINES")
        first = lines.orderBy("order_no", "line_no").first()
        from pyspark.sql import functions as F

        broken = lines.withColumn("quantity", F.when(
            (F.col("order_no") == first["order_no"]) & (F.col("line_no") == first["line_no"]),
            F.lit(None)).otherwise(F.col("quantity")))
        broken.createOrReplaceTempView("SALES_LINES")
        with pytest.raises(SourceValidationError) as info:
            load_aggregates("spark://local")
        found = {(p.table, p.column): p.message for p in info.value.problems}
        assert found[("sales_lines", "quantity")] == (
            f"value is empty (required) (order_no={first['order_no']}, "
            f"line_no={first['line_no']})")
    finally:
        for name in demo_data.generate(**DEMO):
            spark.catalog.dropTempView(name.upper())


def test_cli_refresh_from_spark_equals_the_duckdb_path(spark, demo, tmp_path):
    """`sop refresh WB --source spark://local?files=DIR`: Spark reads the CSV files (as
    text) and runs the SQL; every table written equals the refresh from DIR itself (the
    embedded DuckDB path)."""
    folder, _ = demo
    runner = CliRunner()
    books = {}
    for name, source in [("spark", f"spark://local[2]?files={folder}"),
                         ("duckdb", str(folder))]:
        books[name] = tmp_path / f"{name}.xlsm"
        shutil.copy(packaged_template(), books[name])
        result = runner.invoke(app, ["refresh", str(books[name]), "--source", source])
        assert result.exit_code == 0, result.output
        assert "refreshed" in result.output
    spark_book, duck_book = (HeadlessWorkbook(books[n]) for n in ("spark", "duckdb"))
    for table in RESULT_ORDER:
        want, got = duck_book.read_table(table), spark_book.read_table(table)
        assert len(want) > 0 or table in ("fin_unmapped",), table
        assert not table_differences(want, got), (table, table_differences(want, got))


def test_cli_spark_errors_are_one_line(spark, tmp_path):
    book = tmp_path / "book.xlsm"
    shutil.copy(packaged_template(), book)
    before = book.read_bytes()
    result = CliRunner().invoke(app, ["refresh", str(book), "--source",
                                      f"spark://local?files={tmp_path / 'nowhere'}"])
    assert result.exit_code == 2
    assert result.output.startswith("error: source folder not found")
    assert book.read_bytes() == before
    bad = CliRunner().invoke(app, ["refresh", str(book), "--source", "spark://local?tables=x"])
    assert bad.exit_code == 2 and "unknown option(s) tables" in bad.output
