"""A refused push shows the channel's words and is retried (the drawer's Retry view, the admin
action); roles, tenants and CSRF on the view; the hand-over through a real worker on the ``push``
queue; hostile hand-overs dropped with a reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from celery import current_app
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_sync.enums import PushState
from channels_sync.models import CarrierMapping, FulfillmentPush, Store
from channels_sync.services.push import fulfillment_push_request
from channels_sync.tasks import fulfillment_push_request as request_task
from orders.models import Order
from sandbox.models import ChannelOrder as SimOrder
from sandbox.providers.woocommerce.orders import order_update as woo_order_update
from tests import factories
from tests.workers import running_worker, wait_for

from .conftest import LIVE_DB
from .push_helpers import connect, made, new_order

pytestmark = LIVE_DB


def sim(order: Order) -> SimOrder:
    return SimOrder.objects.get(external_id=order.channel_order_id, account__provider=order.channel)


def _shopify_cancel(order: Order, client: Client) -> None:
    SimOrder.objects.filter(pk=sim(order).pk).update(canceled_at=timezone.now())


def _shopify_restore(order: Order, client: Client) -> None:  # the merchant sorted it out in Shopify
    SimOrder.objects.filter(pk=sim(order).pk).update(canceled_at=None)


def _woo_fail(order: Order, client: Client) -> None:
    woo_order_update(order=sim(order), data={"status": "failed"})


def _woo_process(order: Order, client: Client) -> None:
    woo_order_update(order=sim(order), data={"status": "processing"})


def _nothing(order: Order, client: Client) -> None:
    return None


def _map_correios(order: Order, client: Client) -> None:  # on the carrier mapping page, as the owner
    response = client.post(
        reverse("channels_sync:carrier_mapping_add"),
        {"new-channel": "tiktok", "new-supplier_carrier": "CORREIOS ", "new-channel_carrier": "USPS"},
    )
    assert response.status_code == 302


Step = Callable[[Order, Client], None]
# channel → carrier, how the channel comes to refuse, its code and words, how it is fixed
REFUSALS: dict[str, tuple[str, Step, str, str, Step]] = {
    "shopify": (
        "UPS",
        _shopify_cancel,
        "order_cancelled",
        "The order is cancelled in Shopify: nothing was fulfilled",
        _shopify_restore,
    ),
    "woocommerce": (
        "UPS",
        _woo_fail,
        "order_failed",
        "The order is failed in WooCommerce: nothing was sent",
        _woo_process,
    ),
    "tiktok": (
        "Correios",
        _nothing,
        "unknown_carrier",
        "TikTok Shop has no shipping provider for the carrier “Correios”: map “Correios” to one of TikTok Shop's "
        "providers in the carrier mapping (USPS, UPS, FedEx, DHL eCommerce, YunExpress, 4PX, Cainiao, Yanwen, "
        "China Post, TT Virtual express)",
        _map_correios,
    ),
}


def handover(order: Order, number: str, carrier: str, shipment_id: int = 1) -> dict[str, Any]:
    return {
        "order_id": order.pk,
        "shipment_id": shipment_id,
        "tracking_number": number,
        "carrier": carrier,
        "lines": [],
        "tracking_url": "",
    }


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "tiktok"])
def test_a_refusal_fails_with_the_channels_words_then_retry_pushes(
    control: Any, site_url: str, account: Any, owner_client: Client, channel: str
) -> None:
    store = connect(control, account, channel, f"pr-{channel}")
    order = new_order(control, store, f"pr-{channel}", seed=21)
    carrier, refuse, code, words, fix = REFUSALS[channel]
    refuse(order, owner_client)

    push = fulfillment_push_request(**handover(order, "REFUSED00001", carrier))

    assert (push.state, push.error_code, push.last_error) == (PushState.FAILED, code, words)
    assert made(order) == []
    fix(order, owner_client)

    response = owner_client.post(reverse("channels_sync:fulfillment_push_retry", args=[push.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("orders:center")
    push.refresh_from_db()  # eager: the run enqueued after commit has run
    assert (push.state, push.attempts, push.last_error) == (PushState.PUSHED, 1, ""), push.last_error
    assert [number for number, _ in made(order)] == ["REFUSED00001"]
    if channel == "tiktok":
        assert push.carrier_sent == "USPS"  # the mapping added on the page


def test_retry_roles_tenants_csrf_and_htmx(
    control: Any, site_url: str, account: Any, other_account: Any, member_client: Client, user: Any
) -> None:
    store = connect(control, account, "woocommerce", "pr-roles")
    order = new_order(control, store, "pr-roles", seed=22)
    _woo_fail(order, member_client)
    push = fulfillment_push_request(**handover(order, "ROLES0000001", "UPS"))
    assert push.state == PushState.FAILED
    url = reverse("channels_sync:fulfillment_push_retry", args=[push.pk])

    stranger = factories.UserFactory(username="mallory")
    factories.MembershipFactory(user=stranger, account=other_account, role="owner")
    foreign = Client()
    foreign.force_login(stranger)
    assert foreign.post(url).status_code == 404
    assert foreign.post(reverse("channels_sync:fulfillment_push_retry", args=[999_999])).status_code == 404

    no_token = Client(enforce_csrf_checks=True)
    no_token.force_login(user)
    assert no_token.post(url).status_code == 403
    assert member_client.get(url).status_code == 405
    push.refresh_from_db()
    assert push.state == PushState.FAILED

    _woo_process(order, member_client)
    response = member_client.post(url, HTTP_HX_REQUEST="true")  # a staff member, from the drawer

    assert response.status_code == 204
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["toast"]["message"] == "The fulfillment of ROLES0000001 is being sent again."
    assert "orders-changed" in trigger
    push.refresh_from_db()
    assert push.state == PushState.PUSHED

    again = member_client.post(url, {"next": "/orders/?tab=shipped"})
    assert again.status_code == 302
    assert again["Location"] == "/orders/?tab=shipped"
    said = [str(message) for message in get_messages(again.wsgi_request)]
    assert said == ["The push of ROLES0000001 is not failed (Fulfilled in the channel): nothing to retry"]
    htmx = member_client.post(url, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204
    assert "orders-changed" not in json.loads(htmx["HX-Trigger"])


def test_the_admin_retries_the_selected_failed_pushes(
    control: Any, site_url: str, account: Any, admin_client: Client
) -> None:
    store = connect(control, account, "woocommerce", "pr-admin")
    order = new_order(control, store, "pr-admin", seed=23)
    _woo_fail(order, admin_client)
    failed = fulfillment_push_request(**handover(order, "ADMIN0000001", "UPS"))
    done = fulfillment_push_request(**handover(order, "ADMIN0000002", "UPS", shipment_id=2))
    assert (failed.state, done.state) == (PushState.FAILED, PushState.FAILED)
    FulfillmentPush.objects.filter(pk=done.pk).update(state=PushState.ALREADY_FULFILLED)  # support sorted it
    _woo_process(order, admin_client)

    listing = admin_client.get(reverse("admin:channels_sync_fulfillmentpush_changelist"), {"q": "ADMIN0000001"})
    assert listing.status_code == 200
    assert "The order is failed in WooCommerce" in listing.content.decode()
    response = admin_client.post(
        reverse("admin:channels_sync_fulfillmentpush_changelist"),
        {"action": "retry", "_selected_action": [failed.pk, done.pk]},
    )

    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.state == PushState.PUSHED
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert said == ["1 push sent again. 1 push had not failed."]


@pytest.mark.celery_worker
def test_the_handover_task_runs_on_the_push_queue_in_a_real_worker(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "pr-worker")
    order = new_order(control, store, "pr-worker", seed=24)
    line = order.lines.first()
    assert line is not None
    current_app.conf.task_always_eager = False  # (the autouse fixture puts it back)

    with running_worker(["push"]) as ran:
        kwargs = handover(order, "WORKER000001", "USPS", shipment_id=31)
        kwargs["lines"] = [{"order_line_id": line.pk, "quantity": line.quantity}]
        kwargs["tracking_url"] = "https://zopi.example/t/abc/"
        current_app.send_task(settings.FULFILLMENT_PUSH_TASK, kwargs=kwargs)
        current_app.send_task(settings.FULFILLMENT_PUSH_TASK, kwargs=kwargs)  # a redelivery
        assert wait_for(lambda: len(ran) >= 2)

    assert [name for name, _thread in ran] == ["channels_sync.fulfillment_push_request"] * 2
    push = FulfillmentPush.objects.get(order=order)
    assert (push.state, push.shipment_id, push.carrier_sent) == (PushState.PUSHED, 31, "USPS")
    assert made(order) == [("WORKER000001", "USPS")]


def test_hostile_handovers_are_dropped_with_a_reason(account: Any, store: Store, other_store: Store) -> None:
    order = factories.OrderFactory(store=store)
    line = order.lines.get()
    foreign_line = factories.OrderFactory(store=other_store).lines.get()
    good = {
        "order_id": order.pk,
        "shipment_id": 5,
        "tracking_number": "LP123",
        "carrier": "4PX",
        "lines": [{"order_line_id": line.pk, "quantity": 1}],
        "tracking_url": "",
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"order_id": "1"}, "order_id must be a positive whole number"),
        ({"order_id": True}, "order_id must be a positive whole number"),
        ({"order_id": 99_999_999}, "no order 99999999"),
        ({"shipment_id": -3}, "shipment_id must be a positive whole number"),
        ({"tracking_number": ""}, "tracking_number is empty"),
        ({"tracking_number": None}, "tracking_number must be text"),
        ({"tracking_number": "A" * 65}, "tracking_number is not readable text of at most 64 characters"),
        ({"tracking_number": "LP 123"}, "tracking_number has spaces in it"),
        ({"tracking_number": "LP\x00123"}, "tracking_number is not readable text of at most 64 characters"),
        ({"carrier": 7}, "carrier must be text"),
        ({"tracking_url": "javascript:alert(1)"}, "tracking_url is not an http(s) address"),
        ({"lines": "all"}, "lines must be a list of at most 500 lines"),
        ({"lines": [{"order_line_id": line.pk}]}, "each line must be {order_line_id, quantity}"),
        ({"lines": [{"order_line_id": line.pk, "quantity": 0}]}, "quantity must be a positive whole number"),
        (
            {"lines": [{"order_line_id": line.pk, "quantity": 2}]},
            f"line {line.pk} has fewer units than the parcel holds",
        ),
        (
            {"lines": [{"order_line_id": foreign_line.pk, "quantity": 1}]},
            f"line {foreign_line.pk} is not a line of order {order.pk} (or is named twice)",
        ),
        (
            {"lines": [{"order_line_id": line.pk, "quantity": 1}] * 2},
            f"line {line.pk} is not a line of order {order.pk} (or is named twice)",
        ),
    ]
    said = [request_task.apply(kwargs={**good, **change}).get() for change, _reason in cases]

    assert said == [f"dropped: {reason}" for _change, reason in cases]
    assert (
        request_task.apply(kwargs={"order_id": order.pk}).get()
        == "dropped: shipment_id must be a positive whole number"
    )
    assert request_task.apply(kwargs={**good, "admin": True}).get() == "dropped: unknown kwargs admin"
    assert not FulfillmentPush.objects.exists()


def test_the_admin_retry_action_needs_the_change_permission(client: Client, account: Any, store: Store) -> None:
    order = factories.OrderFactory(store=store)
    push = FulfillmentPush.objects.create(
        account=account, store=store, order=order, shipment_id=1, tracking_number="PERM1", state=PushState.FAILED
    )
    viewer = factories.UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_fulfillmentpush"))
    client.force_login(viewer)
    url = reverse("admin:channels_sync_fulfillmentpush_changelist")

    listing = client.get(url)
    response = client.post(url, {"action": "retry", "_selected_action": [push.pk]})

    assert listing.status_code == 200
    assert 'value="retry"' not in listing.content.decode()
    assert response.status_code in (200, 302)
    push.refresh_from_db()
    assert push.state == PushState.FAILED


def test_the_carrier_mapping_admin_refuses_a_duplicate_or_punctuation_as_a_form_error(
    admin_client: Client, account: Any
) -> None:
    CarrierMapping.objects.create(
        account=account,
        channel="shopify",
        supplier_carrier="Speedy",
        supplier_carrier_key="speedy",
        channel_carrier="X",
    )
    other = CarrierMapping.objects.create(
        account=account, channel="shopify", supplier_carrier="Other", supplier_carrier_key="other", channel_carrier="Y"
    )
    change = reverse("admin:channels_sync_carriermapping_change", args=[other.pk])

    clash = admin_client.post(change, {"channel": "shopify", "supplier_carrier": "S.P.E.E.D.Y", "channel_carrier": "Z"})
    dots = admin_client.post(change, {"channel": "shopify", "supplier_carrier": "...", "channel_carrier": "Z"})

    assert clash.status_code == 200
    assert "is mapped already for this channel" in clash.content.decode()
    assert dots.status_code == 200
    assert "Give both carrier names." in dots.content.decode()
    other.refresh_from_db()
    assert (other.supplier_carrier, other.supplier_carrier_key) == ("Other", "other")
