"""Fulfillment push-back to TikTok Shop: ship the order's package(s) with the seller's own tracking.

``push_fulfillment(provider, request, carrier_overrides=…)``:

1. Read the order (``GET /order/202309/orders?ids=…``): its status and its line items, each one
   unit with the ``package_id`` it is in and that package's status and tracking number.
   Cancelled: ``PushRefused``; unpaid or on hold: ``PushRefused`` (not shippable yet).
2. The parcel's lines (our ``channel_line_id`` is the ``sku_id``, or ``sku_id@price``, with a count
   of units) pick the units, and so the packages: for each line, the units already shipped with
   THIS tracking number count first (an earlier push of this parcel whose answer was lost, or
   the same parcel asked again with more lines), and only what is left picks units still to
   fulfil. A package is shipped whole: one that holds a picked unit is shipped with the number.
   No lines: every package still to fulfil.
3. Nothing left to pick: ``AlreadyFulfilled`` (by hand in Seller Center, or by an earlier push of
   this parcel).
4. The carrier: ``carriers.carrier_for`` gives a name (an account's mapping may also give a
   provider id), matched (ignoring case and punctuation) against the shipping providers of the
   order's delivery option (``GET /logistics/202309/delivery_options/<id>/shipping_providers``;
   without one, of every delivery option of the order's warehouse). None matches: ``PushRefused``
   naming the carrier name to map and the providers there are.
5. ``POST /fulfillment/202309/packages/<id>/ship`` with ``self_shipment {tracking_number,
   shipping_provider_id}`` per package, the runner's hold checked before each (``still_ours``). A
   refusal (envelope code ≠ 0, not retryable) is ``PushRefused`` with TikTok Shop's code and words;
   a lost answer (``OutcomeUnknown``) is looked up by reading the order again: shipped with this
   number, it was done; otherwise a retryable error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from channels_sync.carriers import carrier_for, carrier_key
from channels_sync.fulfillment import (
    AlreadyFulfilled,
    FulfillmentRequest,
    Pushed,
    PushRefused,
    PushResult,
    claim_check,
)
from channels_sync.providers.tiktok.client import TikTokClient
from channels_sync.providers.tiktok.provider import TikTokProvider
from integrations.errors import MalformedPayload, OutcomeUnknown, ProviderError
from integrations.fields import money, optional_ident
from integrations.http import sanitize
from orders.enums import Channel

TO_FULFILL = "TO_FULFILL"
NOT_YET = frozenset({"UNPAID", "ON_HOLD"})


@dataclass(frozen=True)
class Unit:
    """One line item of a TikTok order: one unit, in one package."""

    line_ids: tuple[str, str]  # ``sku_id`` and ``sku_id@price``: how our lines name it
    package_id: str
    package_status: str
    tracking_number: str


def units_of(order: Mapping[str, Any]) -> list[Unit]:
    items = order.get("line_items")
    if not isinstance(items, list):
        raise ProviderError(_("TikTok Shop sent an order without its line items"))
    units: list[Unit] = []
    for item in items:
        if not isinstance(item, dict):
            raise ProviderError(_("TikTok Shop sent a line item that is not an object"))
        sku_id, package_id = optional_ident(item, "sku_id"), optional_ident(item, "package_id")
        try:  # as the mapping writes it into ``channel_line_id`` (``<sku_id>@<price>``)
            price = str(money(item, "sale_price", "TikTok Shop line item"))
        except MalformedPayload:
            price = ""
        units.append(
            Unit(
                line_ids=(sku_id, f"{sku_id}@{price}"),
                package_id=package_id,
                package_status=str(item.get("package_status") or ""),
                tracking_number=str(item.get("tracking_number") or ""),
            )
        )
    return units


def packages_for(request: FulfillmentRequest, units: list[Unit]) -> dict[str, Unit]:
    """The packages still to ship (id → one of its units) for the parcel's units: for each line,
    the units already shipped with THIS tracking number count first against its quantity; only
    what is left picks units still to fulfil (never a second package for the same units)."""
    if not request.lines:
        return {unit.package_id: unit for unit in units if unit.package_id and unit.package_status == TO_FULFILL}
    asked: dict[str, int] = {}
    for line in request.lines:
        if not any(line.channel_line_id in unit.line_ids for unit in units):
            raise PushRefused(
                "unknown_line",
                _("TikTok Shop order %(order)s has no line %(line)s")
                % {"order": request.channel_order_id, "line": line.channel_line_id},
            )
        asked[line.channel_line_id] = asked.get(line.channel_line_id, 0) + max(0, line.quantity)
    taken: set[int] = set()  # units counted for a line already (one SKU may be named twice)
    chosen: dict[str, Unit] = {}
    for line_id, quantity in asked.items():
        matching = [(n, unit) for n, unit in enumerate(units) if line_id in unit.line_ids and n not in taken]
        ours = [n for n, unit in matching if _shipped_with(unit, request.tracking_number)][:quantity]
        taken.update(ours)
        left = quantity - len(ours)
        to_ship = [(n, unit) for n, unit in matching if unit.package_status == TO_FULFILL and unit.package_id]
        for n, unit in to_ship[: max(0, left)]:
            taken.add(n)
            chosen.setdefault(unit.package_id, unit)
    return chosen


def _shipped_with(unit: Unit, number: str) -> bool:
    return unit.package_status != TO_FULFILL and unit.tracking_number == number


def _shipped_numbers(request: FulfillmentRequest, units: list[Unit]) -> str:
    """The tracking numbers of the parcel's units' packages that shipped (for the message)."""
    ids = {line.channel_line_id for line in request.lines}
    named = [unit for unit in units if not ids or ids & set(unit.line_ids)]
    return ", ".join(sorted({u.tracking_number for u in named if u.tracking_number and u.package_status != TO_FULFILL}))


def provider_id_for(name: str, providers: object) -> str | None:
    """The id of the shipping provider called ``name`` (or whose id it is) in TikTok's list."""
    for item in providers if isinstance(providers, list) else []:
        provider_id = optional_ident(item, "id") if isinstance(item, dict) else ""
        if provider_id and (name == provider_id or carrier_key(str(item.get("name") or "")) == carrier_key(name)):
            return provider_id
    return None


