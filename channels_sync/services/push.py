"""Fulfillment push-back: the outbox (``FulfillmentPush``), one row per (order, parcel).

- ``fulfillment_push_request``: what the tracking app hands over by task name (contract 2), checked
  as hostile input (``PushInputError`` says why it was dropped); one row per (order, shipment id)
  whatever the races; then run. A parcel already pushed (or failed: Retry is the merchant's) is
  left alone.
- ``fulfillment_push_run``: claimed with one conditional UPDATE (PUSHING, held until
  ``claimed_until``), the channel called OUTSIDE any transaction, the outcome recorded only while
  the claim is still ours. The providers read the channel's state before writing, so a push run
  again after a lost answer or a killed worker recognises its earlier fulfillment.
- ``fulfillment_pushes_due``: the beat sweep's batch (due PENDING/RETRYING rows, PUSHING rows past
  their hold: ``next_attempt_at`` is set to ``claimed_until`` when a row is claimed, so one
  partial index, ``fulfillmentpush_due_idx``, finds them all).
- ``fulfillment_push_retry``: a FAILED push back to PENDING (the drawer's Retry, the admin action).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from channels_sync.carriers import carrier_for, tracking_url_for
from channels_sync.enums import PushState, StoreStatus
from channels_sync.fulfillment import AlreadyFulfilled, FulfillmentLine, FulfillmentRequest, Pushed, PushRefused
from channels_sync.models import CarrierMapping, FulfillmentPush, Store
from channels_sync.providers.shopify import fulfillment as shopify_fulfillment
from channels_sync.providers.tiktok import fulfillment as tiktok_fulfillment
from channels_sync.providers.woocommerce import fulfillment as woocommerce_fulfillment
from channels_sync.services.push_input import handover_check
from channels_sync.services.stores import store_provider
from integrations.errors import CredentialsError, ProviderError
from integrations.http import sanitize
from orders.enums import Channel, OrderEventType
from orders.models import OrderEvent, OrderLine

logger = logging.getLogger(__name__)

MAX_PUSH_ATTEMPTS = 8  # tries (retryable failures) before the push is FAILED; Retry starts again
CLAIM_FOR = timedelta(minutes=5)  # a worker's hold on a push; past it, the sweep takes it again
BACKOFF_BASE = 60  # seconds: 1, 2, 4, … minutes between tries
BACKOFF_CAP = 3600
SWEEP_BATCH = 200
ACTIVE = (PushState.PENDING, PushState.RETRYING, PushState.PUSHING)
EVENT_PUSHED, EVENT_FAILED, EVENT_RETRY = "fulfillment_pushed", "fulfillment_push_failed", "fulfillment_push_retry"

Pusher = Callable[..., Any]
PUSHERS: dict[str, Pusher] = {
    Channel.SHOPIFY: shopify_fulfillment.push_fulfillment,
    Channel.WOOCOMMERCE: woocommerce_fulfillment.push_fulfillment,
    Channel.TIKTOK: tiktok_fulfillment.push_fulfillment,
}


class PushRetryRefused(ValueError):
    """Retry asked of a push that is not failed; the message says what it is doing."""


def fulfillment_push_request(
    *,
    order_id: object,
    shipment_id: object,
    tracking_number: object,
    carrier: object,
    lines: object,
    tracking_url: object = "",
) -> FulfillmentPush:
    """Record the parcel in the outbox (once per order and shipment) and run it if it is waiting.
    Raises ``PushInputError`` for a hand-over that cannot be used (nothing written)."""
    handover = handover_check(
        order_id=order_id,
        shipment_id=shipment_id,
        tracking_number=tracking_number,
        carrier=carrier,
        lines=lines,
        tracking_url=tracking_url,
    )
    order = handover.order
    push, created = FulfillmentPush.objects.get_or_create(
        order=order,
        shipment_id=handover.shipment_id,
        defaults={
            "account_id": order.account_id,
            "store_id": order.store_id,
            "tracking_number": handover.tracking_number,
            "carrier": handover.carrier,
            "lines": handover.lines,
            "tracking_url": handover.tracking_url,
            "next_attempt_at": timezone.now(),
        },
    )
    if created or push.state in (PushState.PENDING, PushState.RETRYING):
        fulfillment_push_run(push_id=push.pk)
        push.refresh_from_db()
    return push


def _claim(push_id: int, now: datetime) -> datetime | None:
    """Take the push for this worker (one conditional UPDATE); its hold, or None when it is not due,
    held by another worker, or done."""
    until = now + CLAIM_FOR
    taken = (
        FulfillmentPush.objects.filter(pk=push_id, state__in=ACTIVE, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .update(
            state=PushState.PUSHING,
            claimed_until=until,
            next_attempt_at=until,  # the sweep finds it again here if this worker dies
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    return until if taken else None


def _backoff(attempts: int, retry_after: float | None) -> int:
    wait = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)
    wanted = 0 if retry_after is None else min(retry_after, BACKOFF_CAP)
    return max(wait, int(wanted + 0.999))


def _request_for(push: FulfillmentPush, overrides: Mapping[str, str], notify: bool) -> FulfillmentRequest:
    """The channel's shape of the parcel; ``PushRefused`` when our own order cannot say it."""
    order = push.order
    by_id = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    parts: list[FulfillmentLine] = []
    for item in push.lines:
        line = by_id.get(item["order_line_id"])
        if line is None or not line.channel_line_id:
            raise PushRefused(
                "line_gone",
                _("A line of this parcel is no longer on the order (or has no id at the channel): fulfil it by hand"),
            )
        parts.append(FulfillmentLine(line.channel_line_id, int(item["quantity"])))
    choice = carrier_for(push.store.channel, push.carrier, overrides)
    url = ""
    if choice.url_needed and not tracking_url_for(choice.name, push.tracking_number):
        url = push.tracking_url
    return FulfillmentRequest(
        channel_order_id=order.channel_order_id,
        tracking_number=push.tracking_number,
        carrier=push.carrier,
        lines=tuple(parts),
        tracking_url=url,
        notify_customer=notify,
    )


