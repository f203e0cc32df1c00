"""The embedded DuckDB's memory is bounded: 500 MB by default (less on a machine with under
1 GB of RAM), ``SOP_DUCKDB_MEMORY_LIMIT`` overrides it; what does not fit spills to a
temporary folder that is removed afterwards. Tables are the same whatever the limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop_workbook import demo_data
from sop_workbook.errors import SopError
from sop_workbook.sql import in_memory_tables, load_aggregates, open_source
from sop_workbook.sql.reference import table_differences
from sop_workbook.sql.sources import default_memory_limit

MIB = 1 << 20


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    demo_data.write(folder, items=8, months=13)
    return folder


def _mib(text: str) -> float:
    number, unit = text.split()
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def test_default_limit_is_500_mb(demo, monkeypatch):
    monkeypatch.delenv("SOP_DUCKDB_MEMORY_LIMIT", raising=False)
    assert default_memory_limit() == "500MB"  # this machine has more than 1 GB of RAM
    with open_source(str(demo)) as src:
        shown = src.fetch("SELECT current_setting('memory_limit')")[0][0]
        spill = Path(src.fetch("SELECT current_setting('temp_directory')")[0][0])
        assert spill.is_dir() and spill.name.startswith("sop-duckdb-")
    assert _mib(shown) == pytest.approx(500e6 / MIB, rel=0.01)  # 476.8 MiB
    assert not spill.exists()  # removed on close


def test_environment_overrides_the_limit_and_tables_stay_the_same(demo, monkeypatch):
    want = in_memory_tables(str(demo))
    monkeypatch.setenv("SOP_DUCKDB_MEMORY_LIMIT", "64MB")
    with open_source(str(demo)) as src:
        assert _mib(src.fetch("SELECT current_setting('memory_limit')")[0][0]) == \
            pytest.approx(64e6 / MIB, rel=0.01)
    got = load_aggregates(str(demo)).tables
    for name, frame in want.items():
        assert not table_differences(frame, got[name]), name


def test_a_bad_limit_is_one_clear_error(demo, monkeypatch):
    monkeypatch.setenv("SOP_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(SopError, match="cannot set DuckDB's memory limit 'lots'"):
        open_source(str(demo))
