"""CJdropshipping API 2.0 against the sandbox over real HTTP: tokens, place (paid and unpaid)
under one orderNumber, pay, every payment failure the simulator gives, refusals, and ``find``
after an outcome that is not known (a timeout after CJ charged, a 5xx before it did)."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from integrations.errors import CredentialsError, OutcomeUnknown, ProviderError
from integrations.oauth import GrantRefused
from sandbox.tests.conftest import SANDBOX_LIVE_DB
from suppliers.providers.base import (
    REGISTRY,
    PaymentFailed,
    PlaceLine,
    PlaceRequest,
    ShipTo,
    SupplierRefused,
)
from suppliers.providers.cj import CjProvider

pytestmark = [SANDBOX_LIVE_DB, pytest.mark.postgres]

ADDRESS = ShipTo(
    name="Ana Souza",
    phone="+1 555 0100",
    address1="1 Main St",
    city="Austin",
    country_code="US",
    zip="78701",
    province="TX",
)


def request_for(key: str, *, pay: bool = True, ship_to: ShipTo = ADDRESS, **line: Any) -> PlaceRequest:
    fields = {"product_id": "VID-1001", "sku": "", "quantity": 2, **line}
    return PlaceRequest(idempotency_key=key, lines=(PlaceLine(**fields),), ship_to=ship_to, pay=pay)


@pytest.fixture
def account(control: Any) -> dict[str, Any]:
    return control.account("cj", "acme-cj")


@pytest.fixture
def connect(account: dict[str, Any]) -> Any:
    """A provider for the account with a token from its API key (``timeout`` etc. as options)."""
    grant = CjProvider.token_get(base_url=account["base_url"], api_key=account["credentials"]["api_key"])

    def make(**options: Any) -> CjProvider:
        credentials = {**grant.credentials(), **options.pop("credentials", {})}
        return CjProvider(base_url=account["base_url"], credentials=credentials, **options)

    return make


def charges_for(control: Any, key: str) -> list[dict[str, Any]]:
    return [c for c in control.ledger() if c["idempotency_key"] == key]


def test_registered() -> None:
    assert REGISTRY["cj"] is CjProvider


def test_token_get_and_refresh(account: dict[str, Any]) -> None:
    base, api_key = account["base_url"], account["credentials"]["api_key"]
    grant = CjProvider.token_get(base_url=base, api_key=api_key)
    assert grant.access_token
    assert grant.refresh_token
    assert grant.expires_at is not None
    assert grant.refresh_expires_at is not None
    assert timedelta(days=14) < grant.expires_at - timezone.now() <= timedelta(days=15)
    assert timedelta(days=179) < grant.refresh_expires_at - timezone.now() <= timedelta(days=180)
    assert grant.extra["open_id"]
    refreshed = CjProvider.refresh_grant(base_url=base, credentials=grant.credentials())
    assert refreshed.access_token
    provider = CjProvider(base_url=base, credentials=refreshed.credentials())
    assert provider.find("never-placed") is None  # the refreshed token is accepted


def test_refused_api_key_and_refresh_token(account: dict[str, Any]) -> None:
    base = account["base_url"]
    with pytest.raises(GrantRefused, match="API key"):
        CjProvider.token_get(base_url=base, api_key="CJ000@api@wrong")
    with pytest.raises(GrantRefused):
        CjProvider.refresh_grant(base_url=base, credentials={"refresh_token": "spent"})
    with pytest.raises(GrantRefused, match="no refresh token"):
        CjProvider.refresh_grant(base_url=base, credentials={})


def test_refused_access_token_without_a_token_source(account: dict[str, Any]) -> None:
    provider = CjProvider(base_url=account["base_url"], credentials={"access_token": "stale"})
    with pytest.raises(CredentialsError, match="API key or access token"):
        provider.place(request_for("zopi-stale"))


class RotatingToken:
    """A token source whose first token is stale: a 1600001 refreshes it once and retries."""

    def __init__(self, fresh: str) -> None:
        self.token, self.fresh, self.refreshes = "stale", fresh, 0

    def current(self) -> str:
        return self.token

    def refreshed(self, stale: str) -> str:
        self.refreshes += 1
        self.token = self.fresh
        return self.token


def test_invalid_token_is_refreshed_once_and_retried(account: dict[str, Any], control: Any) -> None:
    grant = CjProvider.token_get(base_url=account["base_url"], api_key=account["credentials"]["api_key"])
    tokens = RotatingToken(grant.access_token)
    provider = CjProvider(base_url=account["base_url"], credentials={}, token_source=tokens)
    placed = provider.place(request_for("zopi-rotate", pay=False))
    assert tokens.refreshes == 1
    assert placed.order.status == "CREATED"


def test_place_unpaid_then_pay(connect: Any, control: Any) -> None:
    provider = connect()
    placed = provider.place(request_for("zopi-1001", pay=False))
    order = placed.order
    assert (order.status, order.paid, placed.payment_failure) == ("CREATED", False, None)
    assert order.total == order.items_total + order.shipping_total  # type: ignore[operator]
    assert order.shipping_total == Decimal("4.50")
    assert order.currency == "USD"
    assert charges_for(control, "zopi-1001") == []
    paid = provider.pay(order.external_id)
    assert paid.paid
    assert paid.status == "UNSHIPPED"
    assert paid.external_id == order.external_id
    [charge] = charges_for(control, "zopi-1001")
    assert Decimal(charge["amount"]) == order.total
    assert charge["supplier_order_id"] == order.external_id
    assert provider.pay(order.external_id).paid  # paying a paid order: no second charge
    assert len(charges_for(control, "zopi-1001")) == 1


def test_place_paid_twice_with_one_key_is_one_order_and_one_charge(connect: Any, control: Any) -> None:
    provider = connect()
    first = provider.place(request_for("zopi-1002", shipping_method="USPS+"))
    second = provider.place(request_for("zopi-1002", shipping_method="USPS+"))
    assert first.order.paid
    assert first.payment_failure is None
    assert second.order.external_id == first.order.external_id
    assert second.order.paid
    assert len(charges_for(control, "zopi-1002")) == 1
    found = provider.find("zopi-1002")
    assert found is not None
    assert found.external_id == first.order.external_id
    assert found.paid
    assert provider.get(first.order.external_id).total == first.order.total


def test_created_but_the_wallet_payment_failed(connect: Any, control: Any) -> None:
    control.options("cj", "acme-cj", balance="1.00")
    provider = connect()
    placed = provider.place(request_for("zopi-1003"))
    assert not placed.order.paid
    assert placed.order.status == "CREATED"
    assert placed.payment_failure is not None
    assert "Insufficient balance" in placed.payment_failure.message
    assert "Top up" in placed.payment_failure.fix
    with pytest.raises(PaymentFailed) as failed:
        provider.pay(placed.order.external_id)
    assert failed.value.refusal.code == "1602001"
    assert "wallet balance is too low" in failed.value.refusal.message
    assert charges_for(control, "zopi-1003") == []
    control.options("cj", "acme-cj", balance="1000.00")  # topped up: the retry pays, once
    assert provider.pay(placed.order.external_id).paid
    assert len(charges_for(control, "zopi-1003")) == 1


@pytest.mark.parametrize(("reason", "said"), [("card_declined", "Card declined"), ("risk_control", "risk control")])
def test_payment_declined(connect: Any, control: Any, reason: str, said: str) -> None:
    control.options("cj", "acme-cj", payment_failure=reason)
    provider = connect()
    placed = provider.place(request_for(f"zopi-{reason}", pay=False))
    with pytest.raises(PaymentFailed) as failed:
        provider.pay(placed.order.external_id)
    refusal = failed.value.refusal
    assert refusal.code == "1602002"
    assert said in refusal.message
    assert "retry the payment" in refusal.fix
    assert charges_for(control, f"zopi-{reason}") == []


def test_paying_an_unknown_order_is_a_payment_refusal(connect: Any) -> None:
    with pytest.raises(PaymentFailed) as failed:
        connect().pay("2400000000000000001")
    assert failed.value.refusal.code == "1600100"


@pytest.mark.parametrize(
    ("ship_to", "said"),
    [
        (ShipTo(name="Ana", phone="1", address1="1 Main St", city="", country_code="US", zip="78701"), "shippingCity"),
        (ShipTo(name="Ana", phone="1", address1="1 Main St", city="Austin", country_code="US"), "shippingZip"),
        (ShipTo(name="", phone="1", address1="1 Main St", city="Austin", country_code="US", zip="1"), "CustomerName"),
    ],
)
def test_address_refusals_name_the_field_and_the_fix(connect: Any, control: Any, ship_to: ShipTo, said: str) -> None:
    with pytest.raises(SupplierRefused) as refused:
        connect().place(request_for("zopi-bad-address", ship_to=ship_to))
    refusal = refused.value.refusal
    assert not isinstance(refused.value, PaymentFailed)
    assert refusal.code == "1600101"
    assert said in refusal.message
    assert "Correct the field" in refusal.fix
    assert connect().find("zopi-bad-address") is None


def test_what_cj_cannot_take_is_refused_before_anything_is_sent(connect: Any) -> None:
    provider = connect()
    two_methods = PlaceRequest(
        idempotency_key="zopi-two",
        lines=(PlaceLine("VID-1", "", 1, "USPS+"), PlaceLine("VID-2", "", 1, "CJPacket Ordinary")),
        ship_to=ADDRESS,
    )
    for bad in (request_for("k" * 101), request_for(""), two_methods):
        with pytest.raises(ValueError, match="orderNumber|shipping method"):
            provider.place(bad)
    assert provider.client.attempts == []


def test_find_after_a_timeout_once_cj_charged(connect: Any, control: Any) -> None:
    """The answer is lost (the client gave up while the sandbox stalled, then CJ did it): the
    write is not re-sent; ``find`` by the orderNumber says it was placed and paid, once."""
    provider = connect(timeout=1.0)
    assert provider.find("zopi-lost") is None
    control.faults({"cj": {"timeout": 1.0}})
    with pytest.raises(OutcomeUnknown):
        provider.place(request_for("zopi-lost"))
    assert [a.path for a in provider.client.attempts].count("/sandbox/cj/api2.0/v1/shopping/order/createOrderV2") == 1
    control.faults({"cj": {}})
    found = None
    deadline = time.monotonic() + 10
    while (found is None or not found.paid) and time.monotonic() < deadline:  # the stalled request finishes
        found = provider.find("zopi-lost")
        time.sleep(0.2)
    assert found is not None
    assert found.paid
    assert len(charges_for(control, "zopi-lost")) == 1


def test_a_5xx_on_create_is_unknown_and_find_says_nothing_was_made(connect: Any, control: Any) -> None:
    provider = connect()
    control.faults({"cj": {"http_5xx": 1.0}})
    with pytest.raises(OutcomeUnknown):
        provider.place(request_for("zopi-5xx"))
    control.faults({"cj": {}})
    assert provider.find("zopi-5xx") is None
    placed = provider.place(request_for("zopi-5xx"))  # nothing under the key: sent again, once
    assert placed.order.paid
    assert len(charges_for(control, "zopi-5xx")) == 1


def test_a_5xx_on_pay_is_unknown(connect: Any, control: Any) -> None:
    provider = connect()
    placed = provider.place(request_for("zopi-pay-5xx", pay=False))
    control.faults({"cj": {"http_5xx": 1.0}})
    with pytest.raises(OutcomeUnknown):
        provider.pay(placed.order.external_id)
    control.faults({"cj": {}})
    assert not provider.get(placed.order.external_id).paid


def test_call_limit_is_retried_even_for_a_write(connect: Any, control: Any) -> None:
    provider = connect(max_attempts=2)
    control.faults({"cj": {"http_429": 1.0}})
    with pytest.raises(ProviderError) as failed:
        provider.place(request_for("zopi-429"))
    assert not isinstance(failed.value, OutcomeUnknown)
    assert failed.value.retryable
    assert len(provider.client.attempts) == 2
    control.faults({"cj": {}})
    assert provider.find("zopi-429") is None


def test_a_cut_answer_is_a_retryable_error_not_a_crash(connect: Any, control: Any) -> None:
    provider = connect()
    control.faults({"cj": {"malformed": 1.0}})
    with pytest.raises(ProviderError) as failed:
        provider.find("zopi-cut")
    assert failed.value.retryable


@pytest.mark.parametrize("tax_id", ["", "123.456.789-00"])
def test_brazil_without_a_valid_cpf_is_refused(connect: Any, tax_id: str) -> None:
    to = ShipTo(
        name="Ana", phone="1", address1="Rua 1", city="Recife", country_code="BR", zip="50000-000", tax_id=tax_id
    )
    with pytest.raises(SupplierRefused) as refused:
        connect().place(request_for("zopi-br", ship_to=to))
    assert refused.value.refusal.code == "1600101"
    assert "CPF" in refused.value.refusal.message


def test_brazil_with_a_valid_cpf_is_placed(connect: Any) -> None:
    to = ShipTo(
        name="Ana",
        phone="1",
        address1="Rua 1",
        city="Recife",
        country_code="BR",
        zip="50000-000",
        tax_id="529.982.247-25",
    )
    assert connect().place(request_for("zopi-br-ok", ship_to=to)).order.paid


def test_a_variant_gone_is_refused_with_the_link_fix(connect: Any, control: Any) -> None:
    control.options("cj", "acme-cj", out_of_stock=["VID-GONE"])
    with pytest.raises(SupplierRefused) as refused:
        connect().place(request_for("zopi-gone", product_id="VID-GONE"))
    refusal = refused.value.refusal
    assert refusal.code == "1600100"
    assert "VID-GONE" in refusal.message
    assert "link another" in refusal.fix
    assert charges_for(control, "zopi-gone") == []
