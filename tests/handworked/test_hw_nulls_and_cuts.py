"""Hand-worked: zero denominators -> null for every ratio; a --by location cut whose
rows' numerators and denominators recombine to the total; missing tables.

domain.md: "A ratio whose denominator is zero has no value ... never 0 or 100 %."
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hw_support import (
    bud,
    inv,
    kpis,
    opp,
    prod,
    rcpt,
    rows_by,
    run_cli,
    sh,
    sl,
    stock,
    strict_json,
    write_source,
)

P = "2024-03"

RATIOS = [
    "sales_otd",
    "fill_rate",
    "vendor_otd",
    "schedule_attainment",
    "inventory_turns",
    "days_of_supply",
    "forecast_accuracy",
    "forecast_bias",
    "tracking_signal",
    "close_ratio",
    "commit_vs_closed",
]


def test_empty_source_every_ratio_is_null(tmp_path):
    out = kpis(write_source(tmp_path), P)  # master data only, every fact table empty
    for name in RATIOS:
        assert name in out, f"missing KPI key {name}"
        assert out[name] is None, f"{name} = {out[name]!r}; zero denominator must be null"


@pytest.mark.parametrize("by", [None, "location"])
def test_output_is_strict_json_even_with_empty_data(tmp_path, by):
    # the CLI prints "one JSON object"; NaN/Infinity are not JSON (RFC 8259) and the
    # contract's "no value" is null
    opts = ["--by", by] if by else []
    proc = run_cli(
        "kpis", "--source", write_source(tmp_path), "--period", P, "--format", "json", *opts
    )
    assert proc.returncode == 0, proc.stderr
    strict_json(proc.stdout)


@pytest.mark.parametrize("level", ["unit", "order"])
def test_empty_source_fill_rate_variants_null(tmp_path, level):
    out = kpis(write_source(tmp_path), P, "--fill-level", level)
    assert out["fill_rate"] is None  # nothing due: 0/0


def test_empty_source_amounts_are_zero_and_lists_empty(tmp_path):
    out = kpis(write_source(tmp_path), P)
    # committed/won are sums, not ratios: a sum over no opportunity is 0
    assert out["committed_amount"] == pytest.approx(0)
    assert out["won_amount"] == pytest.approx(0)
    assert out["budget_variance"] == []  # no GL account has a budget on either side
    assert out["unmapped_budget_lines"] == []


def test_missing_table_is_empty_with_warning(tmp_path):
    src = write_source(
        tmp_path,
        {"purchase_receipts": [rcpt("R1", 1, "V1", "2024-03-10", "2024-03-10")]},
        omit=("purchase_receipts",),
    )
    proc = run_cli("kpis", "--source", src, "--period", P, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "purchase_receipts" in proc.stderr  # warned, not silent
    out = kpis(src, P)
    assert out["vendor_otd"] is None  # no receipt lines -> 0/0


# ------------------------------------------------------------------ --by location
CUT = {
    "sales_lines": [
        sl("RL1", 1, promised="2024-03-10", qty=10, loc="WH1"),
        sl("RL1", 2, promised="2024-03-12", qty=4, loc="WH1", item="I2"),
        sl("RL2", 1, promised="2024-03-20", qty=6, loc="WH1"),
        sl("RL3", 1, promised="2024-03-05", qty=5, loc="WH2", item="I2"),
        sl("RL4", 1, promised="2024-03-25", qty=2, loc="WH2", item="I2"),
        sl("RL5", 1, promised="2024-03-28", qty=8, loc="WH2", item="I2"),
    ],
    "sales_shipments": [
        sh("RS1", 1, "RL1", 1, "2024-03-10", 10),  # WH1 on time, RL1/1 filled
        sh("RS1", 2, "RL1", 2, "2024-03-14", 4),  # WH1 late, RL1/2 not filled by 03-12
        sh("RS2", 1, "RL2", 1, "2024-03-18", 3),  # WH1 on time, RL2/1 3 of 6 by 03-20
        sh("RS3", 1, "RL2", 1, "2024-03-22", 3),  # WH1 late
        sh("RS4", 1, "RL3", 1, "2024-03-05", 5),  # WH2 on time, filled
        sh("RS5", 1, "RL4", 1, "2024-03-27", 2),  # WH2 late, not filled
        sh("RS6", 1, "RL5", 1, "2024-03-28", 8),  # WH2 on time, filled
    ],
    "production_orders": [
        prod("A1", "2024-03-10", 100, "2024-03-08", 120, loc="WH1"),  # 100 (capped)
        prod("A2", "2024-03-15", 50, "2024-03-15", 40, loc="WH1", item="I2"),  # 40
        prod("A3", "2024-03-20", 30, "2024-03-22", 30, loc="WH2"),  # late -> 0
        prod("A4", "2024-03-25", 20, loc="WH2", item="I2"),  # open -> 0
    ],
    "sales_invoices": [
        inv("CI1", 1, "2024-03-05", 600, cost=300, customer="C1", item="I1", loc="WH1"),
        inv("CI2", 1, "2024-03-06", 400, cost=200, customer="C2", item="I1", loc="WH1"),
        inv("CI3", 1, "2024-03-10", 500, cost=250, customer="C1", item="I2", loc="WH1"),
        inv("CI4", 1, "2024-03-15", 300, cost=150, customer="C1", item="I1", loc="WH2"),
    ],
    "sales_budget": [
        bud("2024-03", 800, customer="C1", item="I1", loc="WH1"),
        bud("2024-03", 300, customer="C2", item="I1", loc="WH1"),
        bud("2024-03", 450, customer="C1", item="I2", loc="WH1"),
        bud("2024-03", 200, customer="C2", item="I2", loc="WH2"),
    ],
    "inventory": [
        stock("2024-02", 90, 1400, item="I1", loc="WH1"),
        stock("2024-02", 30, 300, item="I2", loc="WH2"),
        stock("2024-03", 100, 1600, item="I1", loc="WH1"),
        stock("2024-03", 40, 500, item="I2", loc="WH2"),
    ],
    # facts with no location: vendor OTD and close ratio do not apply to a location cut
    "purchase_receipts": [rcpt("R1", 1, "V1", "2024-03-10", "2024-03-10")],
    "opportunities": [opp("O1", "SP1", "C1", "2024-03-10", 100, "won", "true", "2024-03-10")],
}


def test_by_location_rows_recombine_to_total(tmp_path):
    src = write_source(tmp_path, CUT)
    out = kpis(src, P, "--by", "location")
    rows = rows_by(out, "location")
    assert {"WH1", "WH2"} <= set(rows)
    w1, w2 = rows["WH1"], rows["WH2"]

    # sales OTD: WH1 shipment lines RS1/1 ok, RS1/2 late, RS2/1 ok, RS3/1 late -> 2/4;
    # WH2 RS4 ok, RS5 late, RS6 ok -> 2/3; total 4/7
    assert w1["sales_otd"] == pytest.approx(2 / 4)
    assert w2["sales_otd"] == pytest.approx(2 / 3)
    assert out["sales_otd"] == pytest.approx(4 / 7)
    assert out["sales_otd"] == pytest.approx((w1["sales_otd"] * 4 + w2["sales_otd"] * 3) / 7)

    # fill rate (line): WH1 RL1/1 ok, RL1/2 miss, RL2/1 miss (3 of 6) -> 1/3;
    # WH2 RL3 ok, RL4 miss, RL5 ok -> 2/3; total 3/6
    assert w1["fill_rate"] == pytest.approx(1 / 3)
    assert w2["fill_rate"] == pytest.approx(2 / 3)
    assert out["fill_rate"] == pytest.approx((w1["fill_rate"] * 3 + w2["fill_rate"] * 3) / 6)

    # schedule attainment: WH1 (100 + 40) / 150; WH2 (0 + 0) / 50; total 140/200
    assert w1["schedule_attainment"] == pytest.approx(140 / 150)
    assert w2["schedule_attainment"] == pytest.approx(0.0)
    assert out["schedule_attainment"] == pytest.approx(
        (w1["schedule_attainment"] * 150 + w2["schedule_attainment"] * 50) / 200
    )  # 0.7

    # forecast bias: WH1 cells (I1) 1000 vs 1100, (I2) 500 vs 450 -> +50/1500;
    # WH2 cells (I1) 300 vs 0, (I2) 0 vs 200 -> -100/300; total -50/1800
    assert w1["forecast_bias"] == pytest.approx(50 / 1500)
    assert w2["forecast_bias"] == pytest.approx(-100 / 300)
    assert out["forecast_bias"] == pytest.approx(
        (w1["forecast_bias"] * 1500 + w2["forecast_bias"] * 300) / 1800
    )

    # inventory turns: WH1 COGS 300+200+250 = 750*12 = 9000 / mean(1400, 1600) = 1500 -> 6;
    # WH2 150*12 = 1800 / mean(300, 500) = 400 -> 4.5; total 10800 / mean(1700, 2100) = 1900
    assert w1["inventory_turns"] == pytest.approx(9000 / 1500)
    assert w2["inventory_turns"] == pytest.approx(1800 / 400)
    assert out["inventory_turns"] == pytest.approx(
        (w1["inventory_turns"] * 1500 + w2["inventory_turns"] * 400) / 1900
    )

    # days of supply: WH1 on-hand 100, shipped 10+4+3+3 = 20 in 31 days -> 100/(20/31) = 155;
    # WH2 on-hand 40, shipped 5+2+8 = 15 -> 40/(15/31) = 82.67; total 140/(35/31) = 124
    assert w1["days_of_supply"] == pytest.approx(100 / (20 / 31))
    assert w2["days_of_supply"] == pytest.approx(40 / (15 / 31))
    assert out["days_of_supply"] == pytest.approx(140 / (35 / 31))

    # vendor receipts and opportunities carry no location: not applicable -> null in rows
    for row in (w1, w2):
        assert row["vendor_otd"] is None
        assert row["close_ratio"] is None
    # ... but the totals still exist beside the rows
    assert out["vendor_otd"] == pytest.approx(1.0)  # 1 of 1 receipt on time
    assert out["close_ratio"] == pytest.approx(1.0)  # 1 won of 1 closed


def test_by_location_fill_rate_unit_recombines(tmp_path):
    out = kpis(write_source(tmp_path, CUT), P, "--by", "location", "--fill-level", "unit")
    rows = rows_by(out, "location")
    # WH1 on-time qty 10 + 0 + 3 = 13 of 10+4+6 = 20; WH2 5 + 0 + 8 = 13 of 5+2+8 = 15
    assert rows["WH1"]["fill_rate"] == pytest.approx(13 / 20)
    assert rows["WH2"]["fill_rate"] == pytest.approx(13 / 15)
    assert out["fill_rate"] == pytest.approx(26 / 35)
    assert out["fill_rate"] == pytest.approx(
        (rows["WH1"]["fill_rate"] * 20 + rows["WH2"]["fill_rate"] * 15) / 35
    )
