"""The carrier mapping page: owners add, edit and delete the account's own carrier names per
channel, with validation; staff get 403; another account's mapping is 404; CSRF; the shipping
notification toggle; a mapping and the toggle used by the next push."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from channels_sync.enums import PushState
from channels_sync.models import CarrierMapping, FulfillmentPush
from channels_sync.services.push import fulfillment_push_request
from sandbox.models import Fulfillment as SimFulfillment
from tests import factories

from .conftest import LIVE_DB
from .push_helpers import connect, new_order

PAGE = reverse("channels_sync:carrier_mappings")
ADD = reverse("channels_sync:carrier_mapping_add")


def add(client: Client, channel: str, supplier: str, sent: str) -> Any:
    return client.post(ADD, {"new-channel": channel, "new-supplier_carrier": supplier, "new-channel_carrier": sent})


@pytest.mark.django_db
def test_owner_adds_edits_and_deletes_a_mapping(owner_client: Client, account: Any) -> None:
    page = owner_client.get(PAGE)
    assert page.status_code == 200
    body = page.content.decode()
    assert "AliExpress Standard Shipping" in body  # the defaults, read-only
    assert '<th scope="row" translate="no">Cainiao</th><td translate="no">Cainiao, Cainiao Super Economy' in body
    assert "sent with a tracking link" in body  # Cainiao is not on Shopify's list
    assert '<option value="DHL eCommerce Asia">' in body  # Shopify's list as a datalist

    response = add(owner_client, "shopify", "  SuperFast   Line 7 ", "UPS")
    assert response.status_code == 302
    mapping = CarrierMapping.objects.get(account=account)
    assert (mapping.channel, mapping.supplier_carrier, mapping.supplier_carrier_key, mapping.channel_carrier) == (
        "shopify",
        "SuperFast Line 7",
        "superfastline7",
        "UPS",
    )
    assert "SuperFast Line 7" in owner_client.get(PAGE).content.decode()

    edit = reverse("channels_sync:carrier_mapping_edit", args=[mapping.pk])
    prefix = f"m{mapping.pk}"
    response = owner_client.post(
        edit,
        {
            f"{prefix}-channel": "shopify",
            f"{prefix}-supplier_carrier": "SuperFast 7",
            f"{prefix}-channel_carrier": "FedEx",
        },
    )
    assert response.status_code == 302
    mapping.refresh_from_db()
    assert (mapping.supplier_carrier, mapping.supplier_carrier_key, mapping.channel_carrier) == (
        "SuperFast 7",
        "superfast7",
        "FedEx",
    )

    response = owner_client.post(reverse("channels_sync:carrier_mapping_delete", args=[mapping.pk]))
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)][-1] == "“SuperFast 7” is no longer mapped."
    assert not CarrierMapping.objects.exists()


@pytest.mark.django_db
def test_validation_errors_are_shown_and_nothing_is_saved(owner_client: Client, account: Any) -> None:
    assert add(owner_client, "shopify", "Yun-Express", "YunExpress").status_code == 302
    cases = [
        (("shopify", "", "UPS"), "This field is required."),
        (("shopify", "UPS", ""), "This field is required."),
        (("shopify", "---", "UPS"), "Give the carrier&#x27;s name with letters or digits in it."),
        (("shopify", "X" * 101, "UPS"), "Ensure this value has at most 100 characters (it has 101)."),
        (("shopify", "UPS", "Y" * 101), "Ensure this value has at most 100 characters (it has 101)."),
        (("ebay", "UPS", "UPS"), "Select a valid choice. ebay is not one of the available choices."),
        (
            ("shopify", "yun express", "4PX"),
            "“yun express” is mapped already for this channel (names are compared ignoring case, spaces and dots).",
        ),
    ]
    for (channel, supplier, sent), error in cases:
        response = add(owner_client, channel, supplier, sent)
        assert response.status_code == 422, (channel, supplier, sent)
        assert error in response.content.decode(), error
    assert list(CarrierMapping.objects.values_list("supplier_carrier", flat=True)) == ["Yun-Express"]
    # the same name on another channel is another mapping
    assert add(owner_client, "tiktok", "yun express", "YunExpress").status_code == 302
    assert CarrierMapping.objects.count() == 2
    # an edit onto a name mapped already is refused too
    tiktok = CarrierMapping.objects.get(channel="tiktok")
    prefix = f"m{tiktok.pk}"
    response = owner_client.post(
        reverse("channels_sync:carrier_mapping_edit", args=[tiktok.pk]),
        {
            f"{prefix}-channel": "shopify",
            f"{prefix}-supplier_carrier": "YUN EXPRESS",
            f"{prefix}-channel_carrier": "4PX",
        },
    )
    assert response.status_code == 422
    assert "is mapped already for this channel" in response.content.decode()
    tiktok.refresh_from_db()
    assert tiktok.channel == "tiktok"


@pytest.mark.django_db
def test_roles_tenants_and_csrf(member_client: Client, owner: Any, other_account: Any, account: Any) -> None:
    owner_client = Client()  # (member_client is the suite's one ``client``, logged in as the staff member)
    owner_client.force_login(owner)
    theirs = CarrierMapping.objects.create(
        account=other_account,
        channel="shopify",
        supplier_carrier="Theirs",
        supplier_carrier_key="theirs",
        channel_carrier="UPS",
    )
    # staff: 403 on the page and every write, nothing changes
    assert member_client.get(PAGE).status_code == 403
    assert add(member_client, "shopify", "Mine", "UPS").status_code == 403
    assert member_client.post(reverse("channels_sync:shipping_notifications"), {}).status_code == 403
    # another account's mapping: 404 for edit and delete
    edit = reverse("channels_sync:carrier_mapping_edit", args=[theirs.pk])
    prefix = f"m{theirs.pk}"
    data = {f"{prefix}-channel": "shopify", f"{prefix}-supplier_carrier": "Mine", f"{prefix}-channel_carrier": "FedEx"}
    assert owner_client.post(edit, data).status_code == 404
    assert owner_client.post(reverse("channels_sync:carrier_mapping_delete", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.supplier_carrier, theirs.channel_carrier) == ("Theirs", "UPS")
    # without a CSRF token: 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert add(strict, "shopify", "Mine", "UPS").status_code == 403
    assert not CarrierMapping.objects.filter(account=account).exists()
    # the navigation links the page for owners only
    assert f'href="{PAGE}"' in owner_client.get(PAGE).content.decode()
    assert f'href="{PAGE}"' not in member_client.get(reverse("orders:center")).content.decode()


@pytest.mark.django_db
def test_the_shipping_notifications_toggle(owner_client: Client, account: Any) -> None:
    url = reverse("channels_sync:shipping_notifications")
    assert account.notify_customer_on_fulfillment is True
    assert 'name="notify_customer_on_fulfillment" id="id_notify_customer_on_fulfillment" checked' in (
        owner_client.get(PAGE).content.decode()
    )

    assert owner_client.post(url, {}).status_code == 302
    account.refresh_from_db()
    assert account.notify_customer_on_fulfillment is False
    assert owner_client.post(url, {"notify_customer_on_fulfillment": "on"}).status_code == 302
    account.refresh_from_db()
    assert account.notify_customer_on_fulfillment is True


@LIVE_DB
def test_a_mapping_and_the_toggle_are_used_by_the_next_push(
    control: Any, site_url: str, account: Any, owner_client: Client
) -> None:
    store = connect(control, account, "shopify", "cm-shop")
    order = new_order(control, store, "cm-shop", seed=31)
    assert add(owner_client, "shopify", "superfast line 7", "UPS").status_code == 302
    assert add(owner_client, "woocommerce", "SuperFast Line 7", "FedEx").status_code == 302  # not this channel
    assert owner_client.post(reverse("channels_sync:shipping_notifications"), {}).status_code == 302

    push = fulfillment_push_request(
        order_id=order.pk,
        shipment_id=1,
        tracking_number="1Z999AA10123456784",
        carrier="SuperFast Line 7",
        lines=[],
        tracking_url="https://zopi.example/t/tok/",
    )

    assert (push.state, push.carrier_sent, push.tracking_url) == (PushState.PUSHED, "UPS", "")  # no URL sent
    row = SimFulfillment.objects.get(order__external_id=order.channel_order_id)
    assert (row.tracking_company, row.payload["notify_customer"]) == ("UPS", False)
    # UPS is on Shopify's list: Shopify links it, our page's URL is not sent
    assert row.payload["tracking_url"] != "https://zopi.example/t/tok/"


@LIVE_DB
def test_an_unknown_carrier_goes_with_the_tracking_page(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "cm-url")
    order = new_order(control, store, "cm-url", seed=32)

    push = fulfillment_push_request(
        order_id=order.pk,
        shipment_id=1,
        tracking_number="SP123456",
        carrier="Speedy Parcels",
        lines=[],
        tracking_url="https://zopi.example/t/tok/",
    )

    assert (push.state, push.carrier_sent, push.tracking_url) == (
        PushState.PUSHED,
        "Speedy Parcels",
        "https://zopi.example/t/tok/",
    )
    row = SimFulfillment.objects.get(order__external_id=order.channel_order_id)
    assert (row.tracking_company, row.payload["tracking_url"]) == ("Speedy Parcels", "https://zopi.example/t/tok/")


@pytest.mark.django_db
def test_support_admin_pages_for_pushes_and_mappings_load(admin_client: Client, account: Any, store: Any) -> None:
    order = factories.OrderFactory(store=store)
    push = FulfillmentPush.objects.create(
        account=account, store=store, order=order, shipment_id=1, tracking_number="LP1", last_error="Nope"
    )
    mapping = CarrierMapping.objects.create(
        account=account,
        channel="shopify",
        supplier_carrier="Speedy",
        supplier_carrier_key="speedy",
        channel_carrier="X",
    )
    for url in (
        reverse("admin:channels_sync_fulfillmentpush_changelist")
        + "?state__exact=pending&store__channel__exact=shopify",
        reverse("admin:channels_sync_fulfillmentpush_changelist") + f"?q={order.number}",
        reverse("admin:channels_sync_fulfillmentpush_change", args=[push.pk]),
        reverse("admin:channels_sync_carriermapping_changelist") + "?channel__exact=shopify&q=speedy",
        reverse("admin:channels_sync_carriermapping_change", args=[mapping.pk]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert (
        "LP1" in admin_client.get(reverse("admin:channels_sync_fulfillmentpush_changelist") + "?q=LP1").content.decode()
    )
    change = reverse("admin:channels_sync_carriermapping_change", args=[mapping.pk])
    response = admin_client.post(
        change, {"channel": "tiktok", "supplier_carrier": "Speedy  Parcels", "channel_carrier": "USPS"}
    )
    assert response.status_code == 302
    mapping.refresh_from_db()
    assert (mapping.channel, mapping.supplier_carrier_key, mapping.channel_carrier) == (
        "tiktok",
        "speedyparcels",
        "USPS",
    )
