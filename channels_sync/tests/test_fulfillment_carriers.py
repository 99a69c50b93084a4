"""Carrier names per channel (``channels_sync.carriers``), and the pure readers of the fulfillment
pushes given hostile answers: a typed error or a safe reading, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from channels_sync.carriers import (
    SHOPIFY_TRACKING_COMPANIES,
    CarrierChoice,
    carrier_for,
    carrier_key,
    tracking_url_for,
)
from channels_sync.fulfillment import FulfillmentLine, FulfillmentRequest, PushRefused
from channels_sync.providers.shopify.fulfillment import open_lines
from channels_sync.providers.tiktok.fulfillment import packages_for, provider_id_for, units_of
from channels_sync.providers.woocommerce.fulfillment import order_lines, parcels_of
from integrations.errors import ProviderError

SUPPLIER_NAMES = [
    "Cainiao",
    "AliExpress Standard Shipping",
    "aliexpress  standard-shipping",
    "YunExpress",
    "Yun Express",
    "4PX",
    "China Post Registered Air Mail",
    "ePacket",
    "Yanwen",
    "CJPacket Ordinary",
    "USPS",
    "UPS",
    "FedEx",
    "DHL eCommerce",
    "Correios",
    "Royal Mail",
    "Speedy Parcels",
    "",
]


def test_shopify_gets_its_exact_names_and_a_url_flag_for_the_rest() -> None:
    choices = {name: carrier_for("shopify", name, {}) for name in SUPPLIER_NAMES}

    assert choices == {
        "Cainiao": CarrierChoice("Cainiao", url_needed=True),
        "AliExpress Standard Shipping": CarrierChoice("Cainiao", url_needed=True),
        "aliexpress  standard-shipping": CarrierChoice("Cainiao", url_needed=True),
        "YunExpress": CarrierChoice("YunExpress", url_needed=False),
        "Yun Express": CarrierChoice("YunExpress", url_needed=False),
        "4PX": CarrierChoice("4PX", url_needed=False),
        "China Post Registered Air Mail": CarrierChoice("China Post", url_needed=False),
        "ePacket": CarrierChoice("China Post", url_needed=False),
        "Yanwen": CarrierChoice("Yanwen", url_needed=True),
        "CJPacket Ordinary": CarrierChoice("CJPacket", url_needed=True),
        "USPS": CarrierChoice("USPS", url_needed=False),
        "UPS": CarrierChoice("UPS", url_needed=False),
        "FedEx": CarrierChoice("FedEx", url_needed=False),
        "DHL eCommerce": CarrierChoice("DHL eCommerce", url_needed=False),
        "Correios": CarrierChoice("Correios", url_needed=False),
        "Royal Mail": CarrierChoice("Royal Mail", url_needed=False),
        "Speedy Parcels": CarrierChoice("Speedy Parcels", url_needed=True),
        "": CarrierChoice(None, url_needed=True),
    }


def test_other_channels_and_overrides() -> None:
    overrides = {"speedy parcels": "UPS", "yanwen": "Yanwen Logistics"}

    assert [
        carrier_for("shopify", "SPEEDY PARCELS", overrides),
        carrier_for("shopify", "Yanwen", overrides),
        carrier_for("tiktok", "Speedy Parcels", overrides),
        carrier_for("tiktok", "Yun Express", {}),
        carrier_for("tiktok", "Speedy Parcels", {}),
        carrier_for("woocommerce", "Yun Express", {}),
        carrier_for("woocommerce", "Speedy Parcels", {}),
    ] == [
        CarrierChoice("UPS", url_needed=False),
        CarrierChoice("Yanwen Logistics", url_needed=True),
        CarrierChoice("UPS", url_needed=False),
        CarrierChoice("YunExpress", url_needed=False),
        CarrierChoice("Speedy Parcels", url_needed=False),
        CarrierChoice("YunExpress", url_needed=False),
        CarrierChoice("Speedy Parcels", url_needed=True),
    ]


def test_names_urls_and_keys() -> None:
    assert {"4PX", "China Post", "DHL eCommerce", "FedEx", "UPS", "USPS", "YunExpress"} <= SHOPIFY_TRACKING_COMPANIES
    assert carrier_key(" Yun-Express ") == carrier_key("YUNEXPRESS") == "yunexpress"
    assert tracking_url_for("Cainiao", "LP 1/2") == "https://global.cainiao.com/newDetail.htm?mailNoList=LP%201%2F2"
    assert (tracking_url_for("Speedy Parcels", "X1"), tracking_url_for(None, "X1"), tracking_url_for("UPS", "")) == (
        "",
        "",
        "",
    )


@pytest.mark.parametrize(
    "order",
    [
        {},
        {"fulfillmentOrders": []},
        {"fulfillmentOrders": {"nodes": [1]}},
        {"fulfillmentOrders": {"nodes": [{"id": "gid://shopify/FulfillmentOrder/1", "lineItems": {"nodes": "x"}}]}},
        {
            "fulfillmentOrders": {
                "nodes": [
                    {
                        "id": "gid://shopify/FulfillmentOrder/1",
                        "lineItems": {"nodes": [{"id": "x", "remainingQuantity": 1, "lineItem": {"id": "nope"}}]},
                    }
                ]
            }
        },
        {
            "fulfillmentOrders": {
                "nodes": [
                    {
                        "id": "gid://shopify/FulfillmentOrder/1",
                        "lineItems": {
                            "nodes": [
                                {"id": "x", "remainingQuantity": True, "lineItem": {"id": "gid://shopify/LineItem/2"}}
                            ]
                        },
                    }
                ]
            }
        },
    ],
)
def test_a_shopify_answer_of_the_wrong_shape_is_a_provider_error(order: dict[str, Any]) -> None:
    with pytest.raises(ProviderError) as failed:
        open_lines(order)

    assert failed.value.retryable is False


@pytest.mark.parametrize("order", [{}, {"line_items": "x"}, {"line_items": [{"id": None}]}, {"line_items": [3]}])
def test_a_woocommerce_order_without_readable_lines_is_a_provider_error(order: dict[str, Any]) -> None:
    with pytest.raises(ProviderError):
        order_lines(order)


@pytest.mark.parametrize(
    ("meta", "parcels"),
    [
        (None, {}),
        ("x", {}),
        ([{"key": "_zopi_parcels", "value": "edited"}], {}),
        ([{"key": "_zopi_parcels", "value": {"N1": {"1": 2, "2": "x", "3": True}, "N2": 5}}], {"N1": {"1": 2}}),
    ],
)
def test_woocommerce_parcels_meta_is_read_defensively(meta: object, parcels: dict[str, Any]) -> None:
    assert parcels_of({"meta_data": meta}) == parcels


def test_tiktok_readers_of_hostile_answers() -> None:
    with pytest.raises(ProviderError):
        units_of({"line_items": None})
    with pytest.raises(ProviderError):
        units_of({"line_items": ["x"]})
    units = units_of({"line_items": [{"sku_id": 7, "sale_price": "abc", "package_id": {"x": 1}}, {"sku_id": True}]})
    request = FulfillmentRequest("1", "N1", "USPS", lines=(FulfillmentLine("99", 1),))

    assert [(unit.line_ids, unit.package_id) for unit in units] == [(("7", "7@"), ""), (("", "@"), "")]
    with pytest.raises(PushRefused) as refused:
        packages_for(request, units)
    assert refused.value.code == "unknown_line"
    assert provider_id_for("USPS", [None, {"id": True, "name": "USPS"}, {"id": "61", "name": "usps"}]) == "61"
    assert provider_id_for("USPS", "not a list") is None
