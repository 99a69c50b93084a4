"""Every channel brings the shipping address in (phone included) and each line's product and
variant ids: orders pulled from the sandbox over HTTP, compared with the simulated shop's own
rows; the addresses the sandbox's customers have pass the placement checks."""

from __future__ import annotations

from typing import Any

import pytest

from channels_sync.models import Store
from channels_sync.services import store_connect, store_pull
from orders.address import address_problems, phone_normalized
from orders.models import Order
from sandbox.models import ChannelOrder as SimOrder

from .conftest import LIVE_DB

pytestmark = LIVE_DB


def connect(control: Any, account: Any, channel: str, shop_name: str) -> Store:
    shop = control.account(channel, shop_name)
    return store_connect(
        account=account, channel=channel, name=shop_name, base_url=shop["base_url"], credentials=shop["credentials"]
    ).store


def _pulled(control: Any, account: Any, channel: str, shop_name: str, **create: Any) -> list[tuple[Order, SimOrder]]:
    store = connect(control, account, channel, shop_name)
    ids = control.create_orders(channel, shop_name, count=8, seed=31, **create)
    result = store_pull(store_id=store.pk)
    assert (result.error, result.created) == ("", len(ids))
    sims = {sim.external_id: sim for sim in SimOrder.objects.filter(account__name=shop_name, external_id__in=ids)}
    orders = Order.objects.filter(store=store).prefetch_related("lines")
    return [(order, sims[order.channel_order_id]) for order in orders]


def _state_of(channel: str, address: dict[str, str]) -> tuple[str, str]:
    """(ship_province, ship_province_code) as each channel sends the state."""
    if channel == "woocommerce":  # WooCommerce sends the code of a listed state, else its name
        return ("", address["province_code"]) if address["province_code"] else (address["province"], "")
    if channel == "tiktok":  # TikTok names the state (district_info L1), no code
        return address["province"], ""
    return address["province"], address["province_code"]


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "tiktok"])
def test_a_pulled_order_carries_the_address_phone_and_line_ids_as_the_channel_has_them(
    control: Any, site_url: str, account: Any, channel: str
) -> None:
    pairs = _pulled(control, account, channel, f"addr-{channel}")
    for order, sim in pairs:
        a, customer = sim.address, sim.customer
        province, code = _state_of(channel, a)
        address2 = a["address2"]
        assert (order.ship_name, order.ship_address1, order.ship_address2) == (
            customer["name"],
            a["address1"],
            address2,
        )
        assert (order.ship_city, order.ship_province, order.ship_province_code) == (a["city"], province, code)
        assert (order.ship_zip, order.ship_country_code) == (a["zip"], a["country_code"])
        assert order.ship_tax_id == ""  # none of the three has a tax id field
        # the phone, in each channel's own shape, is the customer's number
        assert order.ship_phone
        assert phone_normalized(order.ship_phone, country=order.ship_country_code) == phone_normalized(a["phone"])
        # and the address is complete: nothing stops a placement
        assert address_problems(order) == [], (order.number, address_problems(order))
        # every line names the channel's product and variant
        by_sku = {line["sku"]: line for line in sim.lines}
        for line in order.lines.all():
            expected = by_sku[line.sku]
            assert line.product_id == str(expected["product_id"])
            if channel == "woocommerce" and expected["variant_title"] in ("", "Default Title"):
                assert line.variant_id == ""  # a simple product: no variation
            else:
                assert line.variant_id == str(expected["variant_id"])


def test_a_tiktok_order_before_payment_has_its_phone_masked_and_the_check_asks_for_it(
    control: Any, site_url: str, account: Any
) -> None:
    pairs = _pulled(control, account, "tiktok", "addr-tiktok-unpaid", status="UNPAID")
    for order, sim in pairs:
        assert "***" in order.ship_phone
        assert order.ship_phone.startswith("+1 ")
        assert order.ship_phone.endswith(sim.customer["phone"][-4:])
        assert [problem.code for problem in address_problems(order)] == ["phone_masked"]