@dataclass(frozen=True)
class Outcome:
    state: str
    fields: dict[str, Any]
    event: str = ""  # the order event's text ("" none)
    event_code: str = ""


def _store_problem(store: Store) -> str:
    if store.status == StoreStatus.DISCONNECTED:
        return _("The store %(name)s is disconnected: connect it again, then retry") % {"name": store.name}
    if store.status == StoreStatus.RECONNECT:
        return _("The store %(name)s needs reconnecting (its access was withdrawn): reconnect it, then retry") % {
            "name": store.name
        }
    if store.status in (StoreStatus.NOT_CONNECTED, StoreStatus.CONNECTING):
        return _("The store %(name)s is not connected yet: finish connecting it, then retry") % {"name": store.name}
    return ""


def _failed(push: FulfillmentPush, code: str, message: str) -> Outcome:
    said = sanitize(message, 500)
    text = _("Fulfillment of %(number)s could not be sent to the channel: %(error)s") % {
        "number": push.tracking_number,
        "error": said,
    }
    return Outcome(PushState.FAILED, {"error_code": code[:64], "last_error": said}, text, EVENT_FAILED)


def _attempt(push: FulfillmentPush) -> Outcome:
    """Call the channel (no transaction open) and say what to record."""
    store = push.store
    problem = _store_problem(store)
    if problem:
        return _failed(push, "store_unusable", problem)
    overrides = dict(
        CarrierMapping.objects.filter(account_id=push.account_id, channel=store.channel).values_list(
            "supplier_carrier", "channel_carrier"
        )
    )
    notify = bool(
        Account.objects.filter(pk=push.account_id).values_list("notify_customer_on_fulfillment", flat=True)[0]
    )
    pusher = PUSHERS[store.channel]
    try:
        request = _request_for(push, overrides, notify)
        result = pusher(store_provider(store), request, carrier_overrides=overrides)
    except PushRefused as refused:
        return _failed(push, refused.code, refused.message)
    except CredentialsError as error:
        return _failed(
            push,
            "credentials",
            _("The channel refused the store's credentials (%(error)s): reconnect the store, then retry")
            % {"error": sanitize(str(error), 200)},
        )
    except ProviderError as error:
        if not error.retryable:
            return _failed(push, "provider_error", str(error))
        return _retry_or_fail(push, str(error), error.retry_after)
    except Exception as error:  # a bug must not lose the push: tried again, then shown failed
        logger.exception("fulfillment push %s failed", push.pk)
        return _retry_or_fail(push, f"internal error: {type(error).__name__}", None)
    if isinstance(result, AlreadyFulfilled):
        return Outcome(
            PushState.ALREADY_FULFILLED, {"detail": sanitize(result.detail, 500), "error_code": "", "last_error": ""}
        )
    assert isinstance(result, Pushed)
    sent = carrier_for(store.channel, push.carrier, overrides).name or ""
    text = _("Fulfilled in %(channel)s with tracking number %(number)s (%(carrier)s)") % {
        "channel": store.get_channel_display(),
        "number": push.tracking_number,
        "carrier": sent or _("no carrier"),
    }
    fields = {
        "external_id": result.external_id[:255],
        "pushed_at": timezone.now(),
        "carrier_sent": sent[:100],
        "tracking_url": request.tracking_url,  # what was sent ("": the channel links the number itself)
        "error_code": "",
        "last_error": "",
    }
    return Outcome(PushState.PUSHED, fields, text, EVENT_PUSHED)


