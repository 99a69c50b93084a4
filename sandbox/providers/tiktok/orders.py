"""TikTok Shop order state: customers ordering (control API and world ticks), the seller shipping
packages, carriers delivering them, and an ORDER_STATUS_CHANGE webhook for every status change.
"""

from __future__ import annotations

import json
import random
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from sandbox.clock import sim_now
from sandbox.enums import Provider
from sandbox.models import ChannelOrder, Fulfillment, Parcel, SimAccount
from sandbox.providers._state import counter_take, options_update
from sandbox.providers.tiktok import render
from sandbox.providers.tiktok.render import digits_id
from sandbox.providers.tiktok.sellers import webhook_signer
from sandbox.providers.tiktok.signing import webhook_authorization
from sandbox.registry import PROVIDERS
from sandbox.sim import carriers, channels
from sandbox.sim.purchases import Purchase, purchase_draw
from sandbox.webhooks import webhook_enqueue

HOLD = timedelta(hours=1)  # buyers may cancel in the first hour (ON_HOLD)
UNPAID_TIMEOUT = timedelta(hours=24)
COMPLETE_AFTER_DELIVERY = timedelta(days=7)
ORDER_STATUS_CHANGE = 1
WEBHOOK_ATTEMPTS = 5


def webhook_emit(order: ChannelOrder) -> None:
    """ORDER_STATUS_CHANGE to the shop's webhook address (set in the app dashboard: the control API)."""
    account = order.account
    url = account.options.get("webhook_url")
    if not url:
        return
    payload = {
        "type": ORDER_STATUS_CHANGE,
        "tts_notification_id": digits_id("73", secrets.token_hex(8), 19),
        "shop_id": account.credentials["shop_id"],
        "timestamp": int(order.updated_at.timestamp()),
        "data": {
            "order_id": order.external_id,
            "order_status": order.status,
            "is_on_hold_order": order.status == render.ON_HOLD,
            "update_time": int(order.updated_at.timestamp()),
        },
    }
    body = json.dumps(payload, separators=(",", ":"))
    app_key, app_secret = webhook_signer(account)
    signature = webhook_authorization(app_key=app_key, app_secret=app_secret, body=body.encode())
    webhook_enqueue(
        account=account,
        topic="ORDER_STATUS_CHANGE",
        url=url,
        body=body,
        headers={"Authorization": signature},
        max_attempts=WEBHOOK_ATTEMPTS,
    )


def _set_status(order: ChannelOrder, status: str, when: datetime) -> None:
    order.status, order.updated_at = status, when
    order.save()
    webhook_emit(order)


def _purchase_for(account: SimAccount, key: str) -> tuple[str, Purchase]:
    """A purchase shipped to the shop's region; ``seed`` can recreate it (for a Shopify twin)."""
    region = account.options.get("region", "US")
    for attempt in range(50):
        seed = f"{key}-{attempt}"
        purchase = purchase_draw(f"{seed}:0")
        if purchase.address.get("country_code") == region:
            return seed, purchase
    return seed, purchase


def _order_build(
    account: SimAccount, seq: int, purchase: Purchase, status: str, split: str, now: datetime
) -> ChannelOrder:
    order_id = digits_id("576", f"{account.name}:order:{seq}")
    lines: list[dict[str, Any]] = []
    for line in purchase.lines:
        for unit in range(line.quantity):  # TikTok: one line item per unit
            lines.append(
                {
                    "id": digits_id("577", f"{order_id}:{len(lines)}"),
                    "product_id": digits_id("1729", f"product:{line.product_id}", 19),
                    "variant_id": digits_id("1730", f"sku:{line.variant_id}", 19),
                    "sku": line.sku,
                    "title": line.title,
                    "variant_title": line.variant_title,
                    "quantity": 1,
                    "price": line.price,
                    "unit": unit,
                }
            )
    groups: dict[str, list[str]] = {}
    for unit_line in lines:
        key = unit_line["id"] if split == "units" else unit_line["variant_id"] if split else "all"
        groups.setdefault(key, []).append(unit_line["id"])
    packages: list[dict[str, Any]] = [
        {"id": digits_id("1152", f"{order_id}:package:{n}", 19), "line_item_ids": ids, "status": "TO_FULFILL"}
        for n, ids in enumerate(groups.values())
    ]
    paid = status != render.UNPAID
    return ChannelOrder.objects.create(
        account=account,
        external_id=order_id,
        number=order_id,
        customer={**purchase.customer, "user_id": digits_id("70", f"{purchase.customer['email']}", 19)},
        address=purchase.address,
        lines=lines,
        currency=purchase.currency,
        total=purchase.total,
        financial_status="paid" if paid else "unpaid",
        status=status,
        extra={
            "packages": packages,
            "package_ids": ",".join(package["id"] for package in packages),  # for lookups on any database
            "user_id": digits_id("70", purchase.customer["email"], 19),
            "paid_time": int(now.timestamp()) if paid else None,
            "sub_total": str(purchase.subtotal),
            "shipping_fee": str(purchase.shipping),
            "tax": "0.00",
        },
        created_at=now,
        updated_at=now,
    )


