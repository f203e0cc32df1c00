"""What a workbook is checked against when SOP_Template.xlsm is missing (an installed
package without its copy): the template the caller's builder makes — the command line
passes :func:`sop_workbook.template.build.build_template_bytes` — and, with no builder, a
one-line refusal (the check imports no template builder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop_workbook.errors import SopError
from sop_workbook.workbook import checks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_template_file(monkeypatch):
    real = Path.is_file
    monkeypatch.setattr(Path, "is_file", lambda self: self.name != "SOP_Template.xlsm"
                        and real(self))


def test_the_check_compares_with_the_built_template_when_no_file(no_template_file):
    built = []

    def build() -> bytes:
        built.append(1)
        return (ROOT / "SOP_Template.xlsm").read_bytes()

    found = checks.reference.__wrapped__(build)
    assert built == [1]
    assert "1 Performance" in found.sheets and "agg_sales" in found.tables
    assert found.names["kpi_period"]


def test_no_file_and_no_builder_is_refused(no_template_file):
    with pytest.raises(SopError, match=r"no SOP_Template\.xlsm"):
        checks.reference.__wrapped__(None)

