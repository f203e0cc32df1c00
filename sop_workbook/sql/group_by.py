"""Shared helpers: composing GROUP BY queries and shaping their (small) results."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..periods import format_period
from .dialect import Dialect
from .sources import Source

MONTH = "sop_month"  # integer month index (year × 12 + month − 1) in query results
NONE_LABEL = "(none)"  # as kpi.facts: a blank dimension value


@dataclass(frozen=True)
class Part:
    """One contribution to an aggregate: rows of ``source`` (a FROM clause with joins and
    an optional WHERE), the grain expressions and the measure expressions it sums."""

    source: str
    grain: dict[str, str]  # output column → SQL expression
    measures: dict[str, str]  # output column → SQL expression (summed)


def union_sum(parts: list[Part], grain: list[str], measures: list[str], d: Dialect,
              final: dict[str, str] | None = None) -> str:
    """SQL: each part grouped by the grain, UNION ALL, grouped again (Σ of each measure; a
    measure a part does not have contributes 0). ``final`` adds computed columns over the
    summed measures: SQL with ``{measure}`` where the summed measure goes.

    One part needs no second grouping; parts that sum different measures are joined on the
    grain where the dialect can (:attr:`Dialect.joins_sums`, see :func:`_join_sum`)."""
    q = d.quote
    branches = [_grouped(part, grain, measures, d) for part in parts]
    if len(parts) == 1:
        values = {m: q(m) for m in measures}
        outer = [q(g) for g in grain] + [q(m) for m in measures]
        outer += [f"{expr.format(**values)} AS {q(name)}" for name, expr in (final or {}).items()]
        return f"SELECT {', '.join(outer)} FROM ({branches[0]}) AS sop_u"
    own = [set(part.measures) for part in parts]
    if d.joins_sums and all(not (a & b) for i, a in enumerate(own) for b in own[i + 1:]):
        return _join_sum(parts, grain, measures, d, final)
    values = {m: f"SUM({q(m)})" for m in measures}
    outer = [q(g) for g in grain]
    outer += [f"SUM({q(m)}) AS {q(m)}" for m in measures]
    outer += [f"{expr.format(**values)} AS {q(name)}" for name, expr in (final or {}).items()]
    return (f"SELECT {', '.join(outer)} FROM ({' UNION ALL '.join(branches)}) AS sop_u "
            f"GROUP BY {', '.join(q(g) for g in grain)}")


def _grouped(part: Part, grain: list[str], measures: list[str], d: Dialect,
             own_only: bool = False) -> str:
    """One part grouped by the grain: the grain, then its sums (and 0 for the measures it
    does not have, unless ``own_only``)."""
    q = d.quote
    cols = [f"{part.grain[g]} AS {q(g)}" for g in grain]
    cols += [f"CAST(SUM({part.measures[m]}) AS {d.double_type}) AS {q(m)}"
             if m in part.measures else f"CAST(0 AS {d.double_type}) AS {q(m)}"
             for m in measures if m in part.measures or not own_only]
    keys = ", ".join(part.grain[g] for g in grain)
    return f"SELECT {', '.join(cols)} FROM {part.source} GROUP BY {keys}"


def _join_sum(parts: list[Part], grain: list[str], measures: list[str], d: Dialect,
              final: dict[str, str] | None) -> str:
    """:func:`union_sum` of parts with distinct measures as a FULL OUTER JOIN of the grouped
    parts on the grain (``IS NOT DISTINCT FROM``: NULL keys match as GROUP BY groups them),
    each measure from its part, 0 where the part has no row. The same values: a measure
    is one part's sum, which the second grouping only adds zeros to (DuckDB's SUM starts
    from +0.0, so x + 0.0 = x for every sum it returns), and cheaper than grouping the
    stacked parts again."""
    q = d.quote
    names = [f"sop_p{i}" for i in range(len(parts))]
    ctes = ", ".join(f"{n} AS ({_grouped(part, grain, measures, d, own_only=True)})"
                     for n, part in zip(names, parts, strict=True))
    key = {g: f"{names[0]}.{q(g)}" for g in grain}
    source = names[0]
    for n in names[1:]:
        on = " AND ".join(f"{n}.{q(g)} IS NOT DISTINCT FROM {key[g]}" for g in grain)
        source += f" FULL OUTER JOIN {n} ON {on}"
        key = {g: f"COALESCE({key[g]}, {n}.{q(g)})" for g in grain}
    owner = {m: n for n, part in zip(names, parts, strict=True) for m in part.measures}
    value = {m: f"COALESCE({owner[m]}.{q(m)}, CAST(0 AS {d.double_type}))" if m in owner
             else f"CAST(0 AS {d.double_type})" for m in measures}
    cols = [f"{key[g]} AS {q(g)}" for g in grain] + [f"{value[m]} AS {q(m)}" for m in measures]
    cols += [f"{expr.format(**value)} AS {q(name)}" for name, expr in (final or {}).items()]
    return f"WITH {ctes} SELECT {', '.join(cols)} FROM {source}"


def period_text(months: pd.Series) -> np.ndarray:
    """Month indexes → ``YYYY-MM``."""
    values = pd.to_numeric(months).to_numpy(dtype=np.int64)
    unique, inverse = np.unique(values, return_inverse=True)
    return np.array([format_period(int(m)) for m in unique], dtype=object)[inverse]


def text_column(series: pd.Series) -> pd.Series:
    """Text as Python strings (object dtype), missing as None — as the loader holds text."""
    values = series.astype(object)
    return values.where(series.notna(), None)


def sorted_sql(src: Source, sql: str, columns: list[str]) -> str:
    """``sql`` sorted by its output ``columns`` where the database orders text as pandas
    does (DuckDB: by code point, NULLs last), so that the result needs no sorting in pandas
    (see :func:`sort_frame`); else ``sql`` unchanged."""
    d = src.dialect
    if not d.binary_text_order:
        return sql
    order = ", ".join(f"{d.quote(c)} ASC NULLS LAST" for c in columns)
    return f"SELECT * FROM ({sql}) AS sop_o ORDER BY {order}"


def sort_frame(src: Source, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` (the result of :func:`sorted_sql`) sorted by ``columns``, index 0..n-1."""
    if src.dialect.binary_text_order or not len(frame):
        return frame.reset_index(drop=True)
    return frame.sort_values(columns).reset_index(drop=True)


