"""Fulfillment push-back to Shopify: ``fulfillmentCreate`` on the order's open fulfillment orders.

``push_fulfillment(provider, request, carrier_overrides=…)`` (the shapes: ``channels_sync.fulfillment``):

1. Read the order (``ShopifyClient.fulfillment_state``): its fulfillment orders with each line's
   remaining quantity, and its fulfillments with their tracking.
2. What the fulfillments (not cancelled or failed) carrying this tracking number fulfilled
   already, line by line (our earlier push whose answer was lost, part of a parcel spread over
   several fulfillment orders, or the merchant typed it), is taken off the parcel's lines; nothing
   left: ``AlreadyFulfilled`` (a parcel without lines: any fulfillment with the number). A later
   request for more lines of the same parcel fulfils only the new ones. A cancelled order, or a
   line that is not on the order: ``PushRefused``. The read covers 5 fulfillment orders of 50
   lines and 10 fulfillments of 20 lines; an order with more is refused (fulfil it in Shopify).
3. Map the parcel's lines (``LineItem`` ids, our ``channel_line_id``) onto the lines of the OPEN
   and IN_PROGRESS fulfillment orders, never more than remains; no lines: everything that remains.
   Nothing remains for those lines: ``AlreadyFulfilled`` (fulfilled by hand). Something remains
   only on fulfillment orders on hold or scheduled: ``PushRefused`` saying so.
4. One ``fulfillmentCreate`` per fulfillment order (Shopify takes several only when they share a
   location), each with ``trackingInfo`` (company: Shopify's exact name when the carrier maps to
   one, else the name as given plus the URL: ``carriers.carrier_for``) and ``notifyCustomer``.
   userErrors are ``PushRefused`` with Shopify's words. A mutation whose answer was lost
   (``OutcomeUnknown``) is looked up again: a fulfillment with this number, not seen before, holding
   that fulfillment order's lines, was made; none, a retryable error (the next push reads first, so
   it never fulfils twice). Before each fulfillmentCreate the runner's hold is checked
   (``still_ours``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from channels_sync.carriers import carrier_for, tracking_url_for
from channels_sync.fulfillment import (
    AlreadyFulfilled,
    FulfillmentRequest,
    Pushed,
    PushRefused,
    PushResult,
    claim_check,
)
from channels_sync.providers.shopify.client import ShopifyClient, answer_list, answer_object, gid_number
from channels_sync.providers.shopify.provider import ShopifyProvider
from integrations.errors import OutcomeUnknown, ProviderError
from integrations.http import sanitize
from orders.enums import Channel

FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})  # fulfillment order statuses a fulfillment may be made on
WAITING = frozenset({"ON_HOLD", "SCHEDULED", "INCOMPLETE"})  # open later, not now
NOT_SHIPPED = frozenset({"CANCELLED", "ERROR", "FAILURE"})  # fulfillment statuses that shipped nothing
FULFILLMENTS_READ = 10  # queries.FULFILLMENT_ORDERS reads this many; as many back: there may be more


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
        if _more(connection) or _more(lines):
            raise PushRefused(
                "too_many_fulfillment_orders",
                _("The Shopify order has more fulfillment orders or lines than we read: fulfil this parcel in Shopify"),
            )
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


def _shipped(order: Mapping[str, Any], number: str) -> list[Mapping[str, Any]]:
    """The order's fulfillments (ones that shipped) carrying tracking ``number``."""
    fulfillments = order.get("fulfillments")
    if isinstance(fulfillments, list) and len(fulfillments) >= FULFILLMENTS_READ:
        raise PushRefused(
            "too_many_fulfillments",
            _("The Shopify order has more fulfillments than we read (%(n)s): fulfil this parcel in Shopify")
            % {"n": FULFILLMENTS_READ},
        )
    found: list[Mapping[str, Any]] = []
    for made in fulfillments if isinstance(fulfillments, list) else []:
        if not isinstance(made, dict) or str(made.get("status") or "").upper() in NOT_SHIPPED:
            continue
        tracking = made.get("trackingInfo")
        numbers = [t.get("number") for t in tracking if isinstance(t, dict)] if isinstance(tracking, list) else []
        if number in numbers:
            found.append(made)
    return found


