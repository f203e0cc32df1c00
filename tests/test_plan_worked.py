"""A three-item demand plan worked by hand: baseline (every model's backtest and the
choice), marketing events, opportunity commits, overrides, consensus, grid and snapshot."""

from __future__ import annotations

import pandas as pd
import pytest

from sop_workbook import plan
from sop_workbook.periods import period_range

CURRENT = "2026-11"
PERIODS = period_range(CURRENT, 12)  # 2026-11 … 2027-10

ITEMS = pd.DataFrame({
    "item_no": ["A", "B", "C", "D"],
    "description": ["Widget A", "Widget B", "Gadget C", "Gadget D (new)"],
    "category": ["WIDGETS", "WIDGETS", "GADGETS", "GADGETS"],
})


def _rows(item, location, first, values):
    return pd.DataFrame({"item_no": item, "location_code": location,
                         "period": period_range(first, len(values)), "quantity": values})


# A, MAIN, 18 months 2025-05 … 2026-10: 10 ×11, 40 (2026-04), 10 ×6
A_HIST = [10.0] * 11 + [40.0] + [10.0] * 6
# B, MAIN, 8 months 2026-03 … 2026-10
B_HIST = [10.0, 10, 20, 20, 20, 20, 30, 30]
# C, EAST, 6 months 2026-05 … 2026-10 (zero rows: the series starts in 2026-05)
C_HIST = [0.0, 0, 4, 4, 0, 0]

HISTORY = pd.concat([_rows("A", "MAIN", "2025-05", A_HIST),
                     _rows("B", "MAIN", "2026-03", B_HIST),
                     _rows("C", "EAST", "2026-05", C_HIST)], ignore_index=True)

# ---- baseline by hand (backtest 6: folds L = n−6 … n−1, fit on y[:L], forecast y[L])
# A (n = 18, never zero → ADI 1, no Croston):
#   seasonal naive: folds L = 12 … 17 forecast y[L−12] = 10 = y[L] → MAE 0
#   MA3: L12 (10+10+40)/3 = 20 vs 10 → 10; L13 20 → 10; L14 20 → 10; L15..17 10 → 0;
#        MAE 30/6 = 5
#   SES: L12: errors 0 … 0, 30 (α-free) → tie → α 0.1 → 10 + 0.1×30 = 13 vs 10 → 3
#        later folds: SSE = 900 + 900α²Σ(1−α)^2j grows with α → α 0.1; the level decays
#        10 + 3×0.9^k → errors 3, 2.7, 2.43, 2.187, 1.9683, 1.77147; MAE 14.05677/6
#   → seasonal naive (MAE 0). Forecast = same month last year: 2026-11 … 2027-03 ← 10,
#     2027-04 ← 2026-04 = 40, 2027-05 … 2027-10 ← 10
A_BASE = [10.0] * 5 + [40.0] + [10.0] * 6
# B (n = 8; seasonal naive needs 12 → never; ADI 1 → no Croston):
#   MA3: L3 13.33 vs 20 → 6.67; L4 16.67 vs 20 → 3.33; L5 20 → 0; L6 20 vs 30 → 10;
#        L7 23.33 vs 30 → 6.67; MAE 26.67/5 = 5.333
#   SES: L3 [10,10,20] errors 0, 10 (α-free) → α 0.1 → 11 vs 20 → 9; L4 … L7 and the
#        final fit: non-decreasing training, errors shrink with α → α 0.9; levels
#        10, 10, 19, 19.9, 19.99, 19.999, 28.9999, 29.89999 → errors 0.1, 0.01, 10.001,
#        1.0001; MAE 20.1111/5 = 4.02222
#   → SES (5.333 > 4.02222 × 1.05), baseline 29.89999 every period
B_BASE = 29.89999
# C (n = 6; ADI 6/2 = 3 > 1.32 → Croston is a candidate):
#   MA3: L3 (0+0+4)/3 vs 4 → 2.667; L4 8/3 vs 0 → 2.667; L5 8/3 vs 0 → 2.667; MAE 2.667
#   SES: L3 errors 0, 4 → α 0.1 → 0.4 vs 4 → 3.6; L4 e3 = 4(1−α) → α 0.9 → 3.6, 3.96
#        vs 0 → 3.96; L5 SSE/16 = 1 + u + (1−u)², u = (1−α)²: α .1 1.8461, .2 1.7696,
#        .3 1.7501, .4 1.7696 → α 0.3: 1.2, 2.04, 1.428 vs 0 → 1.428; MAE 8.988/3 = 2.996
#   Croston (needs 2 demands → L4, L5): demand at t2 (q 3) → z 4, p 3; t3 (q 1) →
#        z 4, p 3 + 0.1(1 − 3) = 2.8; forecast 0.95 × 4 / 2.8 = 3.8/2.8 = 1.3571 vs 0 at
#        L4 and L5 → MAE 1.3571
#   → Croston (2.667 > 1.3571 × 1.05), baseline 3.8/2.8 every period
C_BASE = 3.8 / 2.8


