"""Fulfillment push-back: the outbox (``FulfillmentPush``), one row per (order, parcel).

- ``fulfillment_push_request``: what the tracking app hands over by task name (contract 2), checked
  as hostile input (``PushInputError`` says why it was dropped); one row per (order, shipment id)
  whatever the races; then run. A parcel already pushed (or failed: Retry is the merchant's) is
  left alone, unless the hand-over brings more lines (a combined parcel): the row keeps the union
  and runs again (the channels push only what the number has not fulfilled yet).
- ``fulfillment_push_run``: claimed (``push_claim``: one conditional UPDATE on the database clock,
  one parcel of an order at a time, spent rows FAILED), the channel called OUTSIDE any transaction
  with every call bounded by the hold (``finish_by``) and the hold re-checked before each write,
  the outcome recorded only while the claim is still ours (a real Pushed whose claim was lost
  still wins over what another worker recorded). The providers read the channel's state before
  writing, so a push run again after a lost answer or a killed worker recognises its earlier
  fulfillment, line by line.
- ``fulfillment_pushes_due``: the beat sweep's batch (due PENDING/RETRYING rows, PUSHING rows past
  their hold: ``next_attempt_at`` is set to ``claimed_until`` when a row is claimed, so one
  partial index, ``fulfillmentpush_due_idx``, finds them all), leased so it is sent once.
- ``fulfillment_push_retry``: a FAILED push back to PENDING (the drawer's Retry, the admin action).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
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
from channels_sync.services.push_claim import (
    CLAIM_FOR,
    CLAIM_MARGIN,
    EVENT_FAILED,
    MAX_PUSH_ATTEMPTS,
    SWEEP_LEASE,
    push_claim,
    push_still_ours,
    pushes_due,
)
from channels_sync.services.push_input import Handover, handover_check
from channels_sync.services.stores import store_provider
from integrations.errors import CredentialsError, ProviderError
from integrations.http import sanitize
from orders.enums import Channel, OrderEventType
from orders.models import OrderEvent, OrderLine

logger = logging.getLogger(__name__)

BACKOFF_BASE = 60  # seconds: 1, 2, 4, … minutes between tries
BACKOFF_CAP = 3600
SWEEP_BATCH = 200
EVENT_PUSHED, EVENT_RETRY = "fulfillment_pushed", "fulfillment_push_retry"
EVENT_LINES_ADDED, EVENT_NUMBER_CHANGED = "fulfillment_push_lines_added", "fulfillment_push_number_changed"
DONE = (PushState.PUSHED, PushState.ALREADY_FULFILLED, PushState.FAILED)

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
    if not created and _handover_again(push, handover):
        push.refresh_from_db()
    if created or push.state in (PushState.PENDING, PushState.RETRYING):
        fulfillment_push_run(push_id=push.pk)
        push.refresh_from_db()
    return push


def _new_lines(had: list[dict[str, Any]], lines: list[dict[str, int]]) -> dict[int, int] | None:
    """The union of the parcel's lines kept and handed over, or None when nothing is new."""
    kept = {int(item["order_line_id"]): int(item["quantity"]) for item in had}
    union = dict(kept)
    for item in lines:
        union[item["order_line_id"]] = max(union.get(item["order_line_id"], 0), item["quantity"])
    return None if union == kept or not kept else union  # no lines kept: the whole order already


def _handover_again(push: FulfillmentPush, handover: Handover) -> bool:
    """The same parcel handed over again. More lines (a second supplier order in the same parcel):
    the row keeps the union and, when it was done, waits again (the channels push only what this
    number has not fulfilled yet). Another tracking number for the same shipment: logged with the
    reason, nothing changes (the number pushed stays). The same lines: nothing. True when the row
    changed."""
    if handover.tracking_number != push.tracking_number:
        logger.warning(
            "fulfillment push %s: shipment %s handed over again with another tracking number; kept %s",
            push.pk,
            push.shipment_id,
            push.tracking_number,
        )
        _note(
            push,
            _(
                "Shipment handed over again with tracking number %(new)s; the push keeps %(old)s "
                "(fix it in the channel if the parcel's number changed)"
            )
            % {"new": handover.tracking_number, "old": push.tracking_number},
            EVENT_NUMBER_CHANGED,
        )
        return False
    if _new_lines(push.lines, handover.lines) is None:
        return False
    with transaction.atomic():
        locked = FulfillmentPush.objects.select_for_update().get(pk=push.pk)
        union = _new_lines(locked.lines, handover.lines)
        if union is None:
            return False
        locked.lines = [{"order_line_id": line_id, "quantity": count} for line_id, count in sorted(union.items())]
        fields = ["lines", "updated_at"]
        if locked.state in DONE:
            locked.state, locked.attempts, locked.next_attempt_at = PushState.PENDING, 0, timezone.now()
            locked.error_code, locked.last_error = "", ""
            fields += ["state", "attempts", "next_attempt_at", "error_code", "last_error"]
        locked.save(update_fields=fields)
        _note(
            locked,
            _("More lines for the parcel %(number)s: sent to the channel again for them")
            % {"number": locked.tracking_number},
            EVENT_LINES_ADDED,
        )
    return True


