"""The AliExpress DS provider against the sandbox over real HTTP: place paid and unpaid, one order
and one charge per key, unknown outcomes resolved by placing again, each payment failure, the
supplier's refusals and the token refresh; hostile answers from a scripted server."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest

from integrations.errors import CredentialsError, NotSupported, OutcomeUnknown, ProviderError
from integrations.oauth import GrantRefused
from integrations.tests.servers import answer, serving
from sandbox.tests.conftest import SANDBOX_LIVE_DB
from suppliers.providers.aliexpress.provider import AliExpressProvider
from suppliers.providers.base import REGISTRY, PlaceLine, PlaceRequest, ShipTo, SupplierRefused

pytestmark = SANDBOX_LIVE_DB

US = ShipTo(
    name="Ada Lovelace",
    phone="+1 555 0100",
    address1="1 Main St",
    city="Vineland",
    province="New Jersey",
    zip="08360",
    country_code="US",
)
LINE = PlaceLine(product_id="1005006454451334", sku="14:193#Black", quantity=2, shipping_method="CAINIAO_STANDARD")
VALID_CPF = "52998224725"


def request(key: str = "zopi-1001-ae", *, pay: bool = True, ship_to: ShipTo = US, **line: Any) -> PlaceRequest:
    return PlaceRequest(idempotency_key=key, lines=(replace(LINE, **line),), ship_to=ship_to, pay=pay)


@pytest.fixture
def ae(control: Any) -> dict[str, Any]:
    return control.account("aliexpress", "ali-shop")


def provider_for(ae: dict[str, Any], **options: Any) -> AliExpressProvider:
    provider = REGISTRY["aliexpress"](base_url=ae["base_url"], credentials=ae["credentials"], **options)
    assert isinstance(provider, AliExpressProvider)
    return provider


def charges(control: Any, key: str) -> list[dict[str, Any]]:
    return [c for c in control.ledger() if c["idempotency_key"] == key]


def test_place_and_pay_makes_one_paid_order_with_its_amounts(control: Any, ae: dict[str, Any]) -> None:
    provider = provider_for(ae)
    placed = provider.place(request())

    assert (placed.order.paid, placed.order.status, placed.payment_failure) == (True, "PAYMENT_PROCESSING", None)
    [charge] = charges(control, "zopi-1001-ae")
    info = provider.get(placed.order.external_id)
    assert (info.external_id, info.paid, info.status, info.currency) == (
        placed.order.external_id,
        True,
        "PAYMENT_PROCESSING",
        "USD",
    )
    assert info.total == Decimal(charge["amount"])
    assert info.items_total is not None
    assert info.items_total + Decimal("2.99") == info.total
    assert (info.pay_by, info.canceled, info.tracking_number) == (None, False, "")


def test_place_without_paying_leaves_it_unpaid_with_a_deadline(control: Any, ae: dict[str, Any]) -> None:
    provider = provider_for(ae)
    placed = provider.place(request(pay=False))

    assert (placed.order.paid, placed.order.status, placed.payment_failure) == (False, "PLACE_ORDER_SUCCESS", None)
    assert charges(control, "zopi-1001-ae") == []
    info = provider.get(placed.order.external_id)
    assert (info.paid, info.status) == (False, "PLACE_ORDER_SUCCESS")
    assert info.pay_by is not None


def test_one_key_placed_twice_is_one_order_and_one_charge(control: Any, ae: dict[str, Any]) -> None:
    provider = provider_for(ae)
    first, second = provider.place(request()), provider.place(request())

    assert first.order.external_id == second.order.external_id
    assert len(charges(control, "zopi-1001-ae")) == 1
    other = provider.place(request("zopi-1002-ae"))
    assert other.order.external_id != first.order.external_id


def wait_for_charges(control: Any, key: str, count: int, timeout: float = 8.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = charges(control, key)
        if len(found) >= count:
            return found
        time.sleep(0.2)
    return charges(control, key)


def test_charged_but_answer_lost_is_resolved_by_placing_again(control: Any, ae: dict[str, Any]) -> None:
    """A timeout fault stalls, then does the call: the order is made and charged, the answer lost."""
    provider = provider_for(ae, timeout=1.0)
    control.faults({"aliexpress": {"timeout": 1.0}})
    with pytest.raises(OutcomeUnknown):
        provider.place(request())
    with pytest.raises(NotSupported, match="place the same request again"):
        provider.find("zopi-1001-ae")
    assert AliExpressProvider.repeat_answers_existing_for is not None
    control.faults({"aliexpress": {}})
    assert len(wait_for_charges(control, "zopi-1001-ae", 1)) == 1  # the stalled call charged

    again = provider.place(request())

    assert again.order.paid
    assert again.payment_failure is None
    assert len(charges(control, "zopi-1001-ae")) == 1


def test_a_5xx_on_place_is_an_unknown_outcome_and_placing_again_makes_one(control: Any, ae: dict[str, Any]) -> None:
    provider = provider_for(ae)
    control.faults({"aliexpress": {"http_5xx": 1.0}})
    with pytest.raises(OutcomeUnknown):
        provider.place(request())
    control.faults({"aliexpress": {}})

    placed = provider.place(request())

    assert placed.order.paid
    assert len(charges(control, "zopi-1001-ae")) == 1


def test_the_rate_limit_is_waited_out_and_never_makes_an_order(control: Any, ae: dict[str, Any]) -> None:
    provider = provider_for(ae, max_attempts=2)
    control.faults({"aliexpress": {"http_429": 1.0}})
    with pytest.raises(ProviderError, match="ApiCallLimit") as raised:
        provider.place(request())
    assert raised.value.retryable
    assert not isinstance(raised.value, OutcomeUnknown)
    control.faults({"aliexpress": {}})
    assert charges(control, "zopi-1001-ae") == []


@pytest.mark.parametrize(
    "options", [{"balance": "1.00"}, {"payment_failure": "card_declined"}, {"payment_failure": "risk_control"}]
)
def test_each_payment_failure_is_created_but_unpaid_then_retry_pays_once(
    control: Any, ae: dict[str, Any], options: dict[str, str]
) -> None:
    provider = provider_for(ae)
    control.options("aliexpress", "ali-shop", **options)
    placed = provider.place(request())

    assert (placed.order.paid, placed.order.status) == (False, "PLACE_ORDER_SUCCESS")
    assert placed.payment_failure is not None
    assert placed.payment_failure.code == "APIPayFail"
    assert "retry the payment" in placed.payment_failure.fix
    assert charges(control, "zopi-1001-ae") == []
    assert provider.get(placed.order.external_id).paid is False

    control.options("aliexpress", "ali-shop", balance="1000.00", payment_failure="")
    retried = provider.place(request())  # the retry: the same key, with payment

    assert (retried.order.external_id, retried.order.paid, retried.payment_failure) == (
        placed.order.external_id,
        True,
        None,
    )
    assert len(charges(control, "zopi-1001-ae")) == 1


@pytest.mark.parametrize(
    ("ship_to", "code", "said"),
    [
        (replace(US, province=""), "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "State/Province"),
        (replace(US, city=""), "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "City"),
        (replace(US, zip=""), "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "ZIP"),
        (replace(US, country_code="BR", tax_id="12345678900"), "B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_CN_INVALID", "CPF"),
        (replace(US, country_code="BR"), "B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_CN_INVALID", "CPF"),
    ],
)
def test_address_refusals_say_what_is_wrong_and_make_nothing(
    control: Any, ae: dict[str, Any], ship_to: ShipTo, code: str, said: str
) -> None:
    with pytest.raises(SupplierRefused) as refused:
        provider_for(ae).place(request(ship_to=ship_to))

    assert (refused.value.refusal.code, said in refused.value.refusal.message) == (code, True)
    assert refused.value.refusal.fix
    assert control.ledger() == []


def test_brazil_with_a_valid_cpf_is_placed(control: Any, ae: dict[str, Any]) -> None:
    placed = provider_for(ae).place(request(ship_to=replace(US, country_code="BR", tax_id=VALID_CPF)))
    assert placed.order.paid


def test_a_sku_gone_is_refused_with_the_link_fix(control: Any, ae: dict[str, Any]) -> None:
    control.options("aliexpress", "ali-shop", out_of_stock=[LINE.product_id])
    with pytest.raises(SupplierRefused) as refused:
        provider_for(ae).place(request())

    assert refused.value.refusal.code == "INVENTORY_HOLD_ERROR"
    assert "product link" in refused.value.refusal.fix
    assert control.ledger() == []


def test_a_product_id_that_is_not_a_number_is_refused_before_anything_is_sent(ae: dict[str, Any]) -> None:
    with serving(answer(200, b"{}")) as server:
        provider = REGISTRY["aliexpress"](base_url=server.url, credentials=ae["credentials"])
        with pytest.raises(SupplierRefused, match="not an AliExpress product id"):
            provider.place(request(product_id="../1005"))
        assert server.requests == []


def test_pay_says_how_to_pay(ae: dict[str, Any]) -> None:
    with pytest.raises(NotSupported, match="with payment on"):
        provider_for(ae).pay("8100000000000001")


# Tokens ---------------------------------------------------------------------------------------


@dataclass
class RefreshingToken:
    """A TokenSource that refreshes through the provider (what the account's token store will do)."""

    base_url: str
    credentials: dict[str, str]
    refreshes: int = 0

    def current(self) -> str:
        return self.credentials["access_token"]

    def refreshed(self, stale: str) -> str:
        grant = AliExpressProvider.refresh_grant(base_url=self.base_url, credentials=self.credentials)
        self.credentials.update(grant.credentials())
        self.refreshes += 1
        return grant.access_token


def test_refresh_rotates_both_tokens_and_the_old_ones_stop_working(control: Any, ae: dict[str, Any]) -> None:
    placed = provider_for(ae).place(request(pay=False))
    grant = AliExpressProvider.refresh_grant(base_url=ae["base_url"], credentials=ae["credentials"])

    assert grant.access_token != ae["credentials"]["access_token"]
    assert grant.refresh_token != ae["credentials"]["refresh_token"]
    assert grant.expires_at is not None
    assert grant.refresh_expires_at is not None
    assert grant.extra["user_id"] == ae["credentials"]["buyer_id"]
    with pytest.raises(CredentialsError, match="IllegalAccessToken"):
        provider_for(ae).get(placed.order.external_id)  # the old access token
    with pytest.raises(GrantRefused, match="IllegalRefreshToken"):
        AliExpressProvider.refresh_grant(
            base_url=ae["base_url"], credentials=ae["credentials"]
        )  # the old refresh token
    fresh = {**ae["credentials"], **grant.credentials()}
    assert REGISTRY["aliexpress"](base_url=ae["base_url"], credentials=fresh).get(placed.order.external_id).status


def test_a_refused_token_is_refreshed_once_and_the_call_goes_through(control: Any, ae: dict[str, Any]) -> None:
    placed = provider_for(ae).place(request(pay=False))
    AliExpressProvider.refresh_grant(base_url=ae["base_url"], credentials=ae["credentials"])  # another worker's
    # Our stale copy holds the refresh token the other refresh spent: a fresh account stands in.
    source = RefreshingToken(ae["base_url"], dict(control.account("aliexpress", "ali-shop")["credentials"]))
    source.credentials["access_token"] = ae["credentials"]["access_token"]  # stale access token

    info = provider_for(ae, token_source=source).get(placed.order.external_id)

    assert (info.external_id, source.refreshes) == (placed.order.external_id, 1)


def test_a_refresh_with_a_wrong_app_secret_is_refused_for_good(ae: dict[str, Any]) -> None:
    with pytest.raises(GrantRefused, match="IncompleteSignature"):
        AliExpressProvider.refresh_grant(base_url=ae["base_url"], credentials={**ae["credentials"], "app_secret": "x"})
    with pytest.raises(GrantRefused, match="no refresh token"):
        AliExpressProvider.refresh_grant(
            base_url=ae["base_url"], credentials={**ae["credentials"], "refresh_token": ""}
        )
