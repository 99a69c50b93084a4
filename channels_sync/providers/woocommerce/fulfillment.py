"""Fulfillment push-back to WooCommerce: the order completed, and a note the customer sees.

Core WooCommerce has no fulfillments and no tracking field, so a parcel is told in two writes:
a customer-visible order note (``customer_note: true``: WooCommerce e-mails it) with the carrier,
the tracking number and the URL, and, once every line of the order has shipped, status
``completed``. What shipped is kept on the order itself, in its meta ``_zopi_parcels``
(tracking number → {line id: quantity}), so a split order completes with its last parcel and a
repeat is recognised; ``_tracking_number`` / ``_tracking_provider`` (the convention shipment
plugins read) carry the latest parcel.

``push_fulfillment(provider, request, carrier_overrides=…)``:

1. Read the order and its notes. Cancelled, refunded, failed or trashed: ``PushRefused``.
2. Our note for this number is there (a customer note, the first line ours with the whole number:
   a private note or a longer number containing it is not) and the parcel's lines are in
   ``_zopi_parcels``: ``AlreadyFulfilled`` (an earlier push). Completed, with neither:
   ``AlreadyFulfilled`` (completed by hand).
3. ``PUT orders/<id>`` the parcel into the meta (a later request for more lines of the same
   number adds them), with status completed when every line has shipped (repeatable: the same
   state again).
4. ``POST orders/<id>/notes``, unless our note is there. Before each write the runner's hold is
   checked (``still_ours``). Its answer lost (``OutcomeUnknown``): the
   notes are read again; not there, a retryable error (the next push adds it: step 2 sees the
   parcel without its note).

WooCommerce's refusals (``{"code", "message"}``, e.g. an unknown order id) are ``PushRefused``
with its code and words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from channels_sync.providers.woocommerce.client import WooCommerceClient
from channels_sync.providers.woocommerce.provider import WooCommerceProvider
from integrations.errors import OutcomeUnknown, ProviderError
from orders.enums import Channel

PARCELS_KEY = "_zopi_parcels"
NOT_SHIPPABLE = frozenset({"cancelled", "refunded", "failed", "trash", "checkout-draft"})
COMPLETED = "completed"


def order_lines(order: Mapping[str, Any]) -> dict[str, int]:
    """The order's line ids and quantities (a line that cannot be read is an error)."""
    items = order.get("line_items")
    if not isinstance(items, list):
        raise ProviderError(_("WooCommerce sent an order without its lines"))
    lines: dict[str, int] = {}
    for item in items:
        line_id = item.get("id") if isinstance(item, dict) else None
        quantity = item.get("quantity") if isinstance(item, dict) else None
        if isinstance(line_id, bool) or not isinstance(line_id, int | str) or isinstance(quantity, bool):
            raise ProviderError(_("WooCommerce sent an order line without its id"))
        lines[str(line_id)] = quantity if isinstance(quantity, int) and quantity > 0 else 0
    return lines


