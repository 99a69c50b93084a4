"""The ingest benchmark runs end to end at a tiny size against the live server (sandbox on)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from celery import current_app
from django.core.management import call_command


@pytest.fixture
def _eager_tasks() -> Iterator[None]:
    """The intake enqueues on commit: run it in the request rather than leave broker files."""
    conf = current_app.conf
    before = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, False
    yield
    conf.task_always_eager, conf.task_eager_propagates = before


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_eager_tasks")
def test_bench_ingest_pulls_every_order_and_stores_every_webhook(live_server: Any) -> None:
    # when the benchmark runs at 30 orders, 3-order pages and 6 webhooks (one client thread back
    # to back, then 6 more offered at 50/s from two threads), its GraphQL pull under a bucket of
    # 300 points restoring 100/s (the 30 orders spend ~450: the bucket runs low)
    out = StringIO()
    call_command(
        "bench_ingest",
        orders=30,
        page_size=3,
        webhooks=6,
        concurrency=1,
        rate=50,
        rate_threads=2,
        base_url=live_server.url,
        graphql_restore_rate=100,
        graphql_bucket_size=300,
        stdout=out,
    )
    # then every order was pulled and stored, and every signed delivery was accepted and stored
    report = json.loads(out.getvalue())
    assert report["ingest"]["orders_stored"] == 30
    assert report["ingest"]["pages"] == 10
    assert report["ingest"]["ingest_orders_per_second"] > 0
    graphql = report["graphql_pull"]
    assert {key: graphql[key] for key in ("restore_rate", "bucket_size", "orders_stored", "throttled")} == {
        "restore_rate": 100,
        "bucket_size": 300,
        "orders_stored": 30,
        "throttled": 0,
    }
    assert (graphql["runs"], graphql["countdowns"]) == (1, 0)
    assert graphql["queries"] >= 10  # 3 orders a page at most
    assert graphql["points_spent"] > 300  # more than the bucket held: it had to wait for some
    assert graphql["waits"] >= 1
    assert 0 < graphql["max_wait_seconds"] <= 2
    assert graphql["page_sizes"]["max"] <= 3
    assert graphql["points_per_second"] == pytest.approx(graphql["points_spent"] / graphql["elapsed_seconds"], rel=0.01)
    assert graphql["ratio"] == pytest.approx(graphql["points_per_second"] / 100, abs=0.002)
    assert 0 < graphql["restored_ratio"] <= graphql["ratio"]
    assert graphql["orders_per_second"] > 0
    webhooks = report["webhooks"]
    assert webhooks["capacity"]["statuses"] == {"200": 6}
    assert webhooks["at_rate"]["statuses"] == {"200": 6}
    assert webhooks["at_rate"]["offered_per_second"] == 50
    assert webhooks["sent"] == webhooks["warmup"] + 12
    assert webhooks["stored"] == webhooks["sent"]
    assert webhooks["lost"] == 0
