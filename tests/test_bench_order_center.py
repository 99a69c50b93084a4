"""The benchmark command runs end to end at a small size and proves the tab counts exact."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db(transaction=True)
def test_bench_order_center_builds_measures_and_checks_counts() -> None:
    # when the benchmark runs at 200 orders with a few requests per scenario
    out = StringIO()
    call_command("bench_order_center", orders=200, requests=2, warmup=1, stdout=out)
    # then it prints one JSON object with exact counts and a constant query count per page
    report = json.loads(out.getvalue())
    assert report["orders"] == 200
    assert report["counts_exact"] is True
    assert sum(report["tabs"].values()) == 200
    queries = {scenario["queries"] for scenario in report["scenarios"].values()}
    assert len(queries) == 1
    assert report["scenarios"]["first_page"]["rows"] > 0
