from __future__ import annotations

from celery import shared_task

from sandbox.demo import demo_refunds_ask
from sandbox.webhooks import deliveries_send_due
from sandbox.world import world_tick


@shared_task(name="sandbox.world_tick")
def world_tick_task() -> dict[str, int]:
    return world_tick()


@shared_task(name="sandbox.deliver_webhooks")
def deliver_webhooks_task() -> int:
    return deliveries_send_due()


@shared_task(name="sandbox.demo_refunds")
def demo_refunds_task() -> int:
    """make run's demo merchant asks suppliers for refunds its customers got (sandbox/demo.py)."""
    return demo_refunds_ask()