def _shopify_twin(shop_name: str, tiktok: ChannelOrder, seed: str) -> None:
    """The same purchase seen through a linked Shopify shop (TikTok's Shopify sales channel app)."""
    spec = PROVIDERS[Provider.SHOPIFY]
    shop, _ = SimAccount.objects.get_or_create(
        provider=Provider.SHOPIFY, name=shop_name, defaults={"credentials": spec.make_credentials(shop_name)}
    )
    assert spec.create_orders is not None
    (shopify_id,) = spec.create_orders(
        shop,
        count=1,
        seed=seed,
        source_name="tiktok",
        tags="TikTok",
        note_attributes=[{"name": "tiktok_order_id", "value": tiktok.external_id}],
    )
    ChannelOrder.objects.filter(account=shop, external_id=shopify_id).update(linked_purchase_id=tiktok.external_id)
    ChannelOrder.objects.filter(pk=tiktok.pk).update(linked_purchase_id=tiktok.external_id)


def create_orders(
    account: SimAccount,
    *,
    count: int,
    seed: int,
    status: str = render.AWAITING_SHIPMENT,
    split_packages: bool | str = False,
    also_in_shopify: str | None = None,
    also_in_shopify_ratio: float = 1.0,
    **_: Any,
) -> list[str]:
    """``count`` new paid orders (the control API), the same for the same seed.

    ``status``: UNPAID, ON_HOLD or AWAITING_SHIPMENT (default); ``split_packages``: one package per
    SKU (``"units"``: one per unit, so one SKU of two units is in two packages); ``also_in_shopify``:
    a Shopify shop name where (a ``also_in_shopify_ratio`` share of) the orders also appear as the
    same purchase (note attribute ``tiktok_order_id``, source "tiktok").
    """
    status = status if status in (render.UNPAID, render.ON_HOLD, render.AWAITING_SHIPMENT) else render.AWAITING_SHIPMENT
    now = sim_now()
    first = counter_take(account, "order_seq", start=1, count=count)
    twins = random.Random(f"tiktok-twins:{seed}")
    created: list[str] = []
    with transaction.atomic():
        for index in range(count):
            purchase_seed, purchase = _purchase_for(account, f"tiktok-{account.name}-{seed}-{index}")
            order = _order_build(
                account,
                first + index,
                purchase,
                status,
                "units" if split_packages == "units" else "sku" if split_packages else "",
                now,
            )
            webhook_emit(order)
            if also_in_shopify and twins.random() < float(also_in_shopify_ratio):
                _shopify_twin(str(also_in_shopify), order, purchase_seed)
            created.append(order.external_id)
    return created


class ShipError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


PACKAGE_NOT_FOUND, PACKAGE_SHIPPED, ORDER_NOT_SHIPPABLE, BAD_PROVIDER = 21011001, 21011002, 21011003, 21011004
MAX_TRACKING_LENGTH = 64


def _aggregate_status(order: ChannelOrder) -> str:
    shipped = [p for p in order.extra["packages"] if p["status"] != "TO_FULFILL"]
    if len(shipped) < len(order.extra["packages"]):
        return render.PARTIALLY_SHIPPING if shipped else render.AWAITING_SHIPMENT
    return (
        render.AWAITING_COLLECTION
        if any(p.get("display_status") == render.AWAITING_COLLECTION for p in shipped)
        else render.IN_TRANSIT
    )


