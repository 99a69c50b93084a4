"""Seeding N active shipments fast: accounts, stores, orders and lines, shipments (registered,
due over the next hours) with ``bulk_create``, and the same numbers registered with the sandbox's
17TRACK account (its ``Parcel`` and ``TrackingRegistration`` rows, journeys already under way)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction

from accounts.models import Account
from channels_sync.models import Store
from orders.enums import Channel, OrderStatus, SubStatus
from orders.models import Order, OrderLine
from sandbox.models import Parcel, SimAccount, TrackingRegistration
from sandbox.sim import carriers
from tracking.enums import RegistrationState
from tracking.models import Shipment

PREFIX = "Zopi bench tracking"
NUMBER_BASE = 9_000_000_000_000_000  # "YT" + 16 digits: YunExpress's pattern, distinct from the sim's draws
CARRIER = carriers.CARRIERS["yunexpress"]
BATCH = 5_000
STORES = ((Channel.SHOPIFY, 0.6), (Channel.WOOCOMMERCE, 0.25), (Channel.TIKTOK, 0.15))
DUE_SHARE = 0.08  # of the active shipments, due now (the rest over the next 12 hours)


def tracking_number(i: int) -> str:
    return f"YT{NUMBER_BASE + i}"


def _delete(model: type[models.Model], where: str, params: list[Any]) -> None:
    """Raw delete of ``model`` rows ``where`` and, first, every row pointing at them (the ORM
    would load 100,000 orders to cascade)."""
    table = model._meta.db_table
    chosen = f"SELECT id FROM {table} WHERE {where}"  # noqa: S608 - names from _meta
    for rel in model._meta.related_objects:
        child, column = rel.related_model, rel.field.column
        if rel.many_to_many or not isinstance(child, type):
            continue
        if rel.on_delete is models.CASCADE:
            _delete(child, f"{column} IN ({chosen})", params)
        else:
            update = f"UPDATE {child._meta.db_table} SET {column} = NULL WHERE {column} IN ({chosen})"  # noqa: S608
            with connection.cursor() as cursor:
                cursor.execute(update, params)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608


def sim_account(name: str) -> SimAccount:
    """The sandbox's 17TRACK account (made over HTTP by the control API), whose rows the seed writes."""
    return SimAccount.objects.get(provider="17track", name=name)


def drop(sim_account_id: int | None) -> None:
    """The bench accounts and everything under them, and the sim account's registrations."""
    ids = list(Account.objects.filter(name__startswith=PREFIX).values_list("pk", flat=True))
    with transaction.atomic():
        if ids:
            marks = ", ".join(["%s"] * len(ids))
            for model in (Shipment, Order):
                _delete(model, f"account_id IN ({marks})", ids)
            Account.objects.filter(pk__in=ids).delete()
        if sim_account_id is not None:
            parcels = TrackingRegistration.objects.filter(account_id=sim_account_id).values("parcel_id")
            Parcel.objects.filter(pk__in=parcels).delete()
            TrackingRegistration.objects.filter(account_id=sim_account_id).delete()


def merchants(accounts: int = 3) -> list[Store]:
    """``accounts`` bench accounts, one store each (Shopify, WooCommerce, TikTok Shop)."""
    stores = []
    for k, (channel, _) in enumerate(STORES[:accounts]):
        account = Account.objects.create(name=f"{PREFIX} {k + 1}")
        stores.append(
            Store.objects.create(
                account=account, channel=channel, name=f"Bench {channel}", domain=f"bench-tracking-{k}.example.com"
            )
        )
    return stores


def _store_for(stores: list[Store], rng: random.Random) -> Store:
    roll, at = rng.random(), 0.0
    for store, (_, share) in zip(stores, STORES, strict=False):
        at += share
        if roll < at:
            return store
    return stores[-1]


def journey_of(i: int, now: datetime) -> tuple[str, datetime]:
    """The fate and hand-over time of parcel ``i`` (a journey 0-12 days under way)."""
    rng = random.Random(f"bench-tracking:{i}")
    return f"{carriers.fate_draw(rng)}@US", now - timedelta(hours=rng.uniform(0, 12 * 24))


def shipments_seed(*, stores: list[Store], sim: SimAccount, first: int, count: int, now: datetime) -> list[int]:
    """``count`` active shipments numbered from ``first``: one order of one line each, registered
    with us and with the sandbox's 17TRACK account; their ids."""
    rng = random.Random(f"bench-tracking-seed:{first}")
    ids: list[int] = []
    for start in range(first, first + count, BATCH):
        block = range(start, min(start + BATCH, first + count))
        with transaction.atomic():
            chosen = [_store_for(stores, rng) for _ in block]
            orders = Order.objects.bulk_create(
                Order(
                    account_id=store.account_id,
                    store_id=store.pk,
                    channel=store.channel,
                    channel_order_id=str(8_000_000_000 + i),
                    number=f"#T{i}",
                    base_number=f"#T{i}",
                    customer_name="Ana Souza",
                    customer_email=f"bench{i}@example.com",
                    total=Decimal("29.99"),
                    channel_paid=True,
                    placed_at=now - timedelta(days=14),
                    status=OrderStatus.SHIPMENT,
                    sub_status=SubStatus.IN_TRANSIT,
                )
                for i, store in zip(block, chosen, strict=True)
            )
            lines = OrderLine.objects.bulk_create(
                OrderLine(order_id=order.pk, title="Bench earbuds", unit_price=Decimal("29.99"), quantity=1)
                for order in orders
            )
            due = [now - timedelta(seconds=rng.uniform(0, 3600)) if rng.random() < DUE_SHARE else
                   now + timedelta(seconds=rng.uniform(0, 12 * 3600)) for _ in block]  # fmt: skip
            rows = Shipment.objects.bulk_create(
                Shipment(
                    account_id=order.account_id,
                    order_id=order.pk,
                    tracking_number=tracking_number(i),
                    carrier=CARRIER.name,
                    lines=[{"order_line_id": line.pk, "quantity": 1}],
                    registration_state=RegistrationState.REGISTERED,
                    registered_at=now - timedelta(days=1),
                    next_poll_at=at,
                )
                for i, order, line, at in zip(block, orders, lines, due, strict=True)
            )
            ids += [row.pk for row in rows]
            sim_rows = _parcels(block, now)
            parcels = Parcel.objects.bulk_create(sim_rows)
            TrackingRegistration.objects.bulk_create(
                TrackingRegistration(account=sim, parcel=parcel, created_at=now) for parcel in parcels
            )
    return ids


def _parcels(block: Iterable[int], now: datetime) -> list[Parcel]:
    rows = []
    for i in block:
        fate, start = journey_of(i, now)
        parcel = Parcel(
            number=tracking_number(i),
            carrier_code=CARRIER.key,
            carrier_name=CARRIER.name,
            fate=fate,
            created_at=start,
            updated_at=start,
        )
        carriers.parcel_advance(parcel, now)  # the journey so far (pure): what 17TRACK answers
        rows.append(parcel)
    return rows


def analyze() -> None:
    if connection.vendor == "postgresql":
        tables = [model._meta.db_table for model in (Shipment, Order, OrderLine, Parcel, TrackingRegistration)]
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(tables)}")
