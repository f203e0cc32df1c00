"""The one validator for every command: validate a source in SQL, and load its typed
tables for the in-memory KPI engine (``sop kpis``).

``sop validate``, ``sop kpis`` and ``sop refresh`` all check a source with
:func:`sop_workbook.sql.validation.stage_and_validate` — same checks, same messages, same
limits — and all accept a folder or a database URL. ``sop refresh`` then aggregates in the
database (:func:`sop_workbook.sql.load_aggregates`); ``sop kpis`` reads the staged, typed
tables into pandas (:func:`load_source_data`) for the KPI engine, which needs the lines.
"""

from __future__ import annotations

import pandas as pd

from .. import contract as c
from ..contract import SourceData
from ..errors import SourceValidationError
from ..loader import normalise_gl_sign
from .opening import open_source
from .sources import shown_source
from .validation import stage_and_validate, staged


def validate_source(source: str) -> tuple[list, list[str]]:
    """Check ``source`` (a folder or a database URL) against the contract in SQL; return
    (problems, warnings). Loads nothing."""
    with open_source(source) as src:
        result = stage_and_validate(src)
        return result.problems, list(src.warnings)


def load_source_data(source: str, *, gl_income_sign: str = "positive") -> SourceData:
    """Validate ``source`` in SQL and return its tables typed as the in-memory loader types
    them (dates ``datetime64``, periods ``YYYY-MM`` text, numbers ``float64``, line
    numbers ``Int64``, booleans ``boolean``, text as str or None); income amounts of
    ``gl_budget`` normalised by ``gl_income_sign`` (warnings as the loader gives them).

    Raises :class:`~sop_workbook.errors.SourceValidationError` (the source named without a
    password) when the source fails the contract; nothing is returned then.
    """
    with open_source(source) as src:
        result = stage_and_validate(src)
        if result.problems:
            raise SourceValidationError(result.problems, shown_source(source))
        tables = {name: _read_staged(src, name, spec) for name, spec in c.TABLES.items()}
        warnings = list(src.warnings)
    data = SourceData(tables, shown_source(source), warnings)
    normalise_gl_sign(data, gl_income_sign)
    return data


def _read_staged(src, name: str, spec: c.TableSpec) -> pd.DataFrame:
    """A staged table typed for pandas: the contract's columns only (not the ``bad__``
    text of unparseable cells: there is none, the source is valid); the staged table is
    dropped once read, so that the database's memory and the frames' do not add up."""
    columns = ", ".join(src.dialect.quote(col) for col in spec.columns)
    frame = _typed(src.query(f"SELECT {columns} FROM {staged(name)}"), spec)
    src.release(staged(name))
    return frame


def _typed(frame: pd.DataFrame, spec: c.TableSpec) -> pd.DataFrame:
    out = {}
    for col in spec.columns:
        values = frame[col] if col in frame else pd.Series([None] * len(frame), dtype=object)
        kind = spec.type_of(col)
        if kind == c.NUMBER and values.dtype == "float64":
            out[col] = values  # as the database returned it (DuckDB: DOUBLE)
        elif kind == c.DATE and values.dtype == "datetime64[ns]":
            out[col] = values
        elif kind == c.NUMBER:
            out[col] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif kind == c.INT:
            out[col] = pd.to_numeric(values, errors="coerce").astype("Int64")
        elif kind == c.DATE:
            out[col] = pd.to_datetime(values, errors="coerce").astype("datetime64[ns]")
        elif kind == c.BOOL:
            out[col] = values.astype("boolean")
        else:  # text, periods, enumerations
            text = values.astype(object)
            out[col] = text.where(text.notna(), None)
    return pd.DataFrame(out, index=range(len(frame)))
