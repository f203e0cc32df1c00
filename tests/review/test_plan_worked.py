"""A three-item demand plan worked by hand: baseline (every model's backtest and the
choice), marketing events, opportunity commits, overrides, consensus, grid and snapshot."""

from __future__ import annotations

import pandas as pd
import pytest

from sop_workbook.periods import period_range
from sop_workbook.review import demand_plan as plan

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


# A, MAIN, 36 months 2023-11 … 2026-10: 10 every month except April = 40
A_HIST = ([10.0] * 5 + [40.0] + [10.0] * 6) * 3
# B, MAIN, 2 months 2026-09 … 2026-10
B_HIST = [20.0, 30.0]
# C, EAST, 6 months 2026-05 … 2026-10 (zero rows: the series starts in 2026-05)
C_HIST = [0.0, 0, 0, 6, 0, 0]

HISTORY = pd.concat([_rows("A", "MAIN", "2023-11", A_HIST),
                     _rows("B", "MAIN", "2026-09", B_HIST),
                     _rows("C", "EAST", "2026-05", C_HIST)], ignore_index=True)

# ---- baseline by hand (rolling origins 12, 9, 6, 3 months before 2026-11; each model
# forecasts up to 2026-10 from each; the two with the smallest MAE are averaged)
# A (n = 36, 24 … 33 at the origins, never zero → not intermittent): at every origin the
#   centred 2×12 average is one year's sum ÷ 12 = 150/12 = 12.5, so the ratios are exact:
#   indices 10/12.5 = 0.8, April 40/12.5 = 3.2, nothing left over (seasonal strength 1);
#   the adjusted history is 12.5 flat (line: intercept 12.5, slope 0), so SES, damped,
#   Theta stay at 12.5 with no error and forecast 12.5 × index = the pattern; seasonal
#   naive (and the combination) repeat it too. Five models with backtest MAE 0: ties go
#   to MODELS order → seasonal_naive + ses, mean of two equal forecasts = the pattern:
#   2026-11 … 2027-03 → 10, 2027-04 → 40, 2027-05 … 2027-10 → 10
A_BASE = [10.0] * 5 + [40.0] + [10.0] * 6
# B (n = 2): no origin leaves 3 periods to fit on → mean of the history (20 + 30)/2 = 25
B_BASE = 25.0
# C (n = 6, one month with demand): fewer than 2 demands → mean 6/6 = 1 (the single
#   order is spread over the history, not repeated)
C_BASE = 1.0


def test_baseline_by_hand():
    base = plan.statistical_baseline(HISTORY, CURRENT)
    assert list(base.columns) == ["item_no", "location_code", "period", "baseline", "model",
                                  "backtest_mae", "backtest_error"]
    by = base.set_index(["item_no", "location_code"])
    assert set(by.loc[("A", "MAIN"), "model"]) == {"seasonal_naive+ses"}
    assert set(by.loc[("B", "MAIN"), "model"]) == {"mean"}
    assert set(by.loc[("C", "EAST"), "model"]) == {"mean"}
    assert set(by.loc[("A", "MAIN"), "backtest_mae"]) == {0.0}
    assert by.loc[[("B", "MAIN"), ("C", "EAST")], "backtest_mae"].isna().all()
    assert by.loc[("A", "MAIN"), "period"].tolist() == PERIODS
    assert by.loc[("A", "MAIN"), "baseline"].tolist() == A_BASE
    assert by.loc[("B", "MAIN"), "baseline"].tolist() == pytest.approx([B_BASE] * 12)
    assert by.loc[("C", "EAST"), "baseline"].tolist() == pytest.approx([C_BASE] * 12)


EVENTS = pd.DataFrame([
    # +10 % on every WIDGETS item, every location, Dec and Jan: A 10 × 0.1 = 1,
    # B 25 × 0.1 = 2.5
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
    # A 10 and B 25 → A 30 × 10/35, B 30 × 25/35
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
        ("B", "MAIN", "2026-12"): 2.5, ("B", "MAIN", "2027-01"): 2.5,
        ("D", "MAIN", "2027-02"): 50.0, ("D", "MAIN", "2027-03"): 50.0,
        ("A", "MAIN", "2027-05"): 30 * 10 / 35,
        ("B", "MAIN", "2027-05"): 30 * 25 / 35,
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
        ("A", "MAIN", "2027-05"): (10, 0, 300 / 35, 0, 10 + 300 / 35),
        # B Dec: 25 + 2.5 + 7.5 = 35
        ("B", "MAIN", "2026-12"): (B_BASE, 0, 2.5, 7.5, 35.0),
        # B Jan: 25 + 3 + 2.5 = 30.5
        ("B", "MAIN", "2027-01"): (B_BASE, 3, 2.5, 0, 30.5),
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
    assert snap.loc[("B", "MAIN", "2026-12"), "quantity"] == pytest.approx(35.0)
    assert set(rolled.snapshot["snapshot_period"]) == {CURRENT}
    # the Nov override leaves with Nov; B's Jan override stays
    assert rolled.overrides["period"].tolist() == ["2027-01"]
    assert rolled.current_period == "2026-12"