def query_finished(src: Source, sql: str, grain: list[str], columns: list[str]) -> pd.DataFrame:
    """Run the aggregate query ``sql``; its result shaped by :func:`finish`, sorted by the
    grain (in the query where :func:`sorted_sql` can, else in pandas; ``period`` as the
    month index, which sorts as its ``YYYY-MM`` text)."""
    frame = src.query(sorted_sql(src, sql, [MONTH if g == "period" else g for g in grain]))
    return finish(frame, grain, columns, sort=not src.dialect.binary_text_order)


def finish(frame: pd.DataFrame, grain: list[str], columns: list[str],
           sort: bool = True) -> pd.DataFrame:
    """Shape a query result like the in-memory tables: ``period`` from the month index,
    grain columns as text, measures as float (missing → 0), sorted by the grain."""
    out = pd.DataFrame(index=range(len(frame)))
    for g in grain:
        if g == "period" and MONTH in frame:
            out[g] = period_text(frame[MONTH]) if len(frame) else pd.Series(dtype=object)
        else:
            out[g] = text_column(frame[g]) if len(frame) else pd.Series(dtype=object)
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce") if col in frame else 0.0
        out[col] = pd.Series(values, index=out.index, dtype=float).fillna(0.0) \
            if len(frame) else pd.Series(dtype=float)
    if sort and len(out):
        out = out.sort_values(grain).reset_index(drop=True)
    return out
