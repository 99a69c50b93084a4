"""The placement benchmark runs end to end at a tiny size against the live server (sandbox on,
enforcing the account's call rate): its JSON has every figure, and the invariants hold."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.mark.parametrize("supplier", ["cj", "aliexpress"])
def test_bench_placement_places_and_pays_every_order_under_the_rate_limit(live_server: Any, supplier: str) -> None:
    out = StringIO()
    call_command(
        "bench_placement",
        orders=16,
        supplier=supplier,
        rate_limit=20,
        concurrency=3,
        chunk=4,
        base_url=live_server.url,
        stdout=out,
    )
    report = json.loads(out.getvalue())

    assert set(report) >= {
        "orders_placed_and_paid_per_second",
        "supplier_calls_per_order",
        "our_cpu_ms_per_order",
        "queries_per_order",
        "rate_limit_per_second",
        "http_429",
        "rate_used",
        "goals",
    }
    assert (report["orders"], report["orders_paid"], report["outcomes"]) == (16, 16, {"paid": 16})
    assert report["rate_limit_per_second"] == 20
    assert report["sandbox_in_this_process"] is True
    # never above the limit: the sandbox enforced it and refused nothing
    assert report["http_429"] == 0
    assert report["rate_used"] <= 1.0
    assert report["supplier_calls_per_order"] <= 3
    assert report["supplier_calls"] == 16  # one create, paid with the order, per order
    # 16 orders at 20 calls/s with calls spaced 50 ms: at least 0.75 s
    assert report["elapsed_seconds"] >= 15 / 20 - 0.05
    # four chunks of four: the same queries for each (none deferred), a share of them per order
    assert report["chunk_orders"] == 4
    assert len(report["queries_per_full_chunk"]) == 1
    assert 0 < report["queries_per_order"] == report["queries_per_full_chunk"][0] / 4
    assert report["our_cpu_ms_per_order"] > 0
    assert report["tab_counts_exact"] is True
    assert report["goals"]["never_above_the_limit"] is True
    assert report["goals"]["calls_per_order_at_most_3"] is True
