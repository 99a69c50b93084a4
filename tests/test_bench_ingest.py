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
    # to back, then 6 more offered at 50/s from two threads)
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
        stdout=out,
    )
    # then every order was pulled and stored, and every signed delivery was accepted and stored
    report = json.loads(out.getvalue())
    assert report["ingest"]["orders_stored"] == 30
    assert report["ingest"]["pages"] == 10
    assert report["ingest"]["ingest_orders_per_second"] > 0
    webhooks = report["webhooks"]
    assert webhooks["capacity"]["statuses"] == {"200": 6}
    assert webhooks["at_rate"]["statuses"] == {"200": 6}
    assert webhooks["at_rate"]["offered_per_second"] == 50
    assert webhooks["sent"] == webhooks["warmup"] + 12
    assert webhooks["stored"] == webhooks["sent"]
    assert webhooks["lost"] == 0