@transaction.atomic
def package_ship(*, account: SimAccount, package_id: str, body: dict[str, Any]) -> ChannelOrder:
    """POST /fulfillment/202309/packages/{id}/ship: the seller's own tracking (self_shipment) or a pickup."""
    candidates = account.channel_orders.filter(extra__package_ids__icontains=package_id) if package_id.isdigit() else []
    order = next((o for o in candidates if any(p["id"] == package_id for p in o.extra["packages"])), None)
    if order is None:
        raise ShipError(PACKAGE_NOT_FOUND, f"Package {package_id} does not exist.")
    order = ChannelOrder.objects.select_for_update(of=("self",)).select_related("account").get(pk=order.pk)
    package = next(p for p in order.extra["packages"] if p["id"] == package_id)
    # A cancelled order's packages are cancelled, not "already shipped".
    if order.status == render.CANCELLED or package["status"] == "CANCELLED":
        raise ShipError(ORDER_NOT_SHIPPABLE, f"The order status {order.status} does not allow shipping.")
    if package["status"] != "TO_FULFILL":
        raise ShipError(PACKAGE_SHIPPED, "The package has already been shipped.")
    if order.status not in render.SHIPPABLE:
        raise ShipError(ORDER_NOT_SHIPPABLE, f"The order status {order.status} does not allow shipping.")
    now = sim_now()
    self_shipment = body.get("self_shipment")
    if self_shipment is not None:
        number = str(self_shipment.get("tracking_number") or "") if isinstance(self_shipment, dict) else ""
        if not 0 < len(number) <= MAX_TRACKING_LENGTH:
            raise ShipError(36009004, "self_shipment.tracking_number is required (at most 64 characters).")
        provider_id = str(self_shipment.get("shipping_provider_id", ""))
        if provider_id not in render.SHIPPING_PROVIDERS:
            raise ShipError(BAD_PROVIDER, "The shipping_provider_id is invalid.")
        display = render.IN_TRANSIT
    else:  # shipped with TikTok's own logistics: a label is made and a courier collects it
        provider_id = next(k for k, v in render.SHIPPING_PROVIDERS.items() if v == "USPS")
        rng = random.Random(f"tiktok-label:{package_id}")
        parcel = carriers.parcel_create(carrier=carriers.CARRIERS["usps"], country_code="US", now=now, rng=rng)
        number, display = parcel.number, render.AWAITING_COLLECTION
    package.update(
        status="PROCESSING" if display == render.AWAITING_COLLECTION else "FULFILLING",
        display_status=display,
        tracking_number=number,
        shipping_provider_id=provider_id,
        shipping_provider=render.SHIPPING_PROVIDERS[provider_id],
        rts_time=int(now.timestamp()),
    )
    Fulfillment.objects.create(
        order=order,
        external_id=package_id,
        tracking_number=number,
        tracking_company=render.SHIPPING_PROVIDERS[provider_id],
        payload=body,
        created_at=now,
    )
    _set_status(order, _aggregate_status(order), now)
    return order


def _parcels_delivered(order: ChannelOrder) -> datetime | None:
    numbers = [p.get("tracking_number") for p in order.extra["packages"]]
    parcels = list(Parcel.objects.filter(number__in=numbers))
    if not numbers or len(parcels) != len(set(numbers)) or any(p.status != "Delivered" for p in parcels):
        return None
    return max(p.updated_at for p in parcels)


def _order_advance(order: ChannelOrder, now: datetime) -> bool:
    rng = random.Random(f"tiktok-buyer:{order.external_id}:{order.status}")
    extra = order.extra
    if order.status == render.UNPAID:
        if rng.random() < 0.9:
            paid_at = order.created_at + timedelta(minutes=rng.uniform(2, 30))
            if paid_at <= now:
                order.financial_status, extra["paid_time"] = "paid", int(paid_at.timestamp())
                _set_status(order, render.ON_HOLD, paid_at)
                return True
        elif order.created_at + UNPAID_TIMEOUT <= now:
            return _cancel(order, order.created_at + UNPAID_TIMEOUT, "SYSTEM", "Payment overdue")
        return False
    if order.status == render.ON_HOLD:
        paid = datetime.fromtimestamp(
            int(extra.get("paid_time") or order.created_at.timestamp()), tz=order.created_at.tzinfo
        )
        if rng.random() < float(order.account.options.get("cancel_rate", channels.DEFAULT_CANCEL_RATE)):
            at = paid + timedelta(minutes=rng.uniform(5, 55))
            return _cancel(order, at, "BUYER", "No longer needed") if at <= now else False
        if paid + HOLD <= now:
            _set_status(order, render.AWAITING_SHIPMENT, paid + HOLD)
            return True
        return False
    if order.status in (render.IN_TRANSIT, render.AWAITING_COLLECTION):
        delivered = _parcels_delivered(order)
        if delivered:
            for package in extra["packages"]:
                package.update(status="COMPLETED", display_status=render.DELIVERED)
            extra["delivery_time"] = int(delivered.timestamp())
            _set_status(order, render.DELIVERED, delivered)
            return True
        if order.status == render.AWAITING_COLLECTION:
            numbers = [p["tracking_number"] for p in extra["packages"]]
            if Parcel.objects.filter(number__in=numbers, status="InTransit").exists():
                for package in extra["packages"]:
                    package.update(status="FULFILLING", display_status=render.IN_TRANSIT)
                _set_status(order, render.IN_TRANSIT, now)
                return True
        return False
    if order.status == render.DELIVERED and extra.get("delivery_time"):
        completed = datetime.fromtimestamp(extra["delivery_time"], tz=order.created_at.tzinfo) + COMPLETE_AFTER_DELIVERY
        if completed <= now:
            _set_status(order, render.COMPLETED, completed)
            return True
    return False