def push_fulfillment(
    provider: TikTokProvider,
    request: FulfillmentRequest,
    *,
    carrier_overrides: Mapping[str, str] | None = None,
    still_ours: Callable[[], bool] | None = None,
) -> PushResult:
    """Tell TikTok Shop the parcel left (see the module docstring)."""
    client = provider.client
    order = _order(client, request)
    status = str(order.get("status") or "")
    if status == "CANCELLED":
        raise PushRefused("order_cancelled", _("The order is cancelled in TikTok Shop: nothing was shipped"))
    if status in NOT_YET:
        raise PushRefused(
            f"order_{status.lower()}",
            _("TikTok Shop does not let this order ship yet (%(status)s)") % {"status": status},
        )
    units = units_of(order)
    to_ship = list(packages_for(request, units))
    if not to_ship:
        shipped = _shipped_numbers(request, units)
        return AlreadyFulfilled(
            _("TikTok Shop has the package(s) shipped already (tracking %(numbers)s)") % {"numbers": shipped or "—"}
        )
    provider_id = _provider_id(client, order, request, carrier_overrides or {})
    for package_id in to_ship:
        claim_check(still_ours)
        _ship(client, request, package_id, provider_id)
    return Pushed(",".join(to_ship), detail=provider_id)


def _order(client: TikTokClient, request: FulfillmentRequest) -> Mapping[str, Any]:
    order_id = request.channel_order_id
    data = client.orders_by_ids([order_id]) if order_id.isascii() and order_id.isdigit() else {}
    orders = data.get("orders") if isinstance(data, dict) else None
    found = (
        [o for o in orders if isinstance(o, dict) and str(o.get("id")) == order_id] if isinstance(orders, list) else []
    )
    if not found:
        raise PushRefused("order_not_found", _("TikTok Shop has no order %(order)s") % {"order": order_id})
    return found[0]


def _provider_id(
    client: TikTokClient, order: Mapping[str, Any], request: FulfillmentRequest, overrides: Mapping[str, str]
) -> str:
    name = carrier_for(Channel.TIKTOK, request.carrier, overrides).name or ""
    option_ids = [optional_ident(order, "delivery_option_id")]
    if not option_ids[0]:
        warehouse_id = optional_ident(order, "warehouse_id")
        options = client.delivery_options(warehouse_id).get("delivery_options") if warehouse_id else None
        option_ids = (
            [optional_ident(o, "id") for o in options if isinstance(o, dict)] if isinstance(options, list) else []
        )
    names: list[str] = []
    for option_id in [option for option in option_ids if option]:
        data = client.shipping_providers(option_id)
        providers = data.get("shipping_providers") if isinstance(data, dict) else None
        found = provider_id_for(name, providers) if name else None
        if found:
            return found
        names += [str(p.get("name")) for p in providers if isinstance(p, dict)] if isinstance(providers, list) else []
    listed = ", ".join(sanitize(n, 40) for n in names[:12]) or "—"
    raise PushRefused(
        "unknown_carrier",
        _(
            "TikTok Shop has no shipping provider for the carrier “%(carrier)s”: map “%(carrier)s” to one of "
            "TikTok Shop's providers in the carrier mapping (%(providers)s)"
        )
        % {"carrier": sanitize(request.carrier, 60) or "—", "providers": listed},
    )


def _ship(client: TikTokClient, request: FulfillmentRequest, package_id: str, provider_id: str) -> None:
    def ship() -> Any:
        return client.package_ship(
            package_id, tracking_number=request.tracking_number, shipping_provider_id=provider_id
        )

    try:
        _refused_as_push(client, ship)
    except OutcomeUnknown:
        units = [unit for unit in units_of(_order(client, request)) if unit.package_id == package_id]
        if not any(
            unit.package_status != TO_FULFILL and unit.tracking_number == request.tracking_number for unit in units
        ):
            raise ProviderError(
                _("TikTok Shop did not say whether it shipped package %(package)s, and shows it unshipped: try again")
                % {"package": package_id},
                retryable=True,
            ) from None


def _refused_as_push(client: TikTokClient, call: Callable[[], Any]) -> Any:
    """``call()``, a refusal in TikTok Shop's envelope (a code, not retryable) raised as ``PushRefused``."""
    client.refusal_code = ""
    try:
        return call()
    except ProviderError as error:
        if error.retryable or isinstance(error, OutcomeUnknown) or not client.refusal_code:
            raise
        raise PushRefused(client.refusal_code, str(error), status=error.status) from error
