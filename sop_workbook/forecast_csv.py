"""``sop forecast``: the statistical baseline on any monthly history, CSV in, CSV out.

Input: a long CSV with the header ``series,period,quantity`` (other columns are ignored),
one row per series and month, ``period`` as ``YYYY-MM``. Each series must cover every month
from its first to its last row (write 0 for a month without demand): a missing month, a
repeated (series, period), an empty series name, a period that is not ``YYYY-MM`` or a
quantity that is not a finite number is an error naming the file's row (the header is
row 1) and column. Series need not end in the same month: each is forecast from its own
last month.

Output: ``series,period,forecast,model`` — ``horizon`` rows per series in the input's
series order, the forecast of :func:`sop_workbook.review.forecasting.select_and_forecast` on
the whole history given.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import Problem, SopError
from .periods import format_period, parse_period
from .review import forecasting

COLUMNS = ("series", "period", "quantity")
OUTPUT_COLUMNS = ("series", "period", "forecast", "model")
MAX_LISTED = 50


class ForecastInputError(SopError):
    """The history CSV has problems; each names its row and column."""

    def __init__(self, name: str, problems: list[Problem]) -> None:
        self.problems = problems
        n = len(problems)
        lines = [str(p) for p in problems[:MAX_LISTED]]
        if n > MAX_LISTED:
            lines.append(f"... and {n - MAX_LISTED} more")
        super().__init__(f"{name}: {n} problem{'s' * (n != 1)} in the history",
                         "\n".join(lines))


def read_history(path: Path | str) -> pd.DataFrame:
    """Read and check the history CSV: columns series, period (month index), quantity,
    row (the file's row number), in file order. Raises :class:`ForecastInputError`."""
    path = Path(path)
    name = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SopError(f"cannot read {path}: {exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise ForecastInputError(name, [Problem(name, 1, None, "the file is empty")])
    header = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ForecastInputError(name, [Problem(name, 1, c, "column is missing (header "
                                                "must name series, period, quantity)")
                                        for c in missing])
    at = {c: header.index(c) for c in COLUMNS}
    problems: list[Problem] = []
    series, months, qty, rows = [], [], [], []
    for number, rec in enumerate(reader, start=2):
        if not any(cell.strip() for cell in rec):
            continue  # blank line
        cells = {c: (rec[i].strip() if i < len(rec) else "") for c, i in at.items()}
        ok = True
        if not cells["series"]:
            problems.append(Problem(name, number, "series", "series is empty"))
            ok = False
        try:
            month = parse_period(cells["period"])
        except SopError:
            problems.append(Problem(name, number, "period",
                                    f"{cells['period']!r} is not a period YYYY-MM"))
            ok = False
        try:
            value = float(cells["quantity"])
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            problems.append(Problem(name, number, "quantity",
                                    f"{cells['quantity']!r} is not a number"))
            ok = False
        if ok:
            series.append(cells["series"])
            months.append(month)
            qty.append(value)
            rows.append(number)
    frame = pd.DataFrame({"series": series, "period": np.array(months, dtype=np.int64),
                          "quantity": np.array(qty, dtype=float),
                          "row": np.array(rows, dtype=np.int64)})
    problems += _duplicates_and_gaps(frame, name)
    if problems:
        problems.sort(key=lambda p: (p.row if p.row is not None else 0, p.column or ""))
        raise ForecastInputError(name, problems)
    if frame.empty:
        raise ForecastInputError(name, [Problem(name, 2, None, "no history rows")])
    return frame


def _duplicates_and_gaps(frame: pd.DataFrame, name: str) -> list[Problem]:
    problems = []
    dup = frame[frame.duplicated(["series", "period"], keep=False)]
    for (s, p), grp in dup.groupby(["series", "period"], sort=False):
        first, *others = grp["row"].tolist()
        for row in others:
            problems.append(Problem(name, row, "period", f"series {s!r} has period "
                                    f"{format_period(p)} twice (also row {first})"))
    clean = frame.drop_duplicates(["series", "period"]).sort_values(["series", "period"])
    for s, grp in clean.groupby("series", sort=False):
        months = grp["period"].to_numpy()
        rows = grp["row"].to_numpy()
        for i in np.flatnonzero(np.diff(months) > 1):
            lost = [format_period(m) for m in range(months[i] + 1, months[i + 1])]
            shown = ", ".join(lost[:3]) + (f" … ({len(lost)} months)" if len(lost) > 3
                                           else "")
            problems.append(Problem(name, int(rows[i + 1]), "period",
                                    f"series {s!r} has no row for {shown} (between "
                                    f"rows {rows[i]} and {rows[i + 1]}; write 0 for a "
                                    "month without demand)"))
    return problems


def forecast_history(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Forecast every series of a checked history (:func:`read_history`) ``horizon``
    months past its own last month: columns series, period (YYYY-MM), forecast, model.
    All series in one vectorised call: each is placed so that its last month is the last
    column (``start`` marks its first)."""
    if horizon < 1:
        raise SopError(f"--horizon must be at least 1 (got {horizon})")
    order = list(dict.fromkeys(history["series"]))
    code = {s: i for i, s in enumerate(order)}
    idx = history["series"].map(code).to_numpy()
    first = history.groupby(idx)["period"].min().to_numpy()
    last = history.groupby(idx)["period"].max().to_numpy()
    length = last - first + 1
    t = int(length.max())
    y = np.zeros((len(order), t))
    col = history["period"].to_numpy() - last[idx] + t - 1
    y[idx, col] = history["quantity"].to_numpy()
    sel = forecasting.select_and_forecast(y, horizon, start=t - length)
    months = last[:, None] + 1 + np.arange(horizon)[None, :]
    return pd.DataFrame({
        "series": np.repeat(order, horizon),
        "period": [format_period(int(m)) for m in months.ravel()],
        "forecast": sel.forecast.ravel(),
        "model": np.repeat(sel.model, horizon),
    })


def write_forecast(frame: pd.DataFrame, target: Path | None) -> str | None:
    """The forecast as CSV text (``target`` None) or written atomically to ``target``."""
    text = frame.to_csv(index=False, lineterminator="\n", float_format="%.10g")
    if target is None:
        return text
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SopError(f"cannot write {target}: {exc}") from None
    return None