def _cancel(order: ChannelOrder, when: datetime, initiator: str, reason: str) -> bool:
    order.canceled_at, order.cancel_reason = when, reason
    order.extra["cancellation_initiator"] = initiator
    for package in order.extra["packages"]:
        package["status"] = "CANCELLED"
    _set_status(order, render.CANCELLED, when)
    return True


@transaction.atomic
def buyer_cancel(order: ChannelOrder, body: dict[str, Any]) -> ChannelOrder:
    """The buyer cancels (control API): allowed until the order ships, as on TikTok Shop."""
    order = ChannelOrder.objects.select_for_update(of=("self",)).select_related("account").get(pk=order.pk)
    if order.status not in (render.UNPAID, render.ON_HOLD, render.AWAITING_SHIPMENT):
        raise ValueError(f"a {order.status} order cannot be cancelled by the buyer")
    _cancel(order, sim_now(), "BUYER", str(body.get("reason") or "No longer needed"))
    return order


@transaction.atomic
def merchant_update(order: ChannelOrder, body: dict[str, Any]) -> ChannelOrder:
    """The seller edits the order (a seller note): update_time moves; TikTok sends no webhook for it."""
    order = ChannelOrder.objects.select_for_update(of=("self",)).get(pk=order.pk)
    if body.get("note") is not None:
        order.extra["seller_note"] = str(body["note"])
    order.updated_at = sim_now()
    order.save()
    return order


def _customers_arrive(account: SimAccount, now: datetime, rng: random.Random) -> int:
    """New orders at the shop's ``orders_per_hour`` (as sim/channels.py does for every shop)."""

    def step(options: dict[str, Any]) -> float:
        previous = options.get("world_at")
        options["world_at"] = now.isoformat()
        return max(0.0, (now - datetime.fromisoformat(previous)).total_seconds()) if previous else 0.0

    elapsed = options_update(account, step)
    rate = float(account.options.get("orders_per_hour", channels.DEFAULT_ORDERS_PER_HOUR))
    count = min(channels.MAX_ORDERS_PER_TICK, channels.poisson(rng, rate * elapsed / 3600))
    first = counter_take(account, "order_seq", start=1, count=count) if count else 0
    for index in range(count):
        _, purchase = _purchase_for(account, f"tiktok-{account.name}-world-{first + index}")
        status = render.UNPAID if rng.random() < 0.1 else render.ON_HOLD
        webhook_emit(_order_build(account, first + index, purchase, status, "sku" if rng.random() < 0.2 else "", now))
    return count


LIVE_STATUSES = (render.UNPAID, render.ON_HOLD, render.IN_TRANSIT, render.AWAITING_COLLECTION, render.DELIVERED)


def customers_tick(account: SimAccount | None = None, *, now: datetime, rng: random.Random, **_: Any) -> dict[str, int]:
    """The TikTok part of sim/channels.py: buyers order, pay, cancel in the hold hour; parcels arrive."""
    accounts = [account] if account else list(SimAccount.objects.filter(provider=Provider.TIKTOK).order_by("id"))
    created, moved = 0, 0
    for shop in accounts:
        created += _customers_arrive(shop, now, rng)
        live = shop.channel_orders.select_for_update(skip_locked=True, of=("self",)).filter(
            status__in=LIVE_STATUSES, created_at__lte=now
        )
        for order in live.select_related("account").order_by("created_at", "id"):
            for _step in range(4):  # one tick may cover several steps (paid, then out of the hold hour)
                if not _order_advance(order, now):
                    break
                moved += 1
    return {k: v for k, v in (("tiktok_orders_created", created), ("tiktok_orders_moved", moved)) if v}
