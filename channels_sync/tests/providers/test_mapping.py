"""Pure mappings: stored sandbox-rendered orders → the whole ChannelOrder; decisions; malformed payloads."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from channels_sync.providers.base import ChannelOrder
from channels_sync.providers.shopify import mapping as shopify
from channels_sync.providers.tiktok import mapping as tiktok
from channels_sync.providers.woocommerce import mapping as woocommerce
from integrations.errors import MalformedPayload
from orders.services import AddressData, LineData, OrderData

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def test_shopify_order_maps_whole() -> None:
    order = shopify.order_from_json(fixture("shopify_order.json"))

    assert order == ChannelOrder(
        data=OrderData(
            channel_order_id="5100001000001",
            number="#1001",
            placed_at=datetime(2026, 11, 24, 5, 16, tzinfo=UTC),
            total=Decimal("24.97"),
            lines=(
                LineData(
                    title="Shockproof Phone Case",
                    unit_price=Decimal("9.99"),
                    quantity=2,
                    sku="ZP-PHONE-CASE-BLK",
                    variant_title="Black",
                    channel_line_id="13000010000010",
                    product_id="7981234502",
                    variant_id="43810000102",
                ),
            ),
            currency="USD",
            customer_name="Oskar Schmidt",
            customer_email="oskar.schmidt62@mail.example.net",
            paid=True,
            canceled=False,
            extra_search_terms=("576883156497810914",),
            ship=AddressData(
                name="Oskar Schmidt",
                phone="+15037270944",
                address1="1514 Cedar Lane",
                address2="Apt 15",
                city="Portland",
                province="Oregon",
                province_code="OR",
                zip="97222",
                country_code="US",
            ),
        ),
        updated_at=datetime(2026, 11, 24, 5, 16, tzinfo=UTC),
        purchase_ids=("576883156497810914",),
        refunds=(),  # the body lists none
    )


def test_woocommerce_order_maps_whole() -> None:
    order = woocommerce.order_from_json(fixture("woocommerce_order.json"))

    assert order == ChannelOrder(
        data=OrderData(
            channel_order_id="1201",
            number="#1201",
            placed_at=datetime(2026, 11, 24, 5, 16, tzinfo=UTC),
            total=Decimal("29.98"),
            lines=(
                LineData(
                    title="Wireless Earbuds",
                    unit_price=Decimal("24.99"),
                    quantity=1,
                    sku="ZP-EARBUDS-TWS",
                    variant_title="White",
                    channel_line_id="301",
                    product_id="4507",
                    variant_id="108",
                ),
            ),
            currency="USD",
            customer_name="Mateo Taylor",
            customer_email="mateo.taylor7@mail.example.net",
            paid=True,
            canceled=False,
            ship=AddressData(
                name="Mateo Taylor",
                phone="+15027073208",
                address1="1100 Hill Crest",
                city="Louisville",
                province_code="KY",
                zip="40263",
                country_code="US",
            ),
        ),
        updated_at=datetime(2026, 11, 24, 5, 16, tzinfo=UTC),
    )


def test_tiktok_order_maps_whole_with_one_line_per_sku() -> None:
    order = tiktok.order_from_json(fixture("tiktok_order.json"))

    assert order == ChannelOrder(
        data=OrderData(
            channel_order_id="576883156497810914",
            number="576883156497810914",
            placed_at=datetime(2026, 11, 24, 5, 16, tzinfo=UTC),
            total=Decimal("24.97"),
            lines=(
                LineData(
                    title="Shockproof Phone Case",
                    unit_price=Decimal("9.99"),
                    quantity=2,
                    sku="ZP-PHONE-CASE-BLK",
                    variant_title="Black",
                    channel_line_id="1730868680492284566",
                    product_id="1729590465438974519",
                    variant_id="1730868680492284566",
                ),
            ),
            currency="USD",
            customer_name="Oskar Schmidt",
            customer_email="v117225874021@scs.tiktokw.us",
            paid=True,
            canceled=False,
            ship=AddressData(
                name="Oskar Schmidt",
                phone="+1 503-***-0944",
                address1="1514 Cedar Lane",
                address2="Apt 15",
                city="Portland",
                province="Oregon",
                zip="97222",
                country_code="US",
            ),
        ),
        updated_at=datetime(2026, 11, 24, 5, 16, tzinfo=UTC),
        purchase_ids=("576883156497810914",),
    )


def test_tiktok_units_of_one_sku_at_two_prices_stay_two_lines() -> None:
    body = fixture("tiktok_order.json")
    body["line_items"][1]["sale_price"] = "7.50"

    lines = tiktok.order_from_json(body).data.lines

    assert [(line.channel_line_id, line.unit_price, line.quantity) for line in lines] == [
        ("1730868680492284566@9.99", Decimal("9.99"), 1),
        ("1730868680492284566@7.50", Decimal("7.50"), 1),
    ]


@pytest.mark.parametrize(
    ("financial_status", "cancelled_at", "paid", "canceled"),
    [
        ("paid", None, True, False),
        ("partially_paid", None, True, False),
        ("partially_refunded", None, True, False),
        ("refunded", "2026-11-24T01:00:00-05:00", True, True),
        ("pending", None, False, False),
        ("authorized", None, False, False),
        ("voided", "2026-11-24T01:00:00-05:00", False, True),
        ("something_new", None, False, False),
    ],
)
def test_shopify_paid_and_canceled(financial_status: str, cancelled_at: str | None, paid: bool, canceled: bool) -> None:
    body = fixture("shopify_order.json") | {"financial_status": financial_status, "cancelled_at": cancelled_at}

    data = shopify.order_from_json(body).data

    assert (data.paid, data.canceled) == (paid, canceled)


@pytest.mark.parametrize(
    ("status", "date_paid_gmt", "paid", "canceled"),
    [
        ("processing", None, True, False),
        ("completed", "2026-11-24T05:16:00", True, False),
        ("on-hold", None, False, False),
        ("on-hold", "2026-11-24T05:16:00", True, False),
        ("pending", None, False, False),
        ("failed", None, False, False),
        ("cancelled", None, False, True),
        ("cancelled", "2026-11-24T05:16:00", True, True),
        ("refunded", "2026-11-24T05:16:00", True, True),
        ("shipped-by-plugin", "2026-11-24T05:16:00", True, False),
    ],
)
def test_woocommerce_paid_and_canceled(status: str, date_paid_gmt: str | None, paid: bool, canceled: bool) -> None:
    body = fixture("woocommerce_order.json") | {"status": status, "date_paid": None, "date_paid_gmt": date_paid_gmt}

    data = woocommerce.order_from_json(body).data

    assert (data.paid, data.canceled) == (paid, canceled)


@pytest.mark.parametrize(
    ("status", "paid_time", "paid", "canceled"),
    [
        ("UNPAID", None, False, False),
        ("ON_HOLD", 1795497360, True, False),
        ("AWAITING_SHIPMENT", 1795497360, True, False),
        ("IN_TRANSIT", 1795497360, True, False),
        ("COMPLETED", 1795497360, True, False),
        ("CANCELLED", None, False, True),
        ("CANCELLED", 1795497360, True, True),
    ],
)
def test_tiktok_paid_and_canceled(status: str, paid_time: int | None, paid: bool, canceled: bool) -> None:
    body = fixture("tiktok_order.json") | {"status": status, "paid_time": paid_time}

    data = tiktok.order_from_json(body).data

    assert (data.paid, data.canceled) == (paid, canceled)


def test_shopify_finds_the_tiktok_id_under_any_known_key() -> None:
    body = fixture("shopify_order.json") | {
        "note_attributes": [{"name": "Gift note", "value": "hi"}, {"name": "TikTok Order ID", "value": " 5768 "}]
    }

    order = shopify.order_from_json(body)

    assert order.purchase_ids == ("5768",)


def _without(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with(body: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


SHOPIFY, WOO, TIKTOK = fixture("shopify_order.json"), fixture("woocommerce_order.json"), fixture("tiktok_order.json")


@pytest.mark.parametrize(
    ("parse", "body", "message"),
    [
        (shopify.order_from_json, _without(SHOPIFY, "id"), "Shopify order: missing 'id'"),
        (
            shopify.order_from_json,
            _with(SHOPIFY, "12,50", "line_items", 0, "price"),
            "Shopify order 5100001000001: line_items[0]: 'price' is not a number: '12,50'",
        ),
        (
            shopify.order_from_json,
            _without(SHOPIFY, "line_items"),
            "Shopify order 5100001000001: 'line_items' is missing",
        ),
        (
            shopify.order_from_json,
            _with(SHOPIFY, "yesterday", "created_at"),
            "Shopify order 5100001000001: 'created_at' is not an ISO 8601 time: 'yesterday'",
        ),
        (shopify.order_from_json, [], "the Shopify order is not a JSON object"),
        (woocommerce.order_from_json, _without(WOO, "id"), "WooCommerce order: missing 'id'"),
        (
            woocommerce.order_from_json,
            _with(WOO, "N/A", "total"),
            "WooCommerce order 1201: 'total' is not a number: 'N/A'",
        ),
        (woocommerce.order_from_json, _without(WOO, "line_items"), "WooCommerce order 1201: 'line_items' is missing"),
        (
            woocommerce.order_from_json,
            _with(WOO, 1.5, "line_items", 0, "quantity"),
            "WooCommerce order 1201: line_items[0]: 'quantity' is not a whole number of items: 1.5",
        ),
        (tiktok.order_from_json, _without(TIKTOK, "id"), "TikTok Shop order: missing 'id'"),
        (
            tiktok.order_from_json,
            _with(TIKTOK, "free", "payment", "total_amount"),
            "TikTok Shop order 576883156497810914: payment: 'total_amount' is not a number: 'free'",
        ),
        (
            tiktok.order_from_json,
            _without(TIKTOK, "line_items"),
            "TikTok Shop order 576883156497810914: 'line_items' is missing",
        ),
        (
            tiktok.order_from_json,
            _without(TIKTOK, "line_items", 1, "sku_id"),
            "TikTok Shop order 576883156497810914: line_items[1]: missing 'sku_id'",
        ),
    ],
)
def test_malformed_payload_says_exactly_what_is_wrong(parse: Any, body: Any, message: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse(body)

    assert str(caught.value) == message
