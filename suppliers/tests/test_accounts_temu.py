"""The Temu (SIMULATED) provider against the sandbox over real HTTP: place paid and unpaid under
one Idempotency-Key, pay, each payment failure, a refusal, ``find`` after an unknown outcome, a
bad key, and its host rule (no public host: only the sandbox)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from integrations.errors import CredentialsError, HostNotAllowed, OutcomeUnknown
from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control
from suppliers.providers.base import REGISTRY, PaymentFailed, PlaceLine, PlaceRequest, ShipTo, SupplierRefused
from suppliers.providers.temu import TemuProvider

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


def request_for(key: str, *, pay: bool = True, ship_to: ShipTo = ADDRESS) -> PlaceRequest:
    line = PlaceLine(product_id="", sku="TEMU-SKU-7", quantity=2)
    return PlaceRequest(idempotency_key=key, lines=(line,), ship_to=ship_to, pay=pay)


@pytest.fixture
def temu(control: Control) -> Any:
    account = control.account("temu", "acme-temu")

    def make(**credentials: str) -> TemuProvider:
        return TemuProvider(
            base_url=account["base_url"], credentials={"api_key": account["credentials"]["api_key"], **credentials}
        )

    return make


def charges_for(control: Control, key: str) -> list[dict[str, Any]]:
    return [c for c in control.ledger() if c["idempotency_key"] == key]


def test_registered_and_labelled_simulated() -> None:
    assert REGISTRY["temu"] is TemuProvider
    from suppliers.enums import SupplierProvider

    assert SupplierProvider.TEMU.label == "Temu (simulated)"


def test_place_unpaid_then_pay_once(temu: Any, control: Control) -> None:
    provider = temu()
    placed = provider.place(request_for("temu-k1", pay=False))
    assert (placed.order.paid, placed.payment_failure) == (False, None)
    assert placed.order.total is not None
    assert placed.order.total > Decimal("0")
    again = provider.place(request_for("temu-k1", pay=False))  # the same key: the same order
    assert again.order.external_id == placed.order.external_id
    paid = provider.pay(placed.order.external_id)
    assert paid.paid
    assert provider.pay(placed.order.external_id).paid  # paying again charges nothing more
    assert len(charges_for(control, "temu-k1")) == 1
    got = provider.get(placed.order.external_id)
    assert (got.external_id, got.paid, got.currency) == (placed.order.external_id, True, "USD")


def test_payment_failures_say_why(temu: Any, control: Control) -> None:
    control.options("temu", "acme-temu", balance="1.00")
    provider = temu()
    placed = provider.place(request_for("temu-poor"))  # auto_pay: created, not paid
    assert not placed.order.paid
    assert placed.payment_failure is not None
    assert placed.payment_failure.code == "insufficient_balance"
    assert "Top up" in placed.payment_failure.fix
    with pytest.raises(PaymentFailed) as failed:
        provider.pay(placed.order.external_id)
    assert failed.value.refusal.code == "insufficient_balance"
    assert charges_for(control, "temu-poor") == []
    control.options("temu", "acme-temu", balance="1000.00")
    assert provider.pay(placed.order.external_id).paid


def test_a_refusal_is_final_and_says_what(temu: Any) -> None:
    no_state = ShipTo(name="Ana", phone="1", address1="1 Main St", city="Austin", country_code="US", zip="78701")
    with pytest.raises(SupplierRefused) as refused:
        temu().place(request_for("temu-nostate", ship_to=no_state))
    assert refused.value.refusal.code == "parameter_invalid"
    assert "state" in refused.value.refusal.message


def test_an_unknown_outcome_is_resolved_by_find(temu: Any, control: Control) -> None:
    provider = temu()
    control.faults({"temu": {"http_5xx": 1.0}})
    try:
        with pytest.raises(OutcomeUnknown):
            provider.place(request_for("temu-lost"))
    finally:
        control.faults({"temu": {}})
    assert provider.find("temu-lost") is None  # the 5xx came before anything was made
    made = provider.place(request_for("temu-lost"))
    found = provider.find("temu-lost")
    assert found is not None
    assert found.external_id == made.order.external_id
    assert len(charges_for(control, "temu-lost")) == 1


def test_a_bad_key_is_a_credentials_error(temu: Any) -> None:
    with pytest.raises(CredentialsError):
        temu(api_key="tk_live_wrong").account_info()


def test_no_public_host_is_allowed(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    settings.OUTBOUND_RESOLVE = {"api.temu.com": ["93.184.216.34"]}  # a public address: the name decides
    provider = TemuProvider(base_url="https://api.temu.com/v1", credentials={"api_key": "x"})
    with pytest.raises(HostNotAllowed):
        provider.account_info()