def test_baseline_by_hand():
    base = plan.statistical_baseline(HISTORY, CURRENT)
    assert list(base.columns) == ["item_no", "location_code", "period", "baseline", "model"]
    by = base.set_index(["item_no", "location_code"])
    assert set(by.loc[("A", "MAIN"), "model"]) == {"seasonal_naive"}
    assert set(by.loc[("B", "MAIN"), "model"]) == {"ses"}
    assert set(by.loc[("C", "EAST"), "model"]) == {"croston_sba"}
    assert by.loc[("A", "MAIN"), "period"].tolist() == PERIODS
    assert by.loc[("A", "MAIN"), "baseline"].tolist() == A_BASE
    assert by.loc[("B", "MAIN"), "baseline"].tolist() == pytest.approx([B_BASE] * 12)
    assert by.loc[("C", "EAST"), "baseline"].tolist() == pytest.approx([C_BASE] * 12)


EVENTS = pd.DataFrame([
    # +10 % on every WIDGETS item, every location, Dec and Jan: A 10 × 0.1 = 1,
    # B 29.89999 × 0.1 = 2.989999
    {"event": "Winter promo", "kind": "campaign", "item_no": "", "category": "WIDGETS",
     "location_code": "", "period_from": "2026-12", "period_to": "2027-01",
     "uplift_pct": 0.1, "uplift_units": None},
    # 20 units on A at MAIN in Nov (blank period_to = period_from): the only cell → +20
    {"event": "Dealer spiff", "kind": "spiff", "item_no": "A", "category": "",
     "location_code": "MAIN", "period_from": "2026-11", "period_to": "",
     "uplift_pct": None, "uplift_units": 20},
    # launch of D (no history, no baseline) at MAIN: cells created, 50 units each month
    {"event": "D launch", "kind": "launch", "item_no": "D", "category": "",
     "location_code": "MAIN", "period_from": "2027-02", "period_to": "2027-03",
     "uplift_pct": 0, "uplift_units": 50},
    # 30 units over the WIDGETS cells at MAIN in May, in proportion to their baseline:
    # A 10 and B 29.89999 → A 30 × 10/39.89999, B 30 × 29.89999/39.89999
    {"event": "Trade show", "kind": "seasonality", "item_no": "", "category": "WIDGETS",
     "location_code": "MAIN", "period_from": "2027-05", "period_to": "2027-05",
     "uplift_pct": 0, "uplift_units": 30},
    # last year's campaign: outside the plan, no effect
    {"event": "Old", "kind": "campaign", "item_no": "A", "category": "",
     "location_code": "", "period_from": "2026-01", "period_to": "2026-03",
     "uplift_pct": 0.5, "uplift_units": 0},
])

PIPELINE = pd.DataFrame({
    "period": ["2026-12", "2027-01", "2028-01", "2026-10"],
    "item_no": ["B", "C", "A", "A"],
    "open_qty": [9.0, 4.0, 100.0, 9.0],
    "commit_qty": [5.0, 0.0, 100.0, 9.0],  # 2028-01 and 2026-10 are outside the plan
    "weighted_qty": [2.5, 1.2, 0.0, 0.0],
})
MAIN_LOCATION = pd.Series({"A": "MAIN", "B": "MAIN", "C": "EAST"})

OVERRIDES = pd.DataFrame({"item_no": ["A", "B"], "location_code": ["MAIN", "MAIN"],
                          "period": ["2026-11", "2027-01"], "quantity": [-45.0, 3.0]})


@pytest.fixture(scope="module")
def layers():
    base = plan.statistical_baseline(HISTORY, CURRENT)
    events = plan.event_uplift(base, EVENTS, ITEMS)
    commits = plan.opportunity_commits(PIPELINE, MAIN_LOCATION, PERIODS)
    return base, events, commits, plan.consensus(base, OVERRIDES, events, commits)


def _cells(frame, column):
    return {(r.item_no, r.location_code, r.period): getattr(r, column)
            for r in frame.itertuples(index=False)}


