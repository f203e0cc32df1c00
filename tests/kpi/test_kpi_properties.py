"""Properties every KPI keeps, whatever the data (hypothesis): rates stay in [0, 1], row
order does not matter, and cuts recombine into the total by adding numerators and
denominators."""

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sources import write_source

from sop_workbook.kpi import build_facts, fill_rate, sales_otd, schedule_attainment, vendor_otd
from sop_workbook.loader import load_source

DAYS = [f"2026-03-{d:02d}" for d in range(1, 32)] + ["2026-02-27", "2026-04-02"]
LOCATIONS = ["MAIN", "EAST"]

line_st = st.fixed_dictionaries({
    "qty": st.integers(1, 20), "promised": st.sampled_from([*DAYS, ""]),
    "requested": st.sampled_from(DAYS), "location": st.sampled_from(LOCATIONS),
    "item": st.sampled_from(["A", "B"]), "customer": st.sampled_from(["C1", "C2"]),
    "shipments": st.lists(st.tuples(st.sampled_from(DAYS), st.integers(0, 25)), max_size=3),
})
receipt_st = st.tuples(st.sampled_from(DAYS), st.sampled_from(DAYS), st.sampled_from(["V1", "V2"]))
prod_st = st.tuples(st.sampled_from(DAYS), st.integers(1, 50), st.sampled_from([*DAYS, ""]),
                    st.integers(0, 80))


def build(lines, receipts, prods, shuffle_seed=None):
    sales_lines, shipments, rc, po = [], [], [], []
    for i, ln in enumerate(lines):
        sales_lines.append({"order_no": f"O{i // 2}", "line_no": i % 2 + 1,
                            "customer_no": ln["customer"], "item_no": ln["item"],
                            "location_code": ln["location"], "order_date": "2026-01-01",
                            "promised_date": ln["promised"], "requested_date": ln["requested"],
                            "quantity": ln["qty"]})
        for j, (day, qty) in enumerate(ln["shipments"]):
            shipments.append({"shipment_no": f"S{i}", "line_no": j, "order_no": f"O{i // 2}",
                              "order_line_no": i % 2 + 1, "shipment_date": day,
                              "quantity": qty})
    for i, (exp, got, vendor) in enumerate(receipts):
        rc.append({"receipt_no": f"R{i}", "line_no": 1, "vendor_no": vendor, "item_no": "A",
                   "expected_receipt_date": exp, "receipt_date": got, "quantity": 1})
    for i, (due, planned, done, qty) in enumerate(prods):
        po.append({"prod_order_no": f"P{i}", "item_no": "B", "location_code": LOCATIONS[i % 2],
                   "due_date": due, "planned_quantity": planned, "finished_date": done,
                   "finished_quantity": qty if done else ""})
    if shuffle_seed is not None:
        rng = random.Random(shuffle_seed)
        for rows in (sales_lines, shipments, rc, po):
            rng.shuffle(rows)
    with tempfile.TemporaryDirectory() as tmp:
        src = write_source(Path(tmp), sales_lines=sales_lines, sales_shipments=shipments,
                           purchase_receipts=rc, production_orders=po)
        return build_facts(load_source(src))


def all_ratios(facts, by=None):
    if by == "location":  # receipts carry no location: vendor OTD is not cut by it
        return {k: v for k, v in all_ratios_by(facts, by).items() if k != "vendor"}
    return all_ratios_by(facts, by)


def all_ratios_by(facts, by):
    vendor = (lambda: vendor_otd(facts, "2026-03", days_early=3, by=by)) if by != "location" \
        else (lambda: None)
    return {
        "otd": sales_otd(facts, "2026-03", by=by),
        "otd_tol": sales_otd(facts, "2026-03", tolerance_days=2, by=by),
        "fill_line": fill_rate(facts, "2026-03", by=by),
        "fill_unit": fill_rate(facts, "2026-03", level="unit", by=by),
        "fill_order_req": fill_rate(facts, "2026-03", level="order", basis="requested", by=by),
        "vendor": vendor(),
        "schedule": schedule_attainment(facts, "2026-03", by=by),
    }


settings_ = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


@settings_
@given(st.lists(line_st, max_size=12), st.lists(receipt_st, max_size=6),
       st.lists(prod_st, max_size=6))
def test_rates_in_unit_interval_and_none_only_without_denominator(lines, receipts, prods):
    for name, r in all_ratios(build(lines, receipts, prods)).items():
        if r.denominator == 0:
            assert r.value is None, name
        else:
            assert 0.0 <= r.value <= 1.0, name


@settings_
@given(st.lists(line_st, max_size=12), st.lists(receipt_st, max_size=6),
       st.lists(prod_st, max_size=6), st.integers(0, 1000))
def test_row_order_does_not_matter(lines, receipts, prods, seed):
    a = all_ratios(build(lines, receipts, prods))
    b = all_ratios(build(lines, receipts, prods, shuffle_seed=seed))
    for name in a:
        assert a[name].numerator == pytest.approx(b[name].numerator), name
        assert a[name].denominator == pytest.approx(b[name].denominator), name


@settings_
@given(st.lists(line_st, max_size=12), st.lists(receipt_st, max_size=6),
       st.lists(prod_st, max_size=6))
def test_location_cuts_recombine_into_the_total(lines, receipts, prods):
    facts = build(lines, receipts, prods)
    total = all_ratios(facts)
    for name in ("otd", "otd_tol", "fill_line", "fill_unit", "schedule"):
        cut = all_ratios(facts, by="location")[name]
        assert cut["numerator"].sum() == pytest.approx(total[name].numerator), name
        assert cut["denominator"].sum() == pytest.approx(total[name].denominator), name
