"""Spark Connect for real: the tests start a local Spark Connect server (the
``SparkConnectServer`` class of the pyspark package's own jars, on a free port, in its own
folder, Java from Debian's default-jre-headless as for ``spark://``) and run
``sop refresh WB --source sc://localhost:PORT?files=DIR`` in its own process, a Spark
Connect client: the project with its ``spark-connect`` extra (grpcio, pyarrow …) in an
environment of its own (``uv run --isolated --frozen --extra spark-connect``), so that
pyarrow, which changes how pandas stores text, stays out of the test environment. Spark
reads the demo CSV files on the server and runs the Spark dialect's SQL; every table
written equals the refresh from DIR itself (the embedded DuckDB path)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sop_workbook import demo_data
from sop_workbook.cli import app
from sop_workbook.sql.reference import table_differences
from sop_workbook.sql.refresh_tables import RESULT_ORDER
from sop_workbook.template.build import packaged_template
from sop_workbook.workbook.headless import HeadlessWorkbook

DEMO = {"seed": 5, "items": 12, "months": 13}
ROOT = Path(__file__).resolve().parents[2]
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT_S = 600  # a cold JVM on a loaded 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A local Spark Connect server; its ``sc://`` URL."""
    if not shutil.which("java"):
        pytest.fail("Java is required by the Spark tests: apt-get install default-jre-headless "
                    "(.ci/run does this)", pytrace=False)
    import pyspark

    home = Path(pyspark.__file__).parent
    work = tmp_path_factory.mktemp("spark-connect")
    port = _free_port()
    log = open(work / "server.log", "w")  # noqa: SIM115 (closed at teardown)
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    proc = subprocess.Popen(
        [str(home / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--name",
         "sop-tests-connect", "--master", "local[2]",
         "--conf", f"spark.connect.grpc.binding.port={port}",
         "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2",
         "--conf", f"spark.sql.warehouse.dir={work / 'warehouse'}",
         "--conf", f"spark.driver.extraJavaOptions=-Dderby.system.home={work}"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(port):
            if proc.poll() is not None:
                pytest.fail(f"the Spark Connect server stopped (exit {proc.returncode}): "
                            + (work / "server.log").read_text()[-2000:], pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail("the Spark Connect server did not listen within "
                            f"{START_TIMEOUT_S} s", pytrace=False)
            time.sleep(1)
        yield f"sc://localhost:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _connect_client(*args: str, timeout: float) -> subprocess.CompletedProcess:
    """``sop ARGS`` in an environment with the ``spark-connect`` extra."""
    uv = shutil.which("uv")
    if not uv:
        pytest.fail("uv is required to make the Spark Connect client's environment",
                    pytrace=False)
    return subprocess.run(
        [uv, "run", "--isolated", "--frozen", "--extra", "spark-connect", "--project",
         str(ROOT), "python", "-m", "sop_workbook", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_cli_refresh_through_spark_connect_equals_the_duckdb_path(connect_server, tmp_path):
    folder = tmp_path / "demo"
    demo_data.write(folder, **DEMO)
    books = {name: tmp_path / f"{name}.xlsm" for name in ("connect", "duckdb")}
    for book in books.values():
        shutil.copy(packaged_template(), book)
    # the Spark Connect client in its own process, as a user runs it
    done = _connect_client("refresh", str(books["connect"]), "--source",
                           f"{connect_server}?files={folder}", "--backups", "0", timeout=2400)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refreshed" in done.stdout
    result = CliRunner().invoke(app, ["refresh", str(books["duckdb"]), "--source", str(folder)])
    assert result.exit_code == 0, result.output
    connect, duck = (HeadlessWorkbook(books[n]) for n in ("connect", "duckdb"))
    for table in RESULT_ORDER:
        want, got = duck.read_table(table), connect.read_table(table)
        assert len(want) > 0 or table in ("fin_unmapped",), table
        assert not table_differences(want, got), (table, table_differences(want, got))


def test_spark_connect_server_unreachable_is_one_line(tmp_path):
    """A Spark Connect URL nothing listens on: one line, exit code 2, nothing written."""
    book = tmp_path / "book.xlsm"
    shutil.copy(packaged_template(), book)
    before = book.read_bytes()
    done = subprocess.run(  # checked before the client is needed: this environment will do
        [sys.executable, "-m", "sop_workbook", "refresh", str(book), "--source",
         f"sc://localhost:{_free_port()}?files={tmp_path}", "--backups", "0"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in (done.stdout + done.stderr).splitlines()
              if line.startswith("error:")]
    assert len(errors) == 1 and "cannot start or reach Spark at sc://localhost:" in errors[0], (
        done.stdout + done.stderr)
    assert book.read_bytes() == before