def test_events_by_hand(layers):
    _, events, _, _ = layers
    assert list(events.columns) == ["item_no", "location_code", "period", "events"]
    expected = {
        ("A", "MAIN", "2026-11"): 20.0,
        ("A", "MAIN", "2026-12"): 1.0, ("A", "MAIN", "2027-01"): 1.0,
        ("B", "MAIN", "2026-12"): 2.989999, ("B", "MAIN", "2027-01"): 2.989999,
        ("D", "MAIN", "2027-02"): 50.0, ("D", "MAIN", "2027-03"): 50.0,
        ("A", "MAIN", "2027-05"): 30 * 10 / 39.89999,
        ("B", "MAIN", "2027-05"): 30 * 29.89999 / 39.89999,
    }
    got = _cells(events, "events")
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key


def test_commits_by_hand(layers):
    _, _, commits, _ = layers
    assert list(commits.columns) == ["item_no", "location_code", "period", "commits"]
    # B: 5 committed + 2.5 weighted on MAIN; C: 1.2 weighted on EAST; A's rows are
    # outside the horizon
    assert _cells(commits, "commits") == pytest.approx(
        {("B", "MAIN", "2026-12"): 7.5, ("C", "EAST", "2027-01"): 1.2})


def test_consensus_by_hand(layers):
    _, _, _, cons = layers
    assert list(cons.columns) == ["item_no", "location_code", "period", "baseline",
                                  "override", "events", "commits", "consensus"]
    rows = cons.set_index(["item_no", "location_code", "period"])
    expected = {
        # A Nov: 10 − 45 + 20 + 0 = −15 → floored at 0
        ("A", "MAIN", "2026-11"): (10, -45, 20, 0, 0),
        ("A", "MAIN", "2026-12"): (10, 0, 1, 0, 11),
        ("A", "MAIN", "2027-04"): (40, 0, 0, 0, 40),
        ("A", "MAIN", "2027-05"): (10, 0, 300 / 39.89999, 0, 10 + 300 / 39.89999),
        # B Dec: 29.89999 + 2.989999 + 7.5 = 40.389989
        ("B", "MAIN", "2026-12"): (B_BASE, 0, 2.989999, 7.5, 40.389989),
        # B Jan: 29.89999 + 3 + 2.989999 = 35.889989
        ("B", "MAIN", "2027-01"): (B_BASE, 3, 2.989999, 0, 35.889989),
        ("B", "MAIN", "2027-10"): (B_BASE, 0, 0, 0, B_BASE),
        ("C", "EAST", "2027-01"): (C_BASE, 0, 0, 1.2, C_BASE + 1.2),
        ("D", "MAIN", "2027-02"): (0, 0, 50, 0, 50),
    }
    for key, values in expected.items():
        got = rows.loc[key, ["baseline", "override", "events", "commits", "consensus"]]
        assert got.tolist() == pytest.approx(list(values)), key
    # A, B, C have 12 periods each; D only its two launch months
    assert cons.groupby("item_no").size().to_dict() == {"A": 12, "B": 12, "C": 12, "D": 2}


def test_grid_layers_and_snapshot(layers):
    *_, cons = layers
    grid = plan.plan_grid(cons, PERIODS, ITEMS)
    assert list(grid.columns) == ["item_no", "description", "category", "location_code",
                                  "layer", *[f"p{i:02d}" for i in range(1, 13)]]
    a = grid[grid["item_no"] == "A"]
    assert a["layer"].tolist() == ["baseline", "override", "events", "commits", "consensus"]
    assert a["p01"].tolist() == [10, -45, 20, 0, 0]
    assert a["p06"].tolist() == [40, 0, 0, 0, 40]  # 2027-04, the seasonal peak
    d = grid[grid["item_no"] == "D"].set_index("layer")
    assert d.loc["consensus", ["p03", "p04", "p05", "p06"]].tolist() == [0, 50, 50, 0]
    assert d["description"].iloc[0] == "Gadget D (new)"
    # GADGETS (C, D) sort before WIDGETS (A, B)
    assert grid["item_no"].drop_duplicates().tolist() == ["C", "D", "A", "B"]

    rolled = plan.roll_forward(cons, OVERRIDES, CURRENT)
    assert list(rolled.snapshot.columns) == ["snapshot_period", "period", "item_no",
                                             "location_code", "quantity",
                                             "baseline_quantity"]
    snap = rolled.snapshot.set_index(["item_no", "location_code", "period"])
    assert snap.loc[("A", "MAIN", "2026-11"), ["quantity", "baseline_quantity"]].tolist() \
        == [0, 10]
    assert snap.loc[("B", "MAIN", "2026-12"), "quantity"] == pytest.approx(40.389989)
    assert set(rolled.snapshot["snapshot_period"]) == {CURRENT}
    # the Nov override leaves with Nov; B's Jan override stays
    assert rolled.overrides["period"].tolist() == ["2027-01"]
    assert rolled.current_period == "2026-12"
