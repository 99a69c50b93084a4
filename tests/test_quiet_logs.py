"""make run's terminal: the sandbox's routine traffic is filtered out, the rest is kept."""

from __future__ import annotations

import logging

import pytest

from zopi.quiet_logs import QuietSandbox


def record(name: str, message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


@pytest.mark.parametrize(
    ("name", "message", "kept"),
    [
        ("celery.beat", "Scheduler: Sending due task sandbox-deliver-webhooks (sandbox.deliver_webhooks)", False),
        ("celery.worker.strategy", "Task sandbox.world_tick[1f2e] received", False),
        ("celery.app.trace", "Task sandbox.deliver_webhooks[1f2e] succeeded in 0.002s: 0", False),
        ("django.server", '"POST /webhooks/shopify/0c26862c-45c5/ HTTP/1.1" 200 0', False),
        ("django.server", '"GET /sandbox/shopify/demo/admin/api/2024-10/orders.json?x=1 HTTP/1.1" 200 79724', False),
        # what is ours, or went wrong, is still shown
        (
            "celery.beat",
            "Scheduler: Sending due task channels-sync-pull-due-stores (channels_sync.pull_due_stores)",
            True,
        ),
        ("celery.app.trace", "Task channels_sync.pull_store[1f2e] succeeded in 0.06s: {...}", True),
        ("django.server", '"POST /webhooks/shopify/0c26862c-45c5/ HTTP/1.1" 401 0', True),
        ("django.server", '"GET /sandbox/ HTTP/1.1" 500 12', True),
        ("django.server", '"GET /orders/ HTTP/1.1" 200 5120', True),
        # our every-minute dispatchers: quiet while they find nothing, heard when they queue work
        (
            "celery.beat",
            "Scheduler: Sending due task suppliers-reconcile-in-flight (suppliers.reconcile_in_flight)",
            False,
        ),
        ("celery.worker.strategy", "Task suppliers.run_auto_order_rules[1f2e] received", False),
        ("celery.app.trace", "Task suppliers.sync_due_supplier_orders[1f2e] succeeded in 0.01s: 0", False),
        ("celery.app.trace", "Task suppliers.sweep_channel_cancels[1f2e] succeeded in 0.01s: []", False),
        ("celery.app.trace", "Task suppliers.run_auto_order_rules[1f2e] succeeded in 0.05s: 3", True),
        ("celery.app.trace", "Task suppliers.place_by_rule[1f2e] succeeded in 0.4s: 'paid'", True),
        ("celery.beat", "Scheduler: Sending due task tracking-poll-due (tracking.poll_due)", False),
        ("celery.app.trace", "Task tracking.register_due[1f2e] succeeded in 0.01s: 0", False),
        ("celery.app.trace", "Task channels_sync.fulfillment_pushes_due[1f2e] succeeded in 0.01s: 0", False),
        ("celery.app.trace", "Task tracking.poll_due[1f2e] succeeded in 0.3s: 12", True),
    ],
)
def test_routine_sandbox_traffic_is_dropped_and_the_rest_kept(name: str, message: str, kept: bool) -> None:
    assert QuietSandbox().filter(record(name, message)) is kept


def test_a_failed_sandbox_task_is_still_shown() -> None:
    failed = record(
        "celery.app.trace", "Task sandbox.deliver_webhooks[1f2e] raised unexpected: ValueError()", logging.ERROR
    )
    assert QuietSandbox().filter(failed) is True
