"""AliExpress order-status messages: the sandbox's AliExpress signs and POSTs them to our endpoint
on the live server; they are stored first, then a task finds the supplier order and syncs it."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.urls import reverse

from orders.enums import OrderStatus, SubStatus, SupplierOrderState
from sandbox.models import SimAccount
from sandbox.webhooks import deliveries_send_due
from suppliers.enums import PaymentMode, SourceAccountStatus, SupplierMessageState, SupplierProvider
from suppliers.models import SourceAccount, SupplierMessage, SupplierOrder
from suppliers.services.connection import provider_for
from suppliers.services.messages import MAX_BODY, supplier_message_process
from suppliers.services.placement import order_place, place_request
from suppliers.tests.placing import link_sku, merchant, order_to_place, source_account_connect
from suppliers.tests.test_accounts import connect_aliexpress
from suppliers.tests.test_accounts import operator_app as sandbox_operator_app
from tests.workers import running_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

AE = SupplierProvider.ALIEXPRESS
APP_KEY, APP_SECRET = "zopi-test-ae-app", "zopi-test-ae-secret"


@pytest.fixture
def operator_app(settings: Any) -> None:
    settings.ALIEXPRESS_APP_KEY, settings.ALIEXPRESS_APP_SECRET = APP_KEY, APP_SECRET


def sign(body: bytes, *, key: str = APP_KEY, secret: str = APP_SECRET) -> str:
    return hmac.new(secret.encode(), key.encode() + body, hashlib.sha256).hexdigest()


def endpoint(live_server: Any) -> str:
    return f"{live_server.url}{reverse('supplier_messages:aliexpress')}"


def message_body(order_id: str | int, buyer_id: str | int = 1812345678, status: str = "PaymentAuthorized") -> bytes:
    payload = {
        "data": {"buyerId": int(buyer_id), "orderId": int(order_id), "orderStatus": status},
        "message_type": 53,
        "seller_id": "2012345678",
        "site": "ae_global",
        "timestamp": 1764590400,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def post(live_server: Any, body: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Authorization"] = signature
    return requests.post(endpoint(live_server), data=body, headers=headers, timeout=10)


def ae_placed(control: Any, name: str, *, pay: bool = False) -> tuple[Any, SupplierOrder, dict[str, Any]]:
    account, store = merchant(f"Messages {name}")
    sim = control.account(AE, name)
    source_account_connect(
        control, account, AE, name=name, payment_mode=PaymentMode.WITH_ORDER if pay else PaymentMode.LATER
    )
    link_sku(account, "EB-1", AE)
    order = order_to_place(store)
    order_place(account=account, order_id=order.pk)
    return order, SupplierOrder.objects.select_related("source_account").get(order=order), sim


@pytest.fixture
def suppliers_worker() -> Iterator[list[tuple[str, str]]]:
    with running_worker(["suppliers"]) as ran:
        yield ran


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_payment_at_aliexpress_arrives_as_a_message_and_the_order_moves_to_paid(
    control: Any, live_server: Any, settings: Any, suppliers_worker: list[tuple[str, str]]
) -> None:
    order, supplier_order, sim = ae_placed(control, "ae-messages")
    # The operator's app is the one AliExpress signs with: here the sandbox account's own.
    settings.ALIEXPRESS_APP_KEY = sim["credentials"]["app_key"]
    settings.ALIEXPRESS_APP_SECRET = sim["credentials"]["app_secret"]
    control.webhook(AE, "ae-messages", endpoint(live_server))
    # the merchant pays at AliExpress (its create call again, same key, with payment on)
    assert supplier_order.source_account is not None
    provider_for(supplier_order.source_account).place(place_request(supplier_order, pay=True))

    assert deliveries_send_due() >= 1  # the sandbox POSTs "PaymentAuthorized" to our endpoint

    def paid() -> bool:
        # The sync commits the order's move before the message is marked done: wait for both.
        return (
            SupplierOrder.objects.filter(pk=supplier_order.pk, state=SupplierOrderState.PAID).exists()
            and not SupplierMessage.objects.filter(state=SupplierMessageState.PENDING).exists()
        )

    # Generous: the worker thread shares two busy cores with the live server and this test.
    assert wait_for(paid, timeout=60), (
        suppliers_worker,
        list(SupplierMessage.objects.values_list("state", "error")),
        SupplierOrder.objects.values_list("state", "sync_failures", "failure_reason").get(pk=supplier_order.pk),
    )
    stored = list(SupplierMessage.objects.all())
    assert stored
    assert all(m.state != SupplierMessageState.PENDING for m in stored)
    assert any(m.state == SupplierMessageState.PROCESSED for m in stored)
    assert "Authorization" not in stored[0].headers  # the signature is checked, not kept
    order.refresh_from_db()
    assert (order.status, order.sub_status) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)


def test_a_bad_signature_is_refused_and_nothing_is_stored(live_server: Any, operator_app: None) -> None:
    body = message_body(8100000000001)

    wrong = post(live_server, body, sign(body, secret="not-the-secret"))
    missing = post(live_server, body, None)
    other_key = post(live_server, body, sign(body, key="another-app"))

    assert (wrong.status_code, missing.status_code, other_key.status_code) == (401, 401, 401)
    assert not SupplierMessage.objects.exists()


def test_without_an_app_secret_configured_every_message_is_refused(live_server: Any, settings: Any) -> None:
    settings.ALIEXPRESS_APP_KEY, settings.ALIEXPRESS_APP_SECRET = APP_KEY, ""
    body = message_body(8100000000001)
    assert post(live_server, body, sign(body, secret="")).status_code == 401
    assert not SupplierMessage.objects.exists()


def test_a_repeated_message_is_acknowledged_and_ignored(live_server: Any, operator_app: None) -> None:
    body = message_body(8100000000002)

    first = post(live_server, body, sign(body))
    again = post(live_server, body, sign(body))

    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.text, again.text) == ("stored", "already received")
    assert SupplierMessage.objects.count() == 1


def test_a_message_for_an_unknown_order_is_ignored_with_the_reason(live_server: Any, operator_app: None) -> None:
    body = message_body(8100000000003)
    assert post(live_server, body, sign(body)).status_code == 200
    message = SupplierMessage.objects.get()

    assert supplier_message_process(message_id=message.pk) == SupplierMessageState.IGNORED

    message.refresh_from_db()
    assert message.state == SupplierMessageState.IGNORED
    assert message.error == "no supplier order with AliExpress order id 8100000000003"
    assert message.processed_at is not None
    assert supplier_message_process(message_id=message.pk) == "skipped"  # a second task does nothing


def test_a_message_finds_its_order_by_aliexpress_id_and_syncs_it(
    control: Any, live_server: Any, operator_app: None
) -> None:
    order, supplier_order, sim = ae_placed(control, "ae-message-sync")
    assert supplier_order.last_synced_at is None
    body = message_body(
        supplier_order.external_order_id, buyer_id=sim["credentials"]["buyer_id"], status="OrderCreated"
    )
    assert post(live_server, body, sign(body)).status_code == 200

    outcome = supplier_message_process(message_id=SupplierMessage.objects.get().pk)

    assert outcome == SupplierMessageState.PROCESSED
    supplier_order.refresh_from_db()
    assert supplier_order.last_synced_at is not None
    assert supplier_order.pay_by is not None
    assert supplier_order.external_status == "PLACE_ORDER_SUCCESS"


def test_a_message_of_another_buyer_is_ignored(control: Any, live_server: Any, operator_app: None) -> None:
    order, supplier_order, sim = ae_placed(control, "ae-message-buyer")
    body = message_body(supplier_order.external_order_id, buyer_id=1899999999)
    assert post(live_server, body, sign(body)).status_code == 200

    assert supplier_message_process(message_id=SupplierMessage.objects.get().pk) == SupplierMessageState.IGNORED

    assert "another buyer" in SupplierMessage.objects.get().error
    supplier_order.refresh_from_db()
    assert supplier_order.last_synced_at is None


def test_a_message_for_an_order_of_a_replaced_account_is_ignored(
    control: Any, live_server: Any, operator_app: None
) -> None:
    order, supplier_order, sim = ae_placed(control, "ae-message-replaced")
    SourceAccount.objects.filter(pk=supplier_order.source_account_id).update(status=SourceAccountStatus.REPLACED)
    body = message_body(supplier_order.external_order_id, buyer_id=sim["credentials"]["buyer_id"])
    assert post(live_server, body, sign(body)).status_code == 200

    supplier_message_process(message_id=SupplierMessage.objects.get().pk)

    message = SupplierMessage.objects.get()
    assert (message.state, message.error) == (
        SupplierMessageState.IGNORED,
        "placed with a previous supplier account: no longer synced",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"message_type": 53, "data": {"orderId": "12a"}}',
        b'{"message_type": 1, "data": {"orderId": 8100000000004}}',
        b"[1, 2]",
    ],
)
def test_a_message_that_cannot_be_used_is_ignored_with_the_reason(
    live_server: Any, operator_app: None, body: bytes
) -> None:
    assert post(live_server, body, sign(body)).status_code == 200
    message = SupplierMessage.objects.get()

    assert supplier_message_process(message_id=message.pk) == SupplierMessageState.IGNORED

    message.refresh_from_db()
    assert message.error  # says why


def test_a_body_over_the_cap_is_refused_before_it_is_read(live_server: Any, operator_app: None) -> None:
    body = b"{" + b" " * MAX_BODY + b"}"
    assert post(live_server, body, sign(body)).status_code == 413
    assert not SupplierMessage.objects.exists()


def test_only_post_is_accepted(live_server: Any, operator_app: None) -> None:
    assert requests.get(endpoint(live_server), timeout=10).status_code == 405


def test_an_account_connected_through_the_authorization_page_gets_messages_signed_with_the_operators_app(
    owner_client: Any, account: Any, store: Any, control: Any, live_server: Any, settings: Any
) -> None:
    """As in the dev profile: the merchant authorized the operator's app, and AliExpress signs the
    messages of that buyer's orders with the app's secret, the one our endpoint checks."""
    sandbox_operator_app(settings, live_server.url)
    control.account(AE, "ae-oauth-buyer")
    buyer = SimAccount.objects.get(provider=AE, name="ae-oauth-buyer")
    assert connect_aliexpress(owner_client, buyer.pk).status_code == 302
    source = SourceAccount.objects.get(account=account, provider=AE)
    SourceAccount.objects.filter(pk=source.pk).update(payment_mode=PaymentMode.LATER)
    link_sku(account, "EB-1", AE)
    order = order_to_place(store)
    order_place(account=account, order_id=order.pk)
    supplier_order = SupplierOrder.objects.get(order=order)
    assert supplier_order.state == SupplierOrderState.PLACED
    control.webhook(AE, "ae-oauth-buyer", endpoint(live_server))
    # the buyer pays at AliExpress: the sandbox signs "PaymentAuthorized" with the operator's app
    source.refresh_from_db()
    provider_for(source).place(place_request(supplier_order, pay=True))

    assert deliveries_send_due() >= 1

    message = SupplierMessage.objects.get()  # accepted: the signature is the operator app's
    assert supplier_message_process(message_id=message.pk) == SupplierMessageState.PROCESSED
    supplier_order.refresh_from_db()
    assert supplier_order.state == SupplierOrderState.PAID
