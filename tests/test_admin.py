"""Django admin for support: every account's orders, search, filters, a read-only order page,
and the archive action going through the service."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from channels_sync.models import ChannelAuthorization
from channels_sync.services.install import authorization_start
from orders.enums import OrderEventType, TrackingStatus
from orders.models import Order, OrderEvent
from orders.services import order_add_search_terms
from orders.services.counts import order_counts_from_rows, order_counts_stored
from tests.factories import (
    AccountFactory,
    MembershipFactory,
    OrderFactory,
    StoreFactory,
    SupplierOrderFactory,
    TrackingEventFactory,
    UserFactory,
    line,
    order_in_state,
)
from tests.pages import tags, text

pytestmark = pytest.mark.django_db

ORDERS = "/admin/orders/order/"
_CHANGE_LINK = re.compile(r'href="/admin/orders/order/(\d+)/change/')


def listed(response: Any) -> set[int]:
    """Ids of the orders on an admin change list."""
    assert response.status_code == 200
    return {int(order_id) for order_id in _CHANGE_LINK.findall(text(response))}


@pytest.fixture
def support(client: Client) -> Client:
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def two_accounts(db: None) -> dict[str, Order]:
    alpha, beta = AccountFactory(name="Alpha Shop"), AccountFactory(name="Beta Shop")
    alpha_shopify = StoreFactory(account=alpha, name="Alpha Shopify")
    beta_tiktok = StoreFactory(account=beta, name="Beta TikTok", channel="tiktok", domain="749401")
    new = OrderFactory(store=alpha_shopify, number="#1001", customer_email="olivia@example.com")
    shipped = order_in_state("in_transit", store=alpha_shopify, number="#1002", customer_email="liam@example.com")
    tiktok = order_in_state("payment_failed", store=beta_tiktok, number="576460001", customer_email="sofia@example.it")
    order_add_search_terms(order=shipped, terms=[shipped.shipments.get().tracking_number])
    return {"new": new, "shipped": shipped, "tiktok": tiktok}


def test_support_sees_the_orders_of_every_account(support: Client, two_accounts: dict[str, Order]) -> None:
    assert listed(support.get(ORDERS)) == {order.pk for order in two_accounts.values()}


def test_support_searches_by_number_email_and_tracking_number(support: Client, two_accounts: dict[str, Order]) -> None:
    tracking_number = two_accounts["shipped"].shipments.get().tracking_number
    assert listed(support.get(ORDERS, {"q": "#1001"})) == {two_accounts["new"].pk}
    assert listed(support.get(ORDERS, {"q": "sofia@example.it"})) == {two_accounts["tiktok"].pk}
    assert listed(support.get(ORDERS, {"q": tracking_number})) == {two_accounts["shipped"].pk}
    assert listed(support.get(ORDERS, {"q": "nobody@example.com"})) == set()


def test_support_filters_by_status_sub_status_channel_store_and_account(
    support: Client, two_accounts: dict[str, Order]
) -> None:
    new, shipped, tiktok = two_accounts["new"], two_accounts["shipped"], two_accounts["tiktok"]
    assert listed(support.get(ORDERS, {"status__exact": "shipment"})) == {shipped.pk}
    assert listed(support.get(ORDERS, {"sub_status__exact": "payment_failed"})) == {tiktok.pk}
    assert listed(support.get(ORDERS, {"channel__exact": "tiktok"})) == {tiktok.pk}
    assert listed(support.get(ORDERS, {"store__id__exact": new.store_id})) == {new.pk, shipped.pk}
    assert listed(support.get(ORDERS, {"account__id__exact": tiktok.account_id})) == {tiktok.pk}
    assert listed(support.get(ORDERS, {"archived__exact": "1"})) == set()


def test_the_order_page_shows_lines_and_events_inline(support: Client, store: Any) -> None:
    # given an order with lines, a parcel with a scan, and a few events
    order = OrderFactory(store=store, number="#1001", lines=(line("Yoga Mat", sku="YM-183"), line("Phone Case")))
    supplier_order = SupplierOrderFactory(order=order)
    TrackingEventFactory(shipment__order=order, shipment__supplier_order=supplier_order)
    # when
    response = support.get(f"{ORDERS}{order.pk}/change/")
    # then
    page = text(response)
    assert response.status_code == 200
    assert "Yoga Mat" in page
    assert "YM-183" in page
    assert "Phone Case" in page
    assert "Order received" in page
    assert 'name="number"' not in page  # read-only: no input for the fields
    assert 'name="lines-0-title"' not in page
    assert 'name="_save"' not in page  # view-only: no Save button


def test_posting_changes_to_an_order_changes_nothing(support: Client, store: Any) -> None:
    # given
    order = OrderFactory(store=store, number="#1001", customer_email="olivia@example.com")
    before = Order.objects.filter(pk=order.pk).values().get()
    events_before = OrderEvent.objects.count()
    # when support submits the page's form (its hidden fields, as a browser would) with other values
    page = support.get(f"{ORDERS}{order.pk}/change/")
    hidden = {tag.attrs["name"]: tag.attrs.get("value", "") for tag in tags(page) if tag.attrs.get("type") == "hidden"}
    response = support.post(
        f"{ORDERS}{order.pk}/change/",
        {
            **hidden,
            "number": "#HACKED",
            "customer_email": "evil@example.com",
            "status": "shipment",
            "sub_status": "delivered",
            "archived": "on",
            "total": "0.01",
            "_save": "Save",
        },
    )
    # then it is refused (the page is view-only), and nothing changed: not even updated_at
    assert response.status_code == 403
    assert Order.objects.filter(pk=order.pk).values().get() == before
    assert OrderEvent.objects.count() == events_before


def test_support_cannot_add_or_delete_orders(support: Client, store: Any) -> None:
    order = OrderFactory(store=store)
    assert support.get(f"{ORDERS}add/").status_code == 403
    assert support.post(f"{ORDERS}{order.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


def test_the_archive_action_goes_through_the_service(support: Client, two_accounts: dict[str, Order]) -> None:
    # given orders of two accounts selected in the change list
    selected = [two_accounts["new"], two_accounts["tiktok"]]
    # when
    response = support.post(
        ORDERS, {"action": "archive_orders", "_selected_action": [order.pk for order in selected], "index": 0}
    )
    # then both are archived, with an event by support, and the counters stay exact
    assert response.status_code == 302
    assert set(Order.objects.filter(archived=True).values_list("pk", flat=True)) == {order.pk for order in selected}
    events = OrderEvent.objects.filter(type=OrderEventType.ARCHIVED)
    assert sorted(events.values_list("order_id", flat=True)) == sorted(order.pk for order in selected)
    assert set(events.values_list("actor__username", flat=True)) == {"support"}
    for order in two_accounts.values():
        assert order_counts_stored(account=order.account) == order_counts_from_rows(account=order.account)
    assert "2 orders changed." in text(support.get(response["Location"]))
    # when restored, then back
    support.post(ORDERS, {"action": "restore_orders", "_selected_action": [selected[0].pk], "index": 0})
    assert not Order.objects.get(pk=selected[0].pk).archived
    assert OrderEvent.objects.filter(type=OrderEventType.RESTORED).count() == 1


def test_the_recompute_action_fixes_a_stale_status(support: Client, store: Any) -> None:
    # given an order whose parcel was delivered, but whose stored status was not recomputed
    order = order_in_state("in_transit", store=store)
    order.shipments.update(tracking_status=TrackingStatus.DELIVERED)
    # when
    support.post(ORDERS, {"action": "recompute_status", "_selected_action": [order.pk], "index": 0})
    # then
    assert Order.objects.get(pk=order.pk).sub_status == "delivered"
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)


def test_a_merchant_cannot_open_the_admin(client: Client, user: Any) -> None:
    client.force_login(user)
    response = client.get(ORDERS)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/accounts/account/",
        "/admin/accounts/account/{account}/change/",
        "/admin/accounts/membership/",
        "/admin/accounts/membership/{membership}/change/",
        "/admin/channels_sync/store/",
        "/admin/channels_sync/store/{store}/change/",
        "/admin/suppliers/supplierorder/",
        "/admin/suppliers/supplierorder/{supplier_order}/change/",
        "/admin/tracking/shipment/",
        "/admin/tracking/shipment/{shipment}/change/",
        "/admin/orders/order/?q=x&status__exact=new",
    ],
)
def test_support_admin_pages_load(support: Client, store: Any, url: str) -> None:
    # given one of each
    membership = MembershipFactory(account=store.account)
    order = order_in_state("in_transit", store=store)
    supplier_order = order.supplier_orders.get()
    shipment = order.shipments.get()
    ids = {
        "account": store.account_id,
        "membership": membership.pk,
        "store": store.pk,
        "supplier_order": supplier_order.pk,
        "shipment": shipment.pk,
    }
    # when / then
    response = support.get(url.format(**ids))
    assert response.status_code == 200


def test_support_sees_channel_authorizations_without_their_secrets(support: Client, store: Any, owner: Any) -> None:
    started = authorization_start(
        account=store.account, user_id=owner.pk, session_key="s", channel="tiktok", store_name="Shop"
    )
    authorization = ChannelAuthorization.objects.get()
    authorization.grant = {"access_token": "tt-secret-token"}
    authorization.save()

    listing = support.get("/admin/channels_sync/channelauthorization/")
    page = support.get(f"/admin/channels_sync/channelauthorization/{authorization.pk}/change/")

    assert listing.status_code == page.status_code == 200
    for response in (listing, page):
        assert b"tt-secret-token" not in response.content
        assert started.state.encode() not in response.content
        assert authorization.state_digest.encode() not in response.content


def test_support_sees_supplier_orders_read_only_and_filters_those_needing_support(admin_client: Client) -> None:
    from suppliers.services.payment import BY_HAND

    order = OrderFactory(store=StoreFactory())
    stuck = SupplierOrderFactory(order=order, state="placing", failure_code=BY_HAND)
    fine = SupplierOrderFactory(order=OrderFactory(store=order.store), state="paid")

    page = admin_client.get("/admin/suppliers/supplierorder/?needs_support=by_hand")
    body = text(page)
    assert page.status_code == 200
    assert stuck.idempotency_key in body
    assert fine.idempotency_key not in body
    detail = admin_client.get(f"/admin/suppliers/supplierorder/{stuck.pk}/change/")
    assert detail.status_code == 200
    assert admin_client.post(f"/admin/suppliers/supplierorder/{stuck.pk}/delete/").status_code == 403


def test_support_keeps_exchange_rates_and_bad_ones_are_refused(admin_client: Client) -> None:
    from suppliers.models import ExchangeRate

    bad = admin_client.post(
        "/admin/suppliers/exchangerate/add/",
        {
            "from_currency": "US1",
            "to_currency": "eur",
            "rate": "-1",
            "source": "ECB",
            "as_of_0": "2026-12-01",
            "as_of_1": "10:00",
        },
    )
    assert bad.status_code == 200
    assert "three letters" in text(bad), re.findall(r"errorlist[^>]*>(.*?)</ul", text(bad))
    assert "positive number" in text(bad)
    assert not ExchangeRate.objects.exists()

    good = admin_client.post(
        "/admin/suppliers/exchangerate/add/",
        {
            "from_currency": "usd",
            "to_currency": "eur",
            "rate": "0.92",
            "source": "ECB",
            "as_of_0": "2026-12-01",
            "as_of_1": "10:00",
        },
    )
    assert good.status_code == 302
    assert ExchangeRate.objects.get().from_currency == "USD"