def fulfillment_with_number(order: Mapping[str, Any], number: str) -> Mapping[str, Any] | None:
    """The order's first fulfillment (one that shipped) carrying tracking ``number``, if any."""
    found = _shipped(order, number)
    return found[0] if found else None


def fulfilled_lines(made: Mapping[str, Any]) -> dict[str, int]:
    """A fulfillment's quantities by line (``LineItem`` number); a line that cannot be read is an error."""
    connection = answer_object(made.get("fulfillmentLineItems"), "a fulfillment's lines")
    if _more(connection):
        raise PushRefused(
            "too_many_lines", _("A Shopify fulfillment has more lines than we read: fulfil this parcel in Shopify")
        )
    quantities: dict[str, int] = {}
    for item in answer_list(connection.get("nodes"), "a fulfillment's lines"):
        item = answer_object(item, "a fulfillment line")
        number = gid_number(answer_object(item.get("lineItem"), "a fulfillment line's item").get("id"), "LineItem")
        quantity = item.get("quantity")
        if number is None or isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise ProviderError(_("Shopify sent a fulfillment line without its line or quantity"))
        quantities[number] = quantities.get(number, 0) + quantity
    return quantities


def fulfilled_with_number(order: Mapping[str, Any], number: str) -> dict[str, int]:
    """What the order's fulfillments carrying ``number`` fulfilled already, by line."""
    total: dict[str, int] = {}
    for made in _shipped(order, number):
        for line_id, quantity in fulfilled_lines(made).items():
            total[line_id] = total.get(line_id, 0) + quantity
    return total


def _more(connection: Mapping[str, Any]) -> bool:
    info = connection.get("pageInfo")
    return isinstance(info, dict) and info.get("hasNextPage") is True


def left_to_fulfil(request: FulfillmentRequest, done: Mapping[str, int]) -> dict[str, int] | None:
    """The parcel's quantities by line once what this tracking number fulfilled already is taken
    off (None: the parcel names no lines, everything that remains)."""
    if not request.lines:
        return None
    asked: dict[str, int] = {}
    for part in request.lines:
        asked[part.channel_line_id] = asked.get(part.channel_line_id, 0) + max(0, part.quantity)
    return {line_id: max(0, count - done.get(line_id, 0)) for line_id, count in asked.items()}


def wanted_lines(
    request: FulfillmentRequest, lines: list[OpenLine], left: Mapping[str, int] | None = None
) -> list[OpenLine]:
    """The fulfillment order lines to fulfil and how many of each (as ``remaining``): the parcel's
    lines (``left``, what is still to fulfil of each, when given) spread over the lines that
    remain, never more than remains."""
    on_order = {line.channel_line_id for line in lines}
    unknown = [line.channel_line_id for line in request.lines if line.channel_line_id not in on_order]
    if unknown:
        raise PushRefused(
            "unknown_line",
            _("Shopify order %(order)s has no line %(line)s") % {"order": request.channel_order_id, "line": unknown[0]},
        )
    if not request.lines:
        return [line for line in lines if line.remaining > 0]
    asked = dict(left) if left is not None else (left_to_fulfil(request, {}) or {})
    chosen: list[OpenLine] = []
    for line in sorted(lines, key=lambda item: item.status not in FULFILLABLE):  # open ones first
        take = min(line.remaining, asked.get(line.channel_line_id, 0))
        if take > 0:
            asked[line.channel_line_id] -= take
            chosen.append(OpenLine(line.fulfillment_order_id, line.status, line.line_gid, line.channel_line_id, take))
    return chosen