def parcels_of(order: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """``_zopi_parcels`` as we wrote it; anything else found there (a merchant's edit) reads as none."""
    meta = order.get("meta_data")
    entry = (
        next(
            (item for item in meta if isinstance(item, dict) and item.get("key") == PARCELS_KEY),
            None,
        )
        if isinstance(meta, list)
        else None
    )
    value = entry.get("value") if entry is not None else None
    if not isinstance(value, dict):
        return {}
    parcels: dict[str, dict[str, int]] = {}
    for number, lines in value.items():
        if isinstance(lines, dict):
            parcels[str(number)] = {
                str(line): count
                for line, count in lines.items()
                if isinstance(count, int) and not isinstance(count, bool)
            }
    return parcels


def our_note(notes: object, number: str, carrier: str | None = None) -> Mapping[str, Any] | None:
    """Our customer note for tracking ``number``: a note the customer sees (``customer_note``)
    whose first line is the one ``note_text`` writes for this number (with this carrier or none).
    A private note, another number that contains this one, or the merchant's own words are not it."""
    heads = {note_text(carrier=name, number=number, url="") for name in {carrier, None}}
    for note in notes if isinstance(notes, list) else []:
        if not isinstance(note, dict) or note.get("customer_note") is not True or not isinstance(note.get("note"), str):
            continue
        if note["note"].split("\n", 1)[0].strip() in heads:
            return note
    return None


def parcel_lines(request: FulfillmentRequest, lines: dict[str, int]) -> dict[str, int]:
    if not request.lines:
        return dict(lines)
    unknown = [line.channel_line_id for line in request.lines if line.channel_line_id not in lines]
    if unknown:
        raise PushRefused(
            "unknown_line",
            _("WooCommerce order %(order)s has no line %(line)s")
            % {"order": request.channel_order_id, "line": unknown[0]},
        )
    shipped: dict[str, int] = {}
    for line in request.lines:
        shipped[line.channel_line_id] = shipped.get(line.channel_line_id, 0) + max(0, line.quantity)
    return shipped


def every_line_shipped(lines: dict[str, int], parcels: dict[str, dict[str, int]]) -> bool:
    return all(sum(parcel.get(line, 0) for parcel in parcels.values()) >= count for line, count in lines.items())


def note_text(*, carrier: str | None, number: str, url: str) -> str:
    """The note the customer reads (in the language active when the push runs)."""
    if carrier:
        text = _("Your order has shipped. Carrier: %(carrier)s. Tracking number: %(number)s") % {
            "carrier": carrier,
            "number": number,
        }
    else:
        text = _("Your order has shipped. Tracking number: %(number)s") % {"number": number}
    return f"{text}\n{_('Track it here: %(url)s') % {'url': url}}" if url else text


def push_fulfillment(
    provider: WooCommerceProvider,
    request: FulfillmentRequest,
    *,
    carrier_overrides: Mapping[str, str] | None = None,
    still_ours: Callable[[], bool] | None = None,
) -> PushResult:
    """Tell WooCommerce the parcel left (see the module docstring)."""
    client = provider.client
    order_id = request.channel_order_id
    if not (order_id.isascii() and order_id.isdigit()):
        raise PushRefused("order_not_found", _("WooCommerce has no order %(order)s") % {"order": order_id})
    order = _refused_as_push(client, lambda: client.order(order_id))
    status = str(order.get("status") or "")
    if status in NOT_SHIPPABLE:
        raise PushRefused(
            f"order_{status}", _("The order is %(status)s in WooCommerce: nothing was sent") % {"status": status}
        )
    number = request.tracking_number
    parcels = parcels_of(order)
    choice = carrier_for(Channel.WOOCOMMERCE, request.carrier, carrier_overrides or {})
    notes = _refused_as_push(client, lambda: client.order_notes(order_id))
    note = our_note(notes, number, choice.name)
    lines = order_lines(order)
    wanted = _union(parcels.get(number, {}), parcel_lines(request, lines))
    new_lines = wanted != parcels.get(number)
    if note is not None and not new_lines and status == COMPLETED:
        return AlreadyFulfilled(_("WooCommerce has this tracking number in a note already"))
    if status == COMPLETED and number not in parcels and note is None:
        return AlreadyFulfilled(_("The order is completed in WooCommerce already"))
    if new_lines or (status != COMPLETED and every_line_shipped(lines, parcels)):
        parcels[number] = wanted  # a later request for more lines of this parcel adds them
        changes: dict[str, Any] = {
            "meta_data": [
                {"key": PARCELS_KEY, "value": parcels},
                {"key": "_tracking_number", "value": number},
                {"key": "_tracking_provider", "value": choice.name or ""},
            ]
        }
        if every_line_shipped(lines, parcels):
            changes["status"] = COMPLETED
        claim_check(still_ours)
        _refused_as_push(client, lambda: client.order_update(order_id, changes))
    elif note is not None:
        return AlreadyFulfilled(_("WooCommerce has this tracking number in a note already"))
    if note is None:
        url = request.tracking_url or tracking_url_for(choice.name, number)
        claim_check(still_ours)
        note = _note_add(client, order_id, note_text(carrier=choice.name, number=number, url=url), number, choice.name)
    return Pushed(str(note.get("id") or ""), detail=choice.name or "")


def _union(had: Mapping[str, int], asked: Mapping[str, int]) -> dict[str, int]:
    """The parcel's lines as kept, with the lines (and larger quantities) a request adds."""
    return {line: max(had.get(line, 0), asked.get(line, 0)) for line in {*had, *asked}}


def _note_add(
    client: WooCommerceClient, order_id: str, text: str, number: str, carrier: str | None
) -> Mapping[str, Any]:
    try:
        added = _refused_as_push(client, lambda: client.order_note_add(order_id, note=text, customer_note=True))
    except OutcomeUnknown:
        found = our_note(client.order_notes(order_id), number, carrier)
        if found is None:
            raise ProviderError(
                _("WooCommerce did not say whether it added the tracking note, and has none: try again"),
                retryable=True,
            ) from None
        return found
    return added if isinstance(added, dict) else {}


def _refused_as_push(client: WooCommerceClient, call: Callable[[], Any]) -> Any:
    """``call()``, a WooCommerce refusal (4xx with its code and message) raised as ``PushRefused``."""
    client.refusal = None
    try:
        return call()
    except ProviderError as error:
        if error.retryable or isinstance(error, OutcomeUnknown) or client.refusal is None:
            raise
        code, said = client.refusal
        message = _("WooCommerce refused it: %(said)s") % {"said": said or str(error)}
        raise PushRefused(code or f"http_{error.status}", message, status=error.status) from error
