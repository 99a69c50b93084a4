"""Channel refunds parsed from real-shaped answers, each compared whole: a Shopify REST refund (the
refunds/create body), a WooCommerce GET orders/<id>/refunds answer, a TikTok Shop returns/search
page (only the completed refund kept)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from channels_sync.providers.shopify.mapping import (
    refund_from_json,
    refund_status,
    refunds_in_presentment,
)
from channels_sync.providers.tiktok.returns import refunds_from_returns, returns_by_order
from channels_sync.providers.woocommerce.mapping import refunds_from_json
from orders.services.customer_refunds import CustomerRefundData, RefundLineData

SHOPIFY_REFUND = {
    "id": 929361462,
    "order_id": 450789469,
    "created_at": "2026-11-20T10:12:31-05:00",
    "processed_at": "2026-11-20T10:12:33-05:00",
    "note": "wrong size",
    "restock": False,
    "refund_line_items": [
        {
            "id": 104689539,
            "line_item_id": 703073504,
            "quantity": 1,
            "restock_type": "no_restock",
            "subtotal": 199.0,
            "total_tax": 3.98,
        }
    ],
    "transactions": [
        {"id": 1, "kind": "refund", "status": "success", "amount": "199.00", "currency": "USD"},
        {"id": 2, "kind": "refund", "status": "failure", "amount": "5.00", "currency": "USD"},
    ],
}

WOO_ORDER = {
    "id": 723,
    "currency": "EUR",
    "line_items": [
        {"id": 315, "product_id": 93, "variation_id": 0, "quantity": 2},
        {"id": 316, "product_id": 94, "variation_id": 7, "quantity": 1},
    ],
}
WOO_REFUNDS = [
    {
        "id": 726,
        "date_created": "2026-11-21T17:07:11",
        "date_created_gmt": "2026-11-21T20:07:11",
        "amount": "30.00",
        "reason": "",
        "line_items": [
            {
                "id": 314,
                "product_id": 93,
                "variation_id": 0,
                "quantity": -1,
                "total": "-20.00",
                "meta_data": [{"id": 1, "key": "_refunded_item_id", "value": "315"}],
            },
            {"id": 317, "product_id": 94, "variation_id": 7, "quantity": -1, "total": "-10.00", "meta_data": []},
        ],
    }
]

TIKTOK_ORDER = {
    "id": "576461413038785752",
    "line_items": [
        {"id": "577086512123755123", "sku_id": "1729385892941", "sale_price": "12.50"},
        {"id": "577086512123755124", "sku_id": "1729385892941", "sale_price": "12.50"},
    ],
}
TIKTOK_RETURNS = {
    "return_orders": [
        {
            "return_id": "4035244067462926090",
            "order_id": "576461413038785752",
            "return_type": "REFUND",
            "return_status": "RETURN_OR_REFUND_REQUEST_COMPLETE",
            "return_reason_text": "Damaged",
            "create_time": 1763630000,
            "update_time": 1763640000,
            "refund_amount": {"currency": "USD", "refund_total": "25.00"},
            "return_line_items": [
                {"order_line_item_id": "577086512123755123", "refund_amount": {"refund_total": "12.50"}},
                {"order_line_item_id": "577086512123755124", "refund_amount": {"refund_total": "12.50"}},
            ],
        },
        {
            "return_id": "4035244067462926091",
            "order_id": "576461413038785752",
            "return_type": "RETURN_AND_REFUND",
            "return_status": "AWAITING_BUYER_SHIP",
            "create_time": 1763650000,
            "refund_amount": {"currency": "USD", "refund_total": "12.50"},
            "return_line_items": [],
        },
    ]
}


def test_a_shopify_refund_maps_whole() -> None:
    assert refund_from_json(SHOPIFY_REFUND, currency="USD", where="Shopify order 450789469") == CustomerRefundData(
        channel_refund_id="929361462",
        amount=Decimal("199.00"),
        currency="USD",
        refunded_at=datetime(2026, 11, 20, 15, 12, 33, tzinfo=UTC),
        reason="wrong size",
        status="success",
        lines=(RefundLineData("703073504", 1, Decimal("199.0")),),
    )


def test_woocommerce_refunds_map_whole_lines_found_by_meta_or_by_product() -> None:
    assert refunds_from_json(WOO_REFUNDS, WOO_ORDER) == (
        CustomerRefundData(
            channel_refund_id="726",
            amount=Decimal("30.00"),
            currency="EUR",
            refunded_at=datetime(2026, 11, 21, 20, 7, 11, tzinfo=UTC),
            reason="",
            status="completed",
            lines=(RefundLineData("315", 1, Decimal("20.00")), RefundLineData("316", 1, Decimal("10.00"))),
        ),
    )


def test_tiktok_returns_keep_only_completed_refunds_units_counted_per_line() -> None:
    returns = returns_by_order(TIKTOK_RETURNS)["576461413038785752"]

    assert refunds_from_returns(returns, TIKTOK_ORDER) == (
        CustomerRefundData(
            channel_refund_id="4035244067462926090",
            amount=Decimal("25.00"),
            currency="USD",
            refunded_at=datetime.fromtimestamp(1763640000, tz=UTC),
            reason="Damaged",
            status="return_or_refund_request_complete",
            lines=(RefundLineData("1729385892941", 2, Decimal("25.00")),),
        ),
    )


def test_a_malformed_refund_comes_back_malformed_and_the_others_of_its_order_map() -> None:
    no_time = {key: value for key, value in SHOPIFY_REFUND.items() if key not in ("created_at", "processed_at")}
    shopify = refund_from_json(no_time, currency="USD", where="Shopify order 450789469")
    assert (shopify.channel_refund_id, "created_at" in shopify.malformed) == ("929361462", True)

    woo = refunds_from_json([{**WOO_REFUNDS[0], "id": 999, "amount": "lots"}, *WOO_REFUNDS], WOO_ORDER)
    assert [(item.channel_refund_id, bool(item.malformed)) for item in woo] == [("999", True), ("726", False)]

    returns = returns_by_order(TIKTOK_RETURNS)["576461413038785752"]
    broken = [{**item, "return_id": "1", "refund_amount": None} for item in returns]
    tiktok = refunds_from_returns([*broken, *returns], TIKTOK_ORDER)
    assert [(item.channel_refund_id, bool(item.malformed)) for item in tiktok][-1] == ("4035244067462926090", False)
    assert ("1", True) in [(item.channel_refund_id, bool(item.malformed)) for item in tiktok]


def test_tiktok_refund_lines_are_keyed_as_the_order_lines_are_prices_compared_as_numbers() -> None:
    order = {
        **TIKTOK_ORDER,
        "line_items": [
            {"id": "577086512123755123", "sku_id": "1729385892941", "sale_price": "12.5"},
            {"id": "577086512123755124", "sku_id": "1729385892941", "sale_price": "12.50"},
        ],
    }
    returns = returns_by_order(TIKTOK_RETURNS)["576461413038785752"]

    (refund,) = refunds_from_returns(returns, order)

    assert refund.lines == (RefundLineData("1729385892941", 2, Decimal("25.00")),)


@pytest.mark.parametrize(
    ("transactions", "status"),
    [
        ([("refund", "success"), ("refund", "failure")], "success"),
        ([("refund", "failure"), ("refund", "success")], "success"),
        ([("REFUND", "PENDING")], "pending"),
        ([("sale", "success"), ("REFUND", "ERROR")], "error"),
        ([("suggested_refund", "success")], "success"),  # not a refund: its own word, as REST kept it
        ([], ""),
    ],
)
def test_a_refund_s_status_comes_from_its_refund_transactions_in_both_apis(
    transactions: list[tuple[str, str]], status: str
) -> None:
    assert refund_status(transactions) == status


def test_a_pending_rest_refund_is_pending_with_no_money_yet() -> None:
    pending = {**SHOPIFY_REFUND, "transactions": [{"id": 3, "kind": "refund", "status": "pending", "amount": "9.00"}]}
    refund = refund_from_json(pending, currency="USD", where="Shopify order 450789469")
    assert (refund.status, refund.amount) == ("pending", Decimal(0))


def test_rest_refund_lines_are_read_in_the_shop_s_money() -> None:
    # a multi-currency order: subtotal (the customer's money) and subtotal_set in both
    item = {
        **SHOPIFY_REFUND["refund_line_items"][0],  # type: ignore[index]
        "subtotal": 179.1,
        "subtotal_set": {
            "shop_money": {"amount": "199.00", "currency_code": "USD"},
            "presentment_money": {"amount": "179.10", "currency_code": "EUR"},
        },
    }
    refund = refund_from_json({**SHOPIFY_REFUND, "refund_line_items": [item]}, currency="USD", where="o")
    assert refund.lines == (RefundLineData("703073504", 1, Decimal("199.00")),)


def test_a_rest_refund_paid_in_the_presentment_currency_is_not_read_from_the_body() -> None:
    eur = {
        **SHOPIFY_REFUND,
        "transactions": [{"kind": "refund", "status": "success", "amount": "179.10", "currency": "EUR"}],
    }
    order = {"currency": "USD", "presentment_currency": "EUR", "refunds": [eur]}
    assert refunds_in_presentment(order)
    assert not refunds_in_presentment({**order, "refunds": [SHOPIFY_REFUND]})
    # read alone, it is refused with the reason, never stored in another currency's amount
    assert "is in EUR, not the shop's USD" in refund_from_json(eur, currency="USD", where="o").malformed
