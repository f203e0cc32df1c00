"""Plan layers: events validation and spreading, commits placement, consensus properties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sop_workbook.errors import SopError
from sop_workbook.review import demand_plan as plan

ITEMS = pd.DataFrame({"item_no": ["A", "B", "C"], "description": ["a", "b", "c"],
                      "category": ["W", "W", "G"]})
BASE = pd.DataFrame({
    "item_no": ["A", "A", "B", "B", "C", "C"],
    "location_code": ["MAIN", "EAST", "MAIN", "EAST", "MAIN", "MAIN"],
    "period": ["2026-11", "2026-11", "2026-11", "2026-11", "2026-11", "2026-12"],
    "baseline": [0.0, 0.0, 0.0, 0.0, 8.0, 2.0],
})


def _event(**kw):
    row = {"event": "e", "kind": "campaign", "item_no": "", "category": "",
           "location_code": "", "period_from": "2026-11", "period_to": "",
           "uplift_pct": 0, "uplift_units": 0}
    row.update(kw)
    return row


def test_units_split_equally_when_every_baseline_is_zero():
    # category W at 2026-11: A MAIN, A EAST, B MAIN, B EAST, all baseline 0 → 12 / 4 = 3
    ev = plan.event_uplift(BASE, pd.DataFrame([_event(category="W", uplift_units=12)]), ITEMS)
    assert ev["events"].tolist() == [3.0, 3.0, 3.0, 3.0]
    # a location filter: only the EAST cells of W → 12 / 2 = 6
    ev = plan.event_uplift(BASE, pd.DataFrame([_event(category="W", location_code="EAST",
                                                      uplift_units=12)]), ITEMS)
    assert sorted(zip(ev["item_no"], ev["events"], strict=True)) == [("A", 6.0), ("B", 6.0)]


def test_events_add_up_and_dates_are_read_as_periods():
    # C MAIN Nov baseline 8: +25 % = 2 and +10 units (only cell) → 12; a second event with
    # the period typed as a date (Excel's reading of 2026-11) adds 8 × 0.5 = 4 → 16
    events = pd.DataFrame([
        _event(item_no="C", uplift_pct=0.25, uplift_units=10),
        _event(item_no="C", kind="Spiff", period_from=dt.datetime(2026, 11, 1),
               uplift_pct=0.5),
    ])
    ev = plan.event_uplift(BASE, events, ITEMS)
    assert ev.set_index("period")["events"].to_dict() == {"2026-11": 16.0}


@pytest.mark.parametrize("row, column, text", [
    (_event(period_from="Nov-26"), "period_from", "not YYYY-MM"),
    (_event(period_from=""), "period_from", "empty"),
    (_event(period_to="2026-13"), "period_to", "not YYYY-MM"),
    (_event(period_from="2026-12", period_to="2026-11"), "period_to", "before"),
    (_event(uplift_pct="ten"), "uplift_pct", "not a number"),
    (_event(uplift_units=True), "uplift_units", "not a number"),
    (_event(uplift_pct=-2), "uplift_pct", "−100 %"),
    (_event(kind="promo"), "kind", "not one of"),
    (_event(item_no="ZZ"), "item_no", "not in the items table"),
    (_event(category="NOPE"), "category", "not in the items table"),
    (_event(item_no="C", category="W"), "category", "is in category"),
])
def test_bad_event_rows_name_row_and_column(row, column, text):
    good = _event(item_no="C")
    with pytest.raises(plan.TableInputError) as exc:
        plan.event_uplift(BASE, pd.DataFrame([good, good, row]), ITEMS)
    problems = exc.value.problems
    assert [(p.table, p.row, p.column) for p in problems] == [("events", 3, column)]
    assert text in problems[0].message
    assert "row 3" in exc.value.detail and f"column {column}" in exc.value.detail
    assert isinstance(exc.value, SopError)


def test_units_with_nowhere_to_go_are_an_error():
    # item A at location WEST: no such cell, and only item + location together create one
    rows = pd.DataFrame([_event(item_no="A", location_code="WEST", uplift_units=5),
                         _event(category="W", location_code="WEST", uplift_units=5)])
    with pytest.raises(plan.TableInputError) as exc:
        plan.event_uplift(BASE, rows, ITEMS)
    assert [(p.row, p.column) for p in exc.value.problems] == [(2, "uplift_units")]


def test_commits_placed_on_the_main_location_or_reported():
    pipeline = pd.DataFrame({"period": ["2026-11", "2026-11", "2026-12"],
                             "item_no": ["A", "X", "A"], "commit_qty": [4, 1, None],
                             "weighted_qty": [0.5, 0, 2]})
    main = pd.Series({"A": "EAST"})
    with pytest.raises(SopError) as exc:
        plan.opportunity_commits(pipeline, main, ["2026-11", "2026-12"])
    assert "X" in exc.value.detail
    out = plan.opportunity_commits(pipeline, main, ["2026-11", "2026-12"],
                                   default_location="MAIN")
    # A Nov 4 + 0.5; A Dec blank + 2; X Nov 1 on the default location
    assert [tuple(r) for r in out.itertuples(index=False)] == [
        ("A", "EAST", "2026-11", 4.5), ("A", "EAST", "2026-12", 2.0),
        ("X", "MAIN", "2026-11", 1.0)]


def test_consensus_layers_add_up_and_never_go_negative():
    rng = np.random.default_rng(5)
    periods = ["2026-11", "2026-12", "2027-01"]
    keys = pd.MultiIndex.from_product([["A", "B", "C"], ["MAIN", "EAST"], periods],
                                      names=["item_no", "location_code", "period"])
    cells = keys.to_frame(index=False)

    def layer(name, frac):
        pick = cells.sample(frac=frac, random_state=int(rng.integers(1000)))
        return pick.assign(**{name: rng.normal(0, 20, len(pick)).round(2)})

    base = layer("baseline", 0.8).assign(baseline=lambda f: f["baseline"].abs())
    over = layer("quantity", 0.5)
    ev = layer("events", 0.5)
    com = layer("commits", 0.3)
    out = plan.consensus(base, over, ev, com)
    assert (out["consensus"] >= 0).all()
    total = out["baseline"] + out["override"] + out["events"] + out["commits"]
    assert np.allclose(out["consensus"], total.clip(lower=0))
    assert (out["consensus"] == 0).sum() == (total <= 0).sum() > 0
    # every layer's cells are there, each layer's sum is kept
    assert out["override"].sum() == pytest.approx(over["quantity"].sum())
    assert out["events"].sum() == pytest.approx(ev["events"].sum())
    assert out["commits"].sum() == pytest.approx(com["commits"].sum())
    grid = plan.plan_grid(out, periods, ITEMS)
    g = grid.set_index(["item_no", "location_code", "layer"])
    for layer_name in plan.LAYERS:
        assert g.xs(layer_name, level="layer")[["p01", "p02", "p03"]].to_numpy().sum() == \
            pytest.approx(out[layer_name].sum())


def test_two_argument_consensus_still_works():
    base = pd.DataFrame({"item_no": "A", "location_code": "MAIN",
                         "period": ["2026-11", "2026-12"], "baseline": [10.0, 20.0]})
    over = pd.DataFrame({"item_no": ["A", "A"], "location_code": ["MAIN", "MAIN"],
                         "period": ["2026-12", "2027-06"], "quantity": [5.0, 7.0]})
    out = plan.consensus(base, over)
    # 2027-06 is not a plan period of the baseline: dropped
    assert out["consensus"].tolist() == [10.0, 25.0]
    assert out[["events", "commits"]].to_numpy().sum() == 0


def test_baseline_history_window_and_empty():
    empty = plan.statistical_baseline(pd.DataFrame(columns=["item_no", "location_code",
                                                            "period", "quantity"]), "2026-11")
    assert empty.empty and list(empty.columns) == ["item_no", "location_code", "period",
                                                   "baseline", "model", "backtest_mae",
                                                   "backtest_error"]
    # rows at or after the current period are not history; a series that stopped before
    # the 36-month window still gets a zero baseline
    hist = pd.DataFrame({"item_no": ["A", "A", "B"], "location_code": "MAIN",
                         "period": ["2026-10", "2026-11", "2020-01"],
                         "quantity": [6.0, 1000.0, 50.0]})
    base = plan.statistical_baseline(hist, "2026-11", horizon=2)
    by = base.groupby("item_no")["baseline"].sum().to_dict()
    assert by == {"A": 12.0, "B": 0.0}  # A: one period of 6 → mean 6 × 2 periods