def push_fulfillment(
    provider: ShopifyProvider,
    request: FulfillmentRequest,
    *,
    carrier_overrides: Mapping[str, str] | None = None,
    still_ours: Callable[[], bool] | None = None,
) -> PushResult:
    """Tell Shopify the parcel left (see the module docstring)."""
    client = provider.client
    order = _state(client, request)
    done = fulfilled_with_number(order, request.tracking_number)
    left = left_to_fulfil(request, done)
    made = fulfillment_with_number(order, request.tracking_number)
    if made is not None and (left is None or not any(left.values())):
        return AlreadyFulfilled(
            _("Shopify has fulfillment %(name)s with tracking number %(number)s already")
            % {"name": sanitize(str(made.get("name") or made.get("id") or ""), 40), "number": request.tracking_number}
        )
    if order.get("cancelledAt"):
        raise PushRefused("order_cancelled", _("The order is cancelled in Shopify: nothing was fulfilled"))
    chosen = wanted_lines(request, open_lines(order), left)
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
    groups: dict[str, list[OpenLine]] = {}
    for line in chosen:
        groups.setdefault(line.fulfillment_order_id, []).append(line)
    known = {str(item.get("id")) for item in _shipped(order, request.tracking_number)}
    made_ids: list[str] = []
    for group in groups.values():
        claim_check(still_ours)
        made_ids.append(_create(client, request, group, known, company=choice.name or "", url=url))
    return Pushed(",".join(made_ids), detail=choice.name or "")


def _state(client: ShopifyClient, request: FulfillmentRequest) -> Mapping[str, Any]:
    order = client.fulfillment_state(request.channel_order_id)
    if order is None:
        raise PushRefused("order_not_found", _("Shopify has no order %(order)s") % {"order": request.channel_order_id})
    return order


def _create(
    client: ShopifyClient,
    request: FulfillmentRequest,
    group: list[OpenLine],
    known: set[str],
    *,
    company: str,
    url: str,
) -> str:
    """One fulfillmentCreate on one fulfillment order; the fulfillment's number (a refusal raised as
    ``PushRefused``). ``known``: the ids of the fulfillments with this number seen so far (ours
    made in this run are added), so a lost answer is looked up as a NEW fulfillment of these lines."""
    try:
        payload = client.fulfillment_create_payload(
            fulfillment_order_id=group[0].fulfillment_order_id,
            tracking_number=request.tracking_number,
            tracking_company=company,
            tracking_url=url,
            lines=[(line.line_gid, line.remaining) for line in group],
            notify_customer=request.notify_customer,
        )
    except OutcomeUnknown:
        made = _made_for(_state(client, request), request.tracking_number, group, known)
        if made is None:
            raise ProviderError(
                _("Shopify did not say whether it made the fulfillment, and has none with this number: try again"),
                retryable=True,
            ) from None
        known.add(str(made.get("id")))
        return gid_number(made.get("id"), "Fulfillment") or str(made.get("id"))
    refusal = _refusal(payload)
    if refusal is not None:
        raise refusal
    fulfillment = payload.get("fulfillment")
    number = gid_number(fulfillment.get("id"), "Fulfillment") if isinstance(fulfillment, dict) else None
    if number is None:
        raise ProviderError(_("Shopify sent no fulfillment"))
    known.add(str(fulfillment.get("id")) if isinstance(fulfillment, dict) else "")
    return number


def _made_for(
    order: Mapping[str, Any], number: str, group: list[OpenLine], known: set[str]
) -> Mapping[str, Any] | None:
    """A fulfillment with ``number``, not one seen before, holding this fulfillment order's lines."""
    wanted = {line.channel_line_id: line.remaining for line in group}
    for made in _shipped(order, number):
        if str(made.get("id")) in known:
            continue
        lines = fulfilled_lines(made)
        if all(lines.get(line_id, 0) >= count for line_id, count in wanted.items()):
            return made
    return None


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
