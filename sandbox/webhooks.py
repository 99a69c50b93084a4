"""Webhooks the simulated providers send: an outbox delivered by a background job.

Providers sign the body as the real service does and call ``webhook_enqueue``; the job
``deliveries_send_due`` POSTs due deliveries with a short timeout and retries failures
with exponential backoff until ``max_attempts`` (each provider passes its own policy).
Fault rates can duplicate a delivery or hold one back so a later one arrives first.
"""

from __future__ import annotations

from datetime import timedelta

import requests
from django.db import transaction
from django.utils import timezone

from sandbox import faults
from sandbox.enums import DeliveryState
from sandbox.models import SimAccount, WebhookDelivery

CONNECT_TIMEOUT, READ_TIMEOUT = 1.0, 5.0  # Shopify's own delivery limits
OUT_OF_ORDER_HOLD = timedelta(seconds=2)
BATCH = 100


def webhook_enqueue(
    *, account: SimAccount, topic: str, url: str, body: str, headers: dict[str, str], max_attempts: int = 8
) -> list[WebhookDelivery]:
    """Queue one delivery (two if the duplicate fault fires; held back if out-of-order fires)."""
    rates = faults.rates_for(account.provider)
    due = timezone.now()
    if faults.draw(float(rates.get("webhook_out_of_order", 0.0))):
        due += OUT_OF_ORDER_HOLD
    copies = 2 if faults.draw(float(rates.get("webhook_duplicate", 0.0))) else 1
    return [
        WebhookDelivery.objects.create(
            account=account,
            topic=topic,
            url=url,
            headers=headers,
            body=body,
            max_attempts=max_attempts,
            next_attempt_at=due,
        )
        for _ in range(copies)
    ]


def _claim_due(limit: int) -> list[WebhookDelivery]:
    with transaction.atomic():
        rows = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(state=DeliveryState.PENDING, next_attempt_at__lte=timezone.now())
            .order_by("next_attempt_at", "id")[:limit]
        )
        # Push the claimed rows into the future so a parallel sender leaves them alone.
        WebhookDelivery.objects.filter(pk__in=[row.pk for row in rows]).update(
            next_attempt_at=timezone.now() + timedelta(seconds=READ_TIMEOUT * 3)
        )
    return rows


def delivery_send(delivery: WebhookDelivery, session: requests.Session) -> None:
    delivery.attempts += 1
    try:
        response = session.post(
            delivery.url,
            data=delivery.body.encode(),
            headers={"Content-Type": "application/json", **delivery.headers},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
        )
        delivery.last_status = response.status_code
        delivery.last_error = "" if response.ok else response.text[:500]
        ok = response.ok
    except requests.RequestException as exc:
        delivery.last_status, delivery.last_error, ok = None, str(exc)[:500], False
    if ok:
        delivery.state = DeliveryState.DELIVERED
    elif delivery.attempts >= delivery.max_attempts:
        delivery.state = DeliveryState.FAILED
    else:
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=min(2**delivery.attempts, 3600))
    delivery.save(update_fields=["attempts", "last_status", "last_error", "state", "next_attempt_at"])


def deliveries_send_due(limit: int = BATCH) -> int:
    """Send the deliveries that are due; returns how many were attempted."""
    rows = _claim_due(limit)
    with requests.Session() as session:
        for delivery in rows:
            delivery_send(delivery, session)
    return len(rows)
