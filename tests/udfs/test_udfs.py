"""UDFs called as Excel calls them (a 2-D range with its header), on a small hand-worked
aggregate table, and their error texts."""

import inspect

import pytest

import udfs

# agg_sales rows: period, item, category, location and the additive columns used here
HEADER = ["period", "item_no", "category", "location_code", "otd_lines", "otd_on_time",
          "fill_lines_due", "fill_lines_filled", "fill_qty_due", "fill_qty_on_time",
          "shipped_qty", "invoiced_amount", "budget_amount", "forecast_abs_error",
          "on_hand_qty", "inventory_value", "cogs"]
ROWS = [
    ["2026-09", "A", "CHAIRS", "MAIN", 4, 3, 4, 2, 40, 30, 31, 100, 80, 20, 10, 100, 50],
    ["2026-10", "A", "CHAIRS", "MAIN", 5, 4, 4, 3, 40, 35, 31, 200, 250, 50, 62, 620, 100],
    ["2026-10", "B", "DESKS", "EAST", 5, 1, 2, 0, 10, 4, 62, 100, 90, 10, 0, 0, 60],
]
TABLE = [HEADER, *ROWS]


def test_kpis_on_a_range_with_header():
    # Oct: OTD (4 + 1) / (5 + 5)
    assert udfs.SOP_SALES_OTD(TABLE, "2026-10") == pytest.approx(0.5)
    # Oct, category CHAIRS: fill lines 3/4; unit 35/40
    assert udfs.SOP_FILL_RATE(TABLE, "2026-10", "category", "CHAIRS") == pytest.approx(0.75)
    assert udfs.SOP_FILL_RATE(TABLE, "2026-10", "category", "CHAIRS", "unit") == \
        pytest.approx(35 / 40)
    # accuracy Oct = 1 − (50 + 10) / (200 + 100) = 0.8; bias (340 − 300) / 300
    assert udfs.SOP_FORECAST_ACCURACY(TABLE, "2026-10") == pytest.approx(0.8)
    assert udfs.SOP_FORECAST_BIAS(TABLE, "2026-10") == pytest.approx(40 / 300)
    # days of supply Oct = 62 on hand ÷ ((31 + 62) / 31 per day) = 62 / 3
    assert udfs.SOP_DAYS_OF_SUPPLY(TABLE, "2026-10") == pytest.approx(62 / 3)
    # turns Oct = 160 × 12 ÷ mean(end Sep 100, end Oct 620) = 1920 / 360
    assert udfs.SOP_INVENTORY_TURNS(TABLE, "2026-10") == pytest.approx(1920 / 360)
    # tracking signal: only 2 periods with data (Sep +20, Oct −40) < 3 → no value
    assert udfs.SOP_TRACKING_SIGNAL(TABLE, "2026-10", None, None, 2) == "#N/A"
    # with August (A 90, F 60: +30) there are 3: Σ = 30 + 20 − 40 = 10,
    # MAD = (30 + 20 + 40) / 3 = 30 → 10 / 30
    aug = ["2026-08", "A", "CHAIRS", "MAIN", 0, 0, 0, 0, 0, 0, 0, 90, 60, 30, 0, 0, 0]
    assert udfs.SOP_TRACKING_SIGNAL([HEADER, aug, *ROWS], "2026-10") == pytest.approx(1 / 3)


def test_no_value_is_na_and_bad_arguments_say_which():
    assert udfs.SOP_SALES_OTD(TABLE, "2027-01") == "#N/A"
    assert udfs.SOP_FILL_RATE(TABLE, "2026-10", "item", "ZZ") == "#N/A"
    assert udfs.SOP_SALES_OTD(TABLE, "Oct 2026") == "#SOP! period: 'Oct 2026' is not YYYY-MM"
    assert udfs.SOP_FILL_RATE(TABLE, "2026-10", None, None, "order").startswith(
        "#SOP! level:")
    assert udfs.SOP_SALES_OTD(TABLE, "2026-10", "colour", "red").startswith(
        "#SOP! unknown dimension")
    assert udfs.SOP_INVENTORY_TURNS(TABLE, "2026-10", None, None, 0).startswith(
        "#SOP! months:")
    assert udfs.SOP_SALES_OTD("agg_sales", "2026-10").startswith("#SOP! data:")


def test_every_udf_has_named_arguments_and_help():
    assert len(udfs.UDFS) >= 11
    for name, fn in udfs.UDFS.items():
        params = list(inspect.signature(fn).parameters)
        assert params[0] == "data" and "period" in params, name
        assert fn.__doc__ and len(fn.__doc__) > 30, name


def test_every_cell_function_is_a_udf_of_the_glue():
    """xlwings finds a module's UDFs by its attributes: each cell function is one of the
    glue's, under its name, with its table argument passed as a range (read only when the
    function asks)."""
    from sop_workbook.kpi.cell_functions import CELL_FUNCTIONS

    assert udfs.UDFS is CELL_FUNCTIONS  # what the headless recalculation calls
    assert list(CELL_FUNCTIONS) == sorted(CELL_FUNCTIONS)
    found = {name for name in dir(udfs) if name.startswith("SOP_")}
    assert found == set(CELL_FUNCTIONS)
    for name, fn in CELL_FUNCTIONS.items():
        assert getattr(udfs, name) is fn is udfs.UDFS[name]
        assert udfs.ARG_OPTIONS[name]["data"] == {"convert": "range"}
        assert set(udfs.ARG_OPTIONS[name]) == set(inspect.signature(fn).parameters)
