"""The in-memory reference: the same tables built the way *Refresh* builds them in pandas
(loader → facts → aggregates, planning inputs and finance), for comparing with the SQL
path table by table."""

from __future__ import annotations

import pandas as pd

from ..aggregate_tables import build_aggregates
from ..contract import TABLES
from ..kpi import budget_variance, build_facts, map_sales_budget_to_gl
from ..kpi.options import KpiOptions
from ..kpi.standards import labour_aggregate, lead_time_aggregate
from ..loader import load_source
from ..plan_inputs import build_plan_inputs
from .refresh_tables import MASTER_TABLES


def in_memory_tables(source: str, options: KpiOptions | None = None,
                     gl_income_sign: str = "positive") -> dict[str, pd.DataFrame]:
    """Every table :func:`sop_workbook.sql.load_aggregates` returns, built in memory as
    ``actions.refresh`` does (the loader reads the whole source into pandas)."""
    options = options or KpiOptions()
    data = load_source(source, gl_income_sign=gl_income_sign)
    facts = build_facts(data)
    tables = {name: data[name][list(TABLES[name].columns)] for name in MASTER_TABLES}
    tables.update(build_aggregates(facts, options))
    tables.update(build_plan_inputs(data))
    mapping = map_sales_budget_to_gl(data)
    tables["fin_budget_variance"] = budget_variance(data, mapping)
    fed_lines = pd.concat([mapping.mapped, mapping.cost], ignore_index=True)
    tables["fin_budget_detail"] = (
        fed_lines.groupby(["gl_account", "period", "customer_no", "item_no",
                                "location_code"], as_index=False)["amount"].sum())
    tables["fin_unmapped"] = mapping.unmapped[["period", "customer_no", "item_no",
                                               "gen_bus_posting_group",
                                               "gen_prod_posting_group", "amount"]]
    tables["agg_lead_time"] = lead_time_aggregate(data)
    tables["agg_labour"] = labour_aggregate(data)
    return tables


def table_differences(expected: pd.DataFrame, actual: pd.DataFrame, grain: list[str] | None = None,
                      rel: float = 1e-9) -> list[str]:
    """How two versions of a table differ: columns, rows, values. Both are sorted by the
    grain (default: every text column), then compared row by row; numbers are equal within
    ``rel`` relative (``rel`` absolute near zero), missing values equal each other."""
    import numpy as np

    out: list[str] = []
    if list(expected.columns) != list(actual.columns):
        return [f"columns differ: {list(expected.columns)} vs {list(actual.columns)}"]
    if len(expected) != len(actual):
        out.append(f"row counts differ: {len(expected)} vs {len(actual)}")
    numeric = [c for c in expected.columns
               if pd.api.types.is_numeric_dtype(expected[c]) and not
               pd.api.types.is_bool_dtype(expected[c])]
    others = [c for c in expected.columns if c not in numeric]
    keys = grain or others
    a = _canonical(expected, keys, numeric)
    b = _canonical(actual, keys, numeric)
    if len(a) != len(b):
        merged = a[keys].merge(b[keys], how="outer", indicator=True)
        missing = merged[merged["_merge"] != "both"].head(5)
        out.append(f"rows only on one side (first 5):\n{missing.to_string()}")
        return out
    for col in others:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        same = np.array([(u == v) or (_null(u) and _null(v)) for u, v in zip(x, y, strict=True)],
                        dtype=bool)
        if not same.all():
            i = int(np.flatnonzero(~same)[0])
            out.append(f"{col}: {int((~same).sum())} values differ, first at sorted row {i}: "
                       f"{x[i]!r} vs {y[i]!r}")
    for col in numeric:
        x = pd.to_numeric(a[col], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(b[col], errors="coerce").to_numpy(dtype=float)
        both_nan = np.isnan(x) & np.isnan(y)
        close = np.isclose(x, y, rtol=rel, atol=rel) | both_nan
        if not close.all():
            i = int(np.flatnonzero(~close)[0])
            row = {k: a[k].iloc[i] for k in keys}
            out.append(f"{col}: {int((~close).sum())} values differ, first at {row}: "
                       f"{x[i]!r} vs {y[i]!r}")
    return out


def _null(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and value != value)


def _canonical(frame: pd.DataFrame, keys: list[str], numeric: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if col not in numeric:
            values = out[col].astype(object)
            out[col] = values.where(values.notna(), None).map(
                lambda v: v if v is None or isinstance(v, str | bool) else str(v))
    sort_keys = keys + [c for c in out.columns if c not in keys]
    filled = out.fillna({c: "" for c in out.columns if c not in numeric})
    order = filled.sort_values(sort_keys, kind="mergesort").index
    return out.loc[order].reset_index(drop=True)