def _retry_or_fail(push: FulfillmentPush, message: str, retry_after: float | None) -> Outcome:
    said = sanitize(message, 500)
    if push.attempts >= MAX_PUSH_ATTEMPTS:
        return _failed(
            push,
            "retries_exhausted",
            _("%(error)s (tried %(n)s times; retry when the channel answers again)")
            % {"error": said, "n": push.attempts},
        )
    later = timezone.now() + timedelta(seconds=_backoff(push.attempts, retry_after))
    return Outcome(PushState.RETRYING, {"last_error": said, "error_code": "retryable", "next_attempt_at": later})


def fulfillment_push_run(*, push_id: int) -> str:
    """One try of a push (see the module docstring); the state it was left in, or why nothing ran."""
    until = _claim(push_id, timezone.now())
    if until is None:
        return "not due"
    push = FulfillmentPush.objects.select_related("store", "order").get(pk=push_id)
    outcome = _attempt(push)
    fields = {"next_attempt_at": None, **outcome.fields}
    with transaction.atomic():
        recorded = FulfillmentPush.objects.filter(pk=push_id, state=PushState.PUSHING, claimed_until=until).update(
            state=outcome.state, claimed_until=None, updated_at=timezone.now(), **fields
        )
        if recorded and outcome.event:
            OrderEvent.objects.create(
                order_id=push.order_id,
                type=OrderEventType.NOTE,
                parameters={"text": outcome.event, "code": outcome.event_code, "push_id": push.pk},
            )
    if not recorded:  # held past its time and taken by another worker: that one records
        logger.warning("fulfillment push %s: claim lost before its outcome (%s) was recorded", push_id, outcome.state)
        return "claim lost"
    return outcome.state


def fulfillment_pushes_due(*, limit: int = SWEEP_BATCH) -> list[int]:
    """The pushes to run now: waiting and due, or held past their time (a worker died), oldest first;
    rows another sweep is reading are skipped."""
    now = timezone.now()
    with transaction.atomic():
        return list(
            FulfillmentPush.objects.select_for_update(skip_locked=True)
            .filter(state__in=ACTIVE, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )


@transaction.atomic
def fulfillment_push_retry(*, account: Account, push_id: int, actor: AbstractBaseUser | None) -> FulfillmentPush:
    """A failed push waits again (tries counted from zero); ``FulfillmentPush.DoesNotExist`` for
    another account's id, ``PushRetryRefused`` for one that is not failed. The caller enqueues
    ``fulfillment_push_run`` after commit."""
    push = FulfillmentPush.objects.select_for_update().select_related("order").get(account=account, pk=push_id)
    if push.state != PushState.FAILED:
        raise PushRetryRefused(
            _("The push of %(number)s is not failed (%(state)s): nothing to retry")
            % {"number": push.tracking_number, "state": push.get_state_display()}
        )
    push.state, push.attempts, push.next_attempt_at, push.claimed_until = PushState.PENDING, 0, timezone.now(), None
    push.save(update_fields=["state", "attempts", "next_attempt_at", "claimed_until", "updated_at"])
    OrderEvent.objects.create(
        order_id=push.order_id,
        type=OrderEventType.NOTE,
        parameters={
            "text": _("Fulfillment of %(number)s sent to the channel again") % {"number": push.tracking_number},
            "code": EVENT_RETRY,
            "push_id": push.pk,
        },
        actor_id=actor.pk if actor is not None else None,
    )
    return push
