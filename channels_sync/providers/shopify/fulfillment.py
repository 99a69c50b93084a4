"""Fulfillment push-back to Shopify: ``fulfillmentCreate`` on the order's open fulfillment orders.

``push_fulfillment(provider, request, carrier_overrides=…)`` (the shapes: ``channels_sync.fulfillment``):

1. Read the order (``ShopifyClient.fulfillment_state``): its fulfillment orders with each line's
   remaining quantity, and its fulfillments with their tracking.
2. A fulfillment (not cancelled or failed) with this tracking number exists: ``AlreadyFulfilled``
   (our earlier push whose answer was lost, or the merchant typed it). A cancelled order, or a
   line that is not on the order: ``PushRefused``.
3. Map the parcel's lines (``LineItem`` ids, our ``channel_line_id``) onto the lines of the OPEN
   and IN_PROGRESS fulfillment orders, never more than remains; no lines: everything that remains.
   Nothing remains for those lines: ``AlreadyFulfilled`` (fulfilled by hand). Something remains
   only on fulfillment orders on hold or scheduled: ``PushRefused`` saying so.
4. One ``fulfillmentCreate`` per fulfillment order (Shopify takes several only when they share a
   location), each with ``trackingInfo`` (company: Shopify's exact name when the carrier maps to
   one, else the name as given plus the URL: ``carriers.carrier_for``) and ``notifyCustomer``.
   userErrors are ``PushRefused`` with Shopify's words. A mutation whose answer was lost
   (``OutcomeUnknown``) is looked up again by its tracking number: found, it was made; not found,
   a retryable error (the next push reads first, so it never fulfils twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from channels_sync.carriers import carrier_for, tracking_url_for
from channels_sync.fulfillment import AlreadyFulfilled, FulfillmentRequest, Pushed, PushRefused, PushResult
from channels_sync.providers.shopify.client import ShopifyClient, answer_list, answer_object, gid_number
from channels_sync.providers.shopify.provider import ShopifyProvider
from integrations.errors import OutcomeUnknown, ProviderError
from integrations.http import sanitize
from orders.enums import Channel

FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})  # fulfillment order statuses a fulfillment may be made on
WAITING = frozenset({"ON_HOLD", "SCHEDULED", "INCOMPLETE"})  # open later, not now
NOT_SHIPPED = frozenset({"CANCELLED", "ERROR", "FAILURE"})  # fulfillment statuses that shipped nothing


@dataclass(frozen=True)
class OpenLine:
    """A fulfillment order's line: its gid, the order's line it fulfils, what remains of it."""

    fulfillment_order_id: str
    status: str
    line_gid: str  # FulfillmentOrderLineItem gid
    channel_line_id: str  # the LineItem's number: our OrderLine.channel_line_id
    remaining: int


def open_lines(order: Mapping[str, Any]) -> list[OpenLine]:
    """Every line of every fulfillment order, read defensively (a line that cannot be read is an
    error naming it, never a guess)."""
    connection = answer_object(order.get("fulfillmentOrders"), "fulfillment orders")
    found: list[OpenLine] = []
    for node in answer_list(connection.get("nodes"), "fulfillment orders"):
        node = answer_object(node, "a fulfillment order")
        lines = answer_object(node.get("lineItems"), "a fulfillment order's lines")
        for item in answer_list(lines.get("nodes"), "a fulfillment order's lines"):
            item = answer_object(item, "a fulfillment order line")
            line = answer_object(item.get("lineItem"), "a fulfillment order line's line item")
            number = gid_number(line.get("id"), "LineItem")
            remaining = item.get("remainingQuantity")
            if number is None or not isinstance(item.get("id"), str) or not isinstance(node.get("id"), str):
                raise ProviderError(_("Shopify sent a fulfillment order line without its ids"))
            if isinstance(remaining, bool) or not isinstance(remaining, int) or remaining < 0:
                raise ProviderError(_("Shopify sent a fulfillment order line without a remaining quantity"))
            found.append(OpenLine(node["id"], str(node.get("status") or ""), item["id"], number, remaining))
    return found


def fulfillment_with_number(order: Mapping[str, Any], number: str) -> Mapping[str, Any] | None:
    """The order's fulfillment (one that shipped) carrying tracking ``number``, if any."""
    fulfillments = order.get("fulfillments")
    for made in fulfillments if isinstance(fulfillments, list) else []:
        if not isinstance(made, dict) or str(made.get("status") or "").upper() in NOT_SHIPPED:
            continue
        tracking = made.get("trackingInfo")
        numbers = [t.get("number") for t in tracking if isinstance(t, dict)] if isinstance(tracking, list) else []
        if number in numbers:
            return made
    return None


