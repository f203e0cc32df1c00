"""Row selection shared by the workbook adapters (headless and live)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def rows_from_first(frame: pd.DataFrame, column: str,
                    starts: Callable[[object], bool]) -> pd.DataFrame:
    """``frame`` from its first row whose ``column`` value satisfies ``starts`` on (the
    rows being in ascending order of ``column``); the whole frame when it lacks the column."""
    if frame.empty or column not in frame:
        return frame
    hits = np.flatnonzero([bool(starts(v)) for v in frame[column]])
    return frame.iloc[hits[0]:] if len(hits) else frame.iloc[:0]