def _note(push: FulfillmentPush, text: str, code: str) -> None:
    OrderEvent.objects.create(
        order_id=push.order_id, type=OrderEventType.NOTE, parameters={"text": text, "code": code, "push_id": push.pk}
    )


def _backoff(attempts: int, retry_after: float | None) -> int:
    wait = min(BACKOFF_BASE * 2 ** min(max(attempts - 1, 0), 16), BACKOFF_CAP)
    usable = retry_after is not None and math.isfinite(retry_after) and retry_after > 0
    wanted = min(float(retry_after), BACKOFF_CAP) if usable and retry_after is not None else 0
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


def _attempt(push: FulfillmentPush, until: datetime) -> Outcome:
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
        finish_by = time.monotonic() + (CLAIM_FOR - CLAIM_MARGIN).total_seconds()  # every call ends in the hold
        result = pusher(
            store_provider(store, finish_by=finish_by),
            request,
            carrier_overrides=overrides,
            still_ours=lambda: push_still_ours(push_id=push.pk, until=until),
        )
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


def fulfillment_push_run(*, push_id: int, lease: datetime | None = None) -> str:
    """One try of a push (see the module docstring); the state it was left in, or why nothing ran.
    ``lease``: the sweep's, when the sweep sent this run."""
    claim = push_claim(push_id=push_id, lease=lease)
    if claim.until is None:
        return claim.reason
    until = claim.until
    push = FulfillmentPush.objects.select_related("store", "order").get(pk=push_id)
    outcome = _attempt(push, until)
    fields: dict[str, Any] = {"next_attempt_at": None, **outcome.fields}
    state = outcome.state
    with transaction.atomic():
        current = FulfillmentPush.objects.select_for_update().filter(pk=push_id).values_list("lines", flat=True)
        if state in (PushState.PUSHED, PushState.ALREADY_FULFILLED) and list(current)[:1] != [push.lines]:
            state, fields["next_attempt_at"] = PushState.PENDING, timezone.now()  # more lines came meanwhile
        recorded = FulfillmentPush.objects.filter(pk=push_id, state=PushState.PUSHING, claimed_until=until).update(
            state=state, claimed_until=None, updated_at=timezone.now(), **fields
        )
        if not recorded and state == PushState.PUSHED:
            # Held past its time, yet the channel has the parcel from THIS try: what another worker
            # recorded (or is finding) is the same parcel; the real result, with its ids, wins.
            recorded = FulfillmentPush.objects.filter(
                pk=push_id, state__in=(PushState.PUSHING, PushState.ALREADY_FULFILLED)
            ).update(state=state, claimed_until=None, updated_at=timezone.now(), **fields)
        if recorded and outcome.event:
            _note(push, outcome.event, outcome.event_code)
    if not recorded:  # held past its time and taken by another worker: that one records
        logger.warning("fulfillment push %s: claim lost before its outcome (%s) was recorded", push_id, state)
        return "claim lost"
    return state


def fulfillment_pushes_due(*, limit: int = SWEEP_BATCH, lease: datetime | None = None) -> list[int]:
    """The pushes to run now: waiting and due, or held past their time (a worker died), oldest first;
    rows another sweep is reading are skipped. Each is leased (``next_attempt_at`` = ``lease``,
    default now + ``SWEEP_LEASE``) so the next sweep does not send it again while its run waits."""
    return pushes_due(limit=limit, lease=lease or timezone.now() + SWEEP_LEASE)


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
    push.error_code, push.last_error = "", ""
    push.save(
        update_fields=[
            "state",
            "attempts",
            "next_attempt_at",
            "claimed_until",
            "error_code",
            "last_error",
            "updated_at",
        ]
    )
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