def wanted_lines(request: FulfillmentRequest, lines: list[OpenLine]) -> list[OpenLine]:
    """The fulfillment order lines to fulfil and how many of each (as ``remaining``): the parcel's
    lines spread over the lines that remain, never more than remains."""
    on_order = {line.channel_line_id for line in lines}
    unknown = [line.channel_line_id for line in request.lines if line.channel_line_id not in on_order]
    if unknown:
        raise PushRefused(
            "unknown_line",
            _("Shopify order %(order)s has no line %(line)s") % {"order": request.channel_order_id, "line": unknown[0]},
        )
    if not request.lines:
        return [line for line in lines if line.remaining > 0]
    asked: dict[str, int] = {}
    for part in request.lines:
        asked[part.channel_line_id] = asked.get(part.channel_line_id, 0) + max(0, part.quantity)
    chosen: list[OpenLine] = []
    for line in sorted(lines, key=lambda item: item.status not in FULFILLABLE):  # open ones first
        take = min(line.remaining, asked.get(line.channel_line_id, 0))
        if take > 0:
            asked[line.channel_line_id] -= take
            chosen.append(OpenLine(line.fulfillment_order_id, line.status, line.line_gid, line.channel_line_id, take))
    return chosen


def push_fulfillment(
    provider: ShopifyProvider, request: FulfillmentRequest, *, carrier_overrides: Mapping[str, str] | None = None
) -> PushResult:
    """Tell Shopify the parcel left (see the module docstring)."""
    client = provider.client
    order = _state(client, request)
    made = fulfillment_with_number(order, request.tracking_number)
    if made is not None:
        return AlreadyFulfilled(
            _("Shopify has fulfillment %(name)s with tracking number %(number)s already")
            % {"name": sanitize(str(made.get("name") or made.get("id") or ""), 40), "number": request.tracking_number}
        )
    if order.get("cancelledAt"):
        raise PushRefused("order_cancelled", _("The order is cancelled in Shopify: nothing was fulfilled"))
    chosen = wanted_lines(request, open_lines(order))
    if not chosen:
        return AlreadyFulfilled(_("Shopify has nothing left to fulfil for these lines (fulfilled in Shopify already)"))
    waiting = sorted({line.status for line in chosen if line.status not in FULFILLABLE})
    if waiting:
        raise PushRefused(
            f"fulfillment_order_{waiting[0].lower()}",
            _("Shopify holds these lines (fulfillment order %(status)s): release them in Shopify, then retry")
            % {"status": waiting[0]},
        )
    choice = carrier_for(Channel.SHOPIFY, request.carrier, carrier_overrides or {})
    url = request.tracking_url or (tracking_url_for(choice.name, request.tracking_number) if choice.url_needed else "")
    groups: dict[str, list[tuple[str, int]]] = {}
    for line in chosen:
        groups.setdefault(line.fulfillment_order_id, []).append((line.line_gid, line.remaining))
    made_ids = [
        _create(client, request, fulfillment_order_id, group, company=choice.name or "", url=url)
        for fulfillment_order_id, group in groups.items()
    ]
    return Pushed(",".join(made_ids), detail=choice.name or "")


def _state(client: ShopifyClient, request: FulfillmentRequest) -> Mapping[str, Any]:
    order = client.fulfillment_state(request.channel_order_id)
    if order is None:
        raise PushRefused("order_not_found", _("Shopify has no order %(order)s") % {"order": request.channel_order_id})
    return order


def _create(
    client: ShopifyClient,
    request: FulfillmentRequest,
    fulfillment_order_id: str,
    lines: list[tuple[str, int]],
    *,
    company: str,
    url: str,
) -> str:
    """One fulfillmentCreate; the fulfillment's number (a refusal raised as ``PushRefused``)."""
    try:
        payload = client.fulfillment_create_payload(
            fulfillment_order_id=fulfillment_order_id,
            tracking_number=request.tracking_number,
            tracking_company=company,
            tracking_url=url,
            lines=lines,
            notify_customer=request.notify_customer,
        )
    except OutcomeUnknown:
        made = fulfillment_with_number(_state(client, request), request.tracking_number)
        if made is None:
            raise ProviderError(
                _("Shopify did not say whether it made the fulfillment, and has none with this number: try again"),
                retryable=True,
            ) from None
        return gid_number(made.get("id"), "Fulfillment") or str(made.get("id"))
    refusal = _refusal(payload)
    if refusal is not None:
        raise refusal
    fulfillment = payload.get("fulfillment")
    number = gid_number(fulfillment.get("id"), "Fulfillment") if isinstance(fulfillment, dict) else None
    if number is None:
        raise ProviderError(_("Shopify sent no fulfillment"))
    return number


def _refusal(payload: Mapping[str, Any]) -> PushRefused | None:
    """``userErrors`` as one ``PushRefused``: the code is the first error's field path (or its
    code when Shopify sends one), the message Shopify's words (sanitised)."""
    problems = [item for item in answer_list(payload.get("userErrors") or [], "userErrors") if isinstance(item, dict)]
    if not problems:
        return None
    first = problems[0]
    field = first.get("field")
    code = first.get("code") or (".".join(str(part) for part in field) if isinstance(field, list) else "user_error")
    said = "; ".join(sanitize(str(item.get("message") or ""), 120) for item in problems[:3])
    return PushRefused(sanitize(str(code), 60) or "user_error", _("Shopify refused it: %(said)s") % {"said": said})
