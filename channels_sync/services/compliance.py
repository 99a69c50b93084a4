"""Shopify's mandatory compliance webhooks: stored on arrival, processed by a task.

Shopify sends ``customers/data_request``, ``customers/redact`` and ``shop/redact`` to one
address of the app (``/webhooks/shopify/compliance/``), signed with the app's client secret (the
previous one is accepted too while it is rotated).
Intake (``compliance_receive``) checks the size, the signature and the body, and stores the
request once per ``X-Shopify-Webhook-Id``; processing (``compliance_request_process``) finds the
shop's stores (``Store.shop_id`` is the myshopify domain; every account that connected the
shop) and does what the topic asks. The raw body names the customer: it is dropped once the
request is processed (kept on a failure of ours, for the replay after the fix).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_sync.enums import ComplianceState, ComplianceTopic, StoreStatus
from channels_sync.models import ChannelAuthorization, ComplianceRequest, ProviderAttempt, Store, WebhookDelivery
from channels_sync.providers.shopify.compliance import CompliancePayload, compliance_payload
from channels_sync.providers.shopify.oauth import app_secrets
from channels_sync.providers.shopify.provider import shopify_signed
from channels_sync.services.compliance_deliveries import deliveries_erase, deliveries_holding
from channels_sync.services.stores import store_forget
from integrations.errors import MalformedPayload
from integrations.fields import body_sha256
from integrations.http import header
from orders.enums import Channel
from orders.models import Order
from orders.services.redact import orders_erase_customer

logger = logging.getLogger(__name__)

# A compliance body names one customer and their order ids: 256 KiB holds ~15,000 of them.
MAX_BODY = 256 * 1024
# Attempts at processing before a request is failed (a bug of ours: it keeps its body for a replay).
MAX_ATTEMPTS = 5
# Stores that still sync: a shop/redact leaves them alone (a custom-app connection of the same
# shop, or the app installed again since); the outcome lists them for support.
CONNECTED = (StoreStatus.ACTIVE, StoreStatus.ERROR, StoreStatus.PAUSED, StoreStatus.CONNECTING)


@dataclass(frozen=True)
class ComplianceReceipt:
    status: int  # the HTTP status to answer
    message: str = ""  # why it was refused (plain text, no data of the request)
    request_id: int | None = None  # stored now: a task must process it


def compliance_receive(*, headers: Mapping[str, str], body: bytes) -> ComplianceReceipt:
    """Store one signed compliance webhook. In order: 400 for a body over ``MAX_BODY``; 401 when
    no Shopify app is configured or the signature is wrong (nothing stored); 400 for a topic that
    is not a compliance topic or a body that is not what the topic sends; 200 for a repeat of a
    stored request (ignored) and for a new one (stored, ``request_id`` to process)."""
    if len(body) > MAX_BODY:
        return ComplianceReceipt(400, f"body larger than {MAX_BODY} bytes")
    secrets = app_secrets()
    if not secrets:
        return ComplianceReceipt(401, "no Shopify app is configured")
    if not shopify_signed(body, header(headers, "X-Shopify-Hmac-Sha256"), secrets):
        return ComplianceReceipt(401, "invalid X-Shopify-Hmac-Sha256")
    topic = header(headers, "X-Shopify-Topic") or ""
    try:
        payload = compliance_payload(topic=topic, body=body)
    except MalformedPayload as error:
        return ComplianceReceipt(400, str(error))
    webhook_id = (header(headers, "X-Shopify-Webhook-Id") or "").strip()[:200] or f"sha256:{body_sha256(body)}"
    try:
        with transaction.atomic():
            request = ComplianceRequest.objects.create(
                topic=payload.topic,
                webhook_id=webhook_id,
                shop_domain=payload.shop_domain,
                channel_shop_id=payload.shop_id,
                channel_customer_id=payload.customer.id,
                data_request_id=payload.data_request_id,
                body=body,
            )
    except IntegrityError:
        return ComplianceReceipt(200)  # a redelivery: stored already
    return ComplianceReceipt(200, request_id=request.pk)


def compliance_request_process(*, request_id: int) -> str:
    """Do what a stored request asks, once: its state afterwards. Safe to run twice (a redo
    finds nothing more to erase); a processed or failed request is not worked on again."""
    claimed = ComplianceRequest.objects.filter(
        pk=request_id, state=ComplianceState.RECEIVED, attempts__lt=MAX_ATTEMPTS
    ).update(attempts=F("attempts") + 1)
    request = ComplianceRequest.objects.get(pk=request_id)
    if not claimed:
        if request.state == ComplianceState.RECEIVED:  # its attempts are used up: a bug of ours
            compliance_request_fail(request_id=request_id, error=f"gave up after {request.attempts} attempts")
            return ComplianceState.FAILED
        return str(request.state)
    try:
        payload = compliance_payload(topic=request.topic, body=bytes(request.body))
    except MalformedPayload as error:  # checked at intake: only a change of the rules gets here
        _finish(request, state=ComplianceState.FAILED, outcome={}, error=f"malformed: {error}")
        return ComplianceState.FAILED
    stores = stores_of_shop(payload.shop_domain)
    outcome = HANDLERS[payload.topic](payload, stores)
    _finish(request, state=ComplianceState.PROCESSED, outcome=outcome)
    return ComplianceState.PROCESSED


def compliance_request_fail(*, request_id: int, error: str) -> None:
    """A failure of ours: kept, with its body, for a replay after the fix."""
    ComplianceRequest.objects.filter(pk=request_id, state=ComplianceState.RECEIVED).update(
        state=ComplianceState.FAILED, error=error[:2000], processed_at=timezone.now()
    )


def compliance_requests_replay(*, request_ids: list[int]) -> list[int]:
    """Support's "process again": failed requests that still have their body (a failure of ours)
    go back to received and to the queue; returns the ids queued."""
    from channels_sync import tasks  # tasks import this module

    replayable = ComplianceRequest.objects.filter(pk__in=request_ids, state=ComplianceState.FAILED).exclude(body=b"")
    ids = list(replayable.values_list("pk", flat=True))
    ComplianceRequest.objects.filter(pk__in=ids).update(
        state=ComplianceState.RECEIVED, attempts=0, error="", processed_at=None
    )
    for request_id in ids:
        transaction.on_commit(partial(tasks.process_compliance_request.delay, request_id))
    return ids


def compliance_requests_stuck(*, older_than: timedelta) -> list[int]:
    """Requests still waiting after ``older_than`` (their task was lost): beat queues them again."""
    cutoff = timezone.now() - older_than
    waiting = ComplianceRequest.objects.filter(state=ComplianceState.RECEIVED, received_at__lt=cutoff)
    return list(waiting.values_list("pk", flat=True)[:500])


def _finish(request: ComplianceRequest, *, state: str, outcome: dict[str, Any], error: str = "") -> None:
    # The body goes with the outcome: what stays says what was done, not who it was for.
    ComplianceRequest.objects.filter(pk=request.pk, state=ComplianceState.RECEIVED).update(
        state=state, outcome=outcome, error=error[:2000], body=b"", processed_at=timezone.now()
    )


def stores_of_shop(shop_domain: str) -> list[Store]:
    """Every Shopify store of that shop, in any account (a store connected before its shop id was
    kept is matched by its domain)."""
    return list(
        Store.objects.filter(channel=Channel.SHOPIFY)
        .filter(Q(shop_id=shop_domain) | Q(shop_id="", domain__iexact=shop_domain))
        .select_related("account")
        .order_by("pk")
    )


def _customer_orders(store: Store, payload: CompliancePayload) -> QuerySet[Order]:
    """The store's orders the request names, and its other orders of that customer's e-mail (the
    customer id is not kept on orders). Order ids are matched as numbers and as GraphQL ids."""
    ids = [*payload.order_ids, *(f"gid://shopify/Order/{order_id}" for order_id in payload.order_ids)]
    match = Q(channel_order_id__in=ids)
    if payload.customer.email:
        match |= Q(customer_email__iexact=payload.customer.email)
    return Order.objects.filter(match, store=store)


def _store_ref(store: Store) -> dict[str, Any]:
    return {"store_id": store.pk, "store": store.name, "account_id": store.account_id}


def _customer_redact(payload: CompliancePayload, stores: list[Store]) -> dict[str, Any]:
    """Erase the customer from their orders in every store of the shop, and the bodies of the
    webhook deliveries that carried those orders."""
    results = []
    for store in stores:
        orders = dict(_customer_orders(store, payload).values_list("pk", "channel_order_id"))
        erased = orders_erase_customer(order_ids=list(orders), channel=str(Channel.SHOPIFY.label))
        bodies = deliveries_erase(store=store, order_ids=set(orders), channel_order_ids=set(orders.values()))
        results.append({**_store_ref(store), "orders": len(orders), "erased": list(erased.numbers), "bodies": bodies})
    return {"stores": results, "orders_named": len(payload.order_ids)}


# What an order keeps of its customer, as a data request's outcome names it.
_HELD_FIELDS = (("customer_name", "customer name"), ("customer_email", "customer e-mail"))


def _data_request(payload: CompliancePayload, stores: list[Store]) -> dict[str, Any]:
    """What we hold on the customer, for support to answer the merchant: stores, order numbers,
    which fields; nothing is sent anywhere."""
    held = []
    for store in stores:
        orders = list(
            _customer_orders(store, payload).values(
                "pk", "number", "channel_order_id", "customer_name", "customer_email"
            )
        )
        fields = {label for key, label in _HELD_FIELDS if any(order.get(key) for order in orders)}
        if fields:
            fields.add("search text")
        bodies = deliveries_holding(
            store=store,
            order_ids={order["pk"] for order in orders},
            channel_order_ids={order["channel_order_id"] for order in orders},
        )
        if bodies:
            fields.add("webhook bodies (name, e-mail, phone, addresses)")
        numbers = sorted(order["number"] for order in orders)
        held.append({**_store_ref(store), "orders": numbers, "fields": sorted(fields), "bodies": bodies})
    return {"held": held, "orders_named": len(payload.order_ids)}


def _shop_redact(payload: CompliancePayload, stores: list[Store]) -> dict[str, Any]:
    """Erase the shop's data in every store of it that no longer syncs: its orders' customers,
    its webhook deliveries and provider attempts, its secrets and its account's authorizations of
    the shop (``_authorizations_erase``). The orders stay, without their customers: their numbers
    and amounts are the merchant's bookkeeping, and paid supplier orders refer to them."""
    erased_stores, skipped = [], []
    for store in stores:
        if store.status in CONNECTED:
            skipped.append({**_store_ref(store), "status": store.status})
            continue
        order_ids = list(Order.objects.filter(store=store).values_list("pk", flat=True))
        erased = orders_erase_customer(order_ids=order_ids, channel=str(Channel.SHOPIFY.label))
        deliveries = WebhookDelivery.objects.filter(store=store).delete()[0]
        attempts = ProviderAttempt.objects.filter(store=store).delete()[0]
        _authorizations_erase(store, shop_domain=payload.shop_domain)
        store_forget(store_id=store.pk, reason=_("The shop's data was erased at Shopify's request."))
        erased_stores.append(
            {**_store_ref(store), "orders": len(erased.order_ids), "deliveries": deliveries, "attempts": attempts}
        )
    return {"erased": erased_stores, "skipped_still_connected": skipped}


def _authorizations_erase(store: Store, *, shop_domain: str) -> None:
    """The approvals of an erased store, and its account's spent ones of the shop that name no
    store (the install that made it; they may hold a grant). Another account's stay: its store of
    the shop may still sync, and the request erases only what no longer does. One under way is
    left to the merchant installing now."""
    spent = Q(
        account_id=store.account_id,
        channel=Channel.SHOPIFY,
        shop=shop_domain,
        store__isnull=True,
        used_at__isnull=False,
    )
    ChannelAuthorization.objects.filter(Q(store=store) | spent).delete()


HANDLERS: dict[str, Callable[[CompliancePayload, list[Store]], dict[str, Any]]] = {
    ComplianceTopic.DATA_REQUEST: _data_request,
    ComplianceTopic.CUSTOMER_REDACT: _customer_redact,
    ComplianceTopic.SHOP_REDACT: _shop_redact,
}
