"""Supplier accounts against the sandbox over real HTTP: AliExpress connected through its
authorization page (state replayed, from another session, expired, canceled: refused, nothing
stored), switched (the old account's orders flagged), updated in place; CJ and Temu (simulated)
by API key (a bad key: a clear form error, nothing stored); tokens refreshed ahead of expiry and
after an expired-token answer, a refused refresh → Reconnect; CJ's refresh interval respected;
attempts recorded and pruned; staff 403 and another tenant's id 404 on every view."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from celery import current_app
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from integrations.errors import ProviderError
from integrations.oauth import GrantRefused
from orders.enums import OrderStatus
from orders.models import Order
from sandbox.models import SimAccount, SimApp
from sandbox.sim.purchases import CATALOG
from sandbox.tests.conftest import Control
from suppliers.enums import PaymentMode, SourceAccountStatus
from suppliers.models import (
    AutoOrderRule,
    ExchangeRate,
    ProductLink,
    RuleDecision,
    SourceAccount,
    SupplierAttempt,
    SupplierAuthorization,
    SupplierOrder,
)
from suppliers.providers.base import PlaceLine, PlaceRequest, ShipTo
from suppliers.services.attempts import supplier_attempts_prune
from suppliers.services.connection import provider_for
from suppliers.services.rules import auto_order_rules_run
from suppliers.services.tokens import SourceAccountTokens, source_accounts_due_for_refresh
from suppliers.tasks import refresh_due_tokens
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

APP_KEY, APP_SECRET = "31415926", "ae-test-app-secret"
DEMO_ACCOUNT_NAME = "Demo Store Co"  # seed_demo's (not imported: zopi imports every app)
ADDRESS = ShipTo(
    name="Ana Souza",
    phone="+1 555 0100",
    address1="1 Main St",
    city="Austin",
    country_code="US",
    zip="78701",
    province="TX",
)


def operator_app(settings: Any, live_url: str) -> SimApp:
    """Settings pointed at the live server's sandbox and the sandbox's AliExpress app for them."""
    settings.SITE_URL = live_url
    settings.ALIEXPRESS_APP_KEY, settings.ALIEXPRESS_APP_SECRET = APP_KEY, APP_SECRET
    settings.ALIEXPRESS_AUTHORIZE_URL = f"{live_url}/sandbox/aliexpress/oauth/authorize"
    settings.SUPPLIER_API_URLS = {
        "aliexpress": f"{live_url}/sandbox/aliexpress",
        "cj": f"{live_url}/sandbox/cj/api2.0/v1",
        "temu": f"{live_url}/sandbox/temu/v1",
    }
    app, _ = SimApp.objects.update_or_create(
        provider="aliexpress",
        client_id=APP_KEY,
        defaults={"client_secret": APP_SECRET, "redirect_uris": [f"{live_url}/suppliers/aliexpress/callback/"]},
    )
    return app


def buyer_answers(authorize_url: str, *, buyer: int, action: str = "authorize") -> dict[str, str]:
    """The buyer on AliExpress's (the sandbox's) page: the query sent back to our callback."""
    query = {key: values[0] for key, values in parse_qs(urlsplit(authorize_url).query).items()}
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    answer = requests.post(
        authorize_url.split("?")[0], data={**query, "buyer": buyer, "action": action}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text
    return {key: values[0] for key, values in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def connect_aliexpress(client: Client, buyer: int) -> Any:
    started = client.post(reverse("suppliers:aliexpress_connect"))
    assert started.status_code == 302
    return client.get(reverse("suppliers:aliexpress_callback"), buyer_answers(started["Location"], buyer=buyer))


@pytest.fixture
def app(settings: Any, live_server: Any) -> SimApp:
    return operator_app(settings, live_server.url)


@pytest.fixture
def buyers(control: Control, app: SimApp) -> list[SimAccount]:
    for name in ("ae-buyer-one", "ae-buyer-two"):
        control.account("aliexpress", name)
    return list(SimAccount.objects.filter(provider="aliexpress", name__startswith="ae-buyer-").order_by("pk"))


def place(source_account: SourceAccount, key: str) -> Any:
    request = PlaceRequest(
        idempotency_key=key,
        lines=(PlaceLine(product_id="1005001234567890", sku="14:29", quantity=1),),
        ship_to=ADDRESS,
        pay=False,
    )
    return provider_for(source_account).place(request)


# AliExpress -----------------------------------------------------------------------------------


def test_aliexpress_connects_through_its_authorization_page(
    owner_client: Client, buyers: list[SimAccount], account: Account, settings: Any
) -> None:
    started = owner_client.post(reverse("suppliers:aliexpress_connect"))
    query = parse_qs(urlsplit(started["Location"]).query)
    assert started["Location"].startswith(settings.ALIEXPRESS_AUTHORIZE_URL + "?")
    assert query["client_id"] == [APP_KEY]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"][0].endswith("/suppliers/aliexpress/callback/")
    state = query["state"][0]
    authorization = SupplierAuthorization.objects.get()
    assert state not in authorization.state_digest  # only its digest is kept

    back = owner_client.get(
        reverse("suppliers:aliexpress_callback"), buyer_answers(started["Location"], buyer=buyers[0].pk)
    )
    assert back.status_code == 302
    source = SourceAccount.objects.get(account=account)
    buyers[0].refresh_from_db()
    assert (source.provider, source.status, source.external_id) == (
        "aliexpress",
        SourceAccountStatus.CONNECTED,
        buyers[0].credentials["buyer_id"],
    )
    assert source.credentials["access_token"] == buyers[0].credentials["access_token"]
    assert source.credentials["refresh_token"] == buyers[0].credentials["refresh_token"]
    assert "app_secret" not in source.credentials  # the operator's secret stays in settings
    assert timedelta(hours=23) < source.token_expires_at - timezone.now() <= timedelta(days=1)
    assert source.refresh_expires_at is not None
    # the tokens work: an order is placed with the account, its attempt recorded
    placed = place(source, "acc-ae-1")
    assert placed.order.external_id
    source.refresh_from_db()
    assert source.last_call_at is not None
    assert source.last_error == ""
    assert SupplierAttempt.objects.filter(source_account=source, path__endswith="/sync").exists()
    page = owner_client.get(reverse("suppliers:accounts"))
    assert b"not given by AliExpress" in page.content
    assert source.name.encode() in page.content
    assert source.credentials["access_token"].encode() not in page.content
    assert b"Switch account" in page.content


def test_a_replayed_foreign_or_expired_state_is_refused(
    owner_client: Client, buyers: list[SimAccount], account: Account, owner: Any
) -> None:
    started = owner_client.post(reverse("suppliers:aliexpress_connect"))
    answer = buyer_answers(started["Location"], buyer=buyers[0].pk)
    # another browser session of the same owner presents it: refused, nothing stored
    other = Client()
    other.force_login(owner)
    refused = other.get(reverse("suppliers:aliexpress_callback"), answer, follow=True)
    assert b"another browser session" in refused.content
    assert not SourceAccount.objects.exists()
    # the right session: connected; presented again: refused (spent once)
    owner_client.get(reverse("suppliers:aliexpress_callback"), answer)
    assert SourceAccount.objects.count() == 1
    again = owner_client.get(reverse("suppliers:aliexpress_callback"), answer, follow=True)
    assert b"used already" in again.content
    # a state we never gave, and an expired one
    made_up = owner_client.get(reverse("suppliers:aliexpress_callback"), {**answer, "state": "x" * 43}, follow=True)
    assert b"not one we asked for" in made_up.content
    late = owner_client.post(reverse("suppliers:aliexpress_connect"))
    late_answer = buyer_answers(late["Location"], buyer=buyers[1].pk)
    SupplierAuthorization.objects.filter(used_at__isnull=True).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = owner_client.get(reverse("suppliers:aliexpress_callback"), late_answer, follow=True)
    assert b"expired" in expired.content
    assert SourceAccount.objects.count() == 1
    # a made-up code on a fresh state: AliExpress refuses it, nothing stored
    fresh = owner_client.post(reverse("suppliers:aliexpress_connect"))
    state = parse_qs(urlsplit(fresh["Location"]).query)["state"][0]
    bad = owner_client.get(reverse("suppliers:aliexpress_callback"), {"state": state, "code": "3_nope"}, follow=True)
    assert b"AliExpress refused the approval" in bad.content
    assert SourceAccount.objects.count() == 1


def test_cancel_on_the_authorize_page_stores_nothing(owner_client: Client, buyers: list[SimAccount]) -> None:
    started = owner_client.post(reverse("suppliers:aliexpress_connect"))
    answer = buyer_answers(started["Location"], buyer=buyers[0].pk, action="cancel")
    assert answer["error"] == "access_denied"
    back = owner_client.get(reverse("suppliers:aliexpress_callback"), answer, follow=True)
    assert b"nothing was connected" in back.content
    assert not SourceAccount.objects.exists()


def test_switching_aliexpress_accounts_flags_the_old_accounts_orders(
    owner_client: Client, buyers: list[SimAccount], account: Account
) -> None:
    connect_aliexpress(owner_client, buyers[0].pk)
    first = SourceAccount.objects.get()
    store = factories.StoreFactory(account=account)
    old_order = factories.SupplierOrderFactory(order=factories.OrderFactory(store=store), source_account=first)
    assert not old_order.no_longer_synced
    # the same AliExpress account again: updated in place (new tokens), no second row
    connect_aliexpress(owner_client, buyers[0].pk)
    assert SourceAccount.objects.count() == 1
    first.refresh_from_db()
    assert first.status == SourceAccountStatus.CONNECTED
    # another AliExpress account: a switch
    connect_aliexpress(owner_client, buyers[1].pk)
    first.refresh_from_db()
    second = SourceAccount.objects.exclude(pk=first.pk).get()
    assert (first.status, first.replaced_by_id) == (SourceAccountStatus.REPLACED, second.pk)
    assert first.replaced_at is not None
    assert first.credentials == {}  # its tokens are not kept
    assert second.status == SourceAccountStatus.CONNECTED
    assert second.external_id == buyers[1].credentials["buyer_id"]
    assert SupplierOrder.objects.get(pk=old_order.pk).no_longer_synced
    page = owner_client.get(reverse("suppliers:accounts"))
    assert b"Previous accounts" in page.content


# CJ and Temu (simulated) ---------------------------------------------------------------------


def test_cj_connects_with_its_api_key_and_a_bad_key_stores_nothing(
    owner_client: Client, control: Control, app: SimApp, account: Account
) -> None:
    cj = control.account("cj", "acc-cj")
    control.options("cj", "acc-cj", balance="300.00")
    bad = owner_client.post(reverse("suppliers:cj_connect"), {"cj-api_key": "CJ1234567@api@nope"})
    assert bad.status_code == 400
    assert b"CJdropshipping refused this API key" in bad.content
    assert b"CJ1234567@api@nope" not in bad.content  # never shown back
    assert not SourceAccount.objects.exists()
    empty = owner_client.post(reverse("suppliers:cj_connect"), {"cj-api_key": "  "})
    assert empty.status_code == 400
    assert not SourceAccount.objects.exists()

    key = cj["credentials"]["api_key"]
    done = owner_client.post(reverse("suppliers:cj_connect"), {"cj-api_key": key}, follow=True)
    assert done.status_code == 200
    source = SourceAccount.objects.get(account=account, provider="cj")
    assert source.status == SourceAccountStatus.CONNECTED
    assert source.credentials["api_key"] == key
    assert source.credentials["access_token"]
    assert timedelta(days=14) < source.token_expires_at - timezone.now() <= timedelta(days=15)
    assert source.token_refreshed_at is not None
    assert source.balance == Decimal("300.00")
    assert key.encode() not in done.content
    assert source.credentials["access_token"].encode() not in done.content
    assert b"300.00 USD" in done.content


def test_temu_simulated_connects_with_an_api_key(owner_client: Client, control: Control, app: SimApp) -> None:
    temu = control.account("temu", "acc-temu")
    control.options("temu", "acc-temu", balance="120.50")
    bad = owner_client.post(reverse("suppliers:temu_connect"), {"temu-api_key": "tk_live_wrong"})
    assert bad.status_code == 400
    assert b"Temu (simulated) refused this API key" in bad.content
    assert not SourceAccount.objects.exists()
    done = owner_client.post(
        reverse("suppliers:temu_connect"), {"temu-api_key": temu["credentials"]["api_key"]}, follow=True
    )
    source = SourceAccount.objects.get(provider="temu")
    assert (source.status, source.name, source.balance) == (
        SourceAccountStatus.CONNECTED,
        "acc-temu",
        Decimal("120.50"),
    )
    assert b"Temu (simulated)" in done.content
    assert temu["credentials"]["api_key"].encode() not in done.content
    # the Temu provider places and finds under the key
    request = PlaceRequest(
        idempotency_key="acc-temu-1", lines=(PlaceLine(product_id="", sku="SKU-1", quantity=1),), ship_to=ADDRESS
    )
    placed = provider_for(source).place(request)
    assert placed.order.paid
    found = provider_for(source).find("acc-temu-1")
    assert found is not None
    assert found.external_id == placed.order.external_id
    assert provider_for(source).find("acc-temu-none") is None


# Tokens ----------------------------------------------------------------------------------------


def test_aliexpress_token_is_refreshed_ahead_of_expiry_by_beat(
    owner_client: Client, buyers: list[SimAccount], settings: Any
) -> None:
    connect_aliexpress(owner_client, buyers[0].pk)
    source = SourceAccount.objects.get()
    before = source.credentials
    assert source_accounts_due_for_refresh() == []
    SourceAccount.objects.filter(pk=source.pk).update(token_expires_at=timezone.now() + timedelta(minutes=2))
    assert source_accounts_due_for_refresh() == [source.pk]
    current_app.conf.task_always_eager = True
    try:
        assert refresh_due_tokens.apply().get() == 1
    finally:
        current_app.conf.task_always_eager = False
    source.refresh_from_db()
    buyers[0].refresh_from_db()
    assert source.credentials["access_token"] != before["access_token"]
    assert source.credentials["access_token"] == buyers[0].credentials["access_token"]
    assert source.token_expires_at - timezone.now() > timedelta(hours=23)
    assert place(source, "acc-ae-ahead").order.external_id


def test_an_expired_token_answer_is_refreshed_once_and_the_call_goes_on(
    owner_client: Client, buyers: list[SimAccount]
) -> None:
    connect_aliexpress(owner_client, buyers[0].pk)
    source = SourceAccount.objects.get()
    sim = buyers[0]
    sim.refresh_from_db()
    sim.credentials = {**sim.credentials, "access_token": "50000expired-behind-our-back"}
    sim.save(update_fields=["credentials"])
    placed = place(source, "acc-ae-after-401")
    assert placed.order.external_id
    source.refresh_from_db()
    sim.refresh_from_db()
    assert source.credentials["access_token"] == sim.credentials["access_token"]
    assert SupplierAttempt.objects.filter(source_account=source, path__endswith="/auth/token/refresh").count() == 1


def test_a_refused_refresh_puts_the_account_in_reconnect(owner_client: Client, buyers: list[SimAccount]) -> None:
    connect_aliexpress(owner_client, buyers[0].pk)
    source = SourceAccount.objects.get()
    sim = buyers[0]
    sim.refresh_from_db()
    sim.credentials = {**sim.credentials, "access_token": "50000revoked", "refresh_token": "50001revoked"}
    sim.save(update_fields=["credentials"])
    with pytest.raises(GrantRefused):
        place(source, "acc-ae-revoked")
    source.refresh_from_db()
    assert source.status == SourceAccountStatus.RECONNECT
    assert "access_token" not in source.credentials
    assert "reconnect it" in source.last_error
    page = owner_client.get(reverse("suppliers:accounts"))
    assert b'data-action="reconnect"' in page.content
    # Reconnect = authorize again: the same buyer, mended in place
    connect_aliexpress(owner_client, buyers[0].pk)
    source.refresh_from_db()
    assert (source.status, SourceAccount.objects.count()) == (SourceAccountStatus.CONNECTED, 1)


def test_cj_refreshes_no_more_often_than_cj_allows(
    owner_client: Client, control: Control, app: SimApp, settings: Any
) -> None:
    cj = control.account("cj", "acc-cj-refresh")
    owner_client.post(reverse("suppliers:cj_connect"), {"cj-api_key": cj["credentials"]["api_key"]})
    source = SourceAccount.objects.get(provider="cj")
    token = source.credentials["access_token"]
    refreshes = SupplierAttempt.objects.filter(path__contains="authentication/")
    asked = refreshes.count()
    # due ahead of expiry, but a token was got just now: the one in hand is used, CJ not asked
    SourceAccount.objects.filter(pk=source.pk).update(token_expires_at=timezone.now() + timedelta(minutes=1))
    assert SourceAccountTokens(source.pk).current() == token
    assert refreshes.count() == asked
    # refused right after it was got: not refreshed either, retried once CJ allows it
    with pytest.raises(ProviderError) as waited:
        SourceAccountTokens(source.pk).refreshed(token)
    assert waited.value.retryable
    assert 290 <= (waited.value.retry_after or 0) <= settings.CJ_TOKEN_REFRESH_MIN_INTERVAL.total_seconds()
    assert refreshes.count() == asked
    # past the interval: refreshed, once
    SourceAccount.objects.filter(pk=source.pk).update(token_refreshed_at=timezone.now() - timedelta(minutes=6))
    fresh = SourceAccountTokens(source.pk).current()
    assert refreshes.filter(path__endswith="refreshAccessToken").count() == 1
    source.refresh_from_db()
    assert source.credentials["access_token"] == fresh
    assert source.token_refreshed_at > timezone.now() - timedelta(minutes=1)


def test_cj_refresh_refused_falls_back_to_the_api_key_then_reconnect(
    owner_client: Client, control: Control, app: SimApp
) -> None:
    cj = control.account("cj", "acc-cj-fallback")
    owner_client.post(reverse("suppliers:cj_connect"), {"cj-api_key": cj["credentials"]["api_key"]})
    source = SourceAccount.objects.get(provider="cj")
    stale = source.credentials["access_token"]
    SourceAccount.objects.filter(pk=source.pk).update(token_refreshed_at=timezone.now() - timedelta(minutes=6))
    source.refresh_from_db()
    source.credentials = {**source.credentials, "refresh_token": "not-cj's"}
    source.save(update_fields=["credentials_token"])
    assert SourceAccountTokens(source.pk).refreshed(stale)  # a token from the API key
    assert SupplierAttempt.objects.filter(path__endswith="getAccessToken").count() == 2  # connect + fallback
    # the key itself refused (deleted at CJ): Reconnect
    source.refresh_from_db()
    SourceAccount.objects.filter(pk=source.pk).update(token_refreshed_at=timezone.now() - timedelta(minutes=6))
    source.refresh_from_db()
    source.credentials = {**source.credentials, "refresh_token": "not-cj's", "api_key": "CJ0@api@gone"}
    source.save(update_fields=["credentials_token"])
    with pytest.raises(GrantRefused):
        SourceAccountTokens(source.pk).refreshed(source.credentials["access_token"])
    source.refresh_from_db()
    assert source.status == SourceAccountStatus.RECONNECT


# Page, roles, tenants ----------------------------------------------------------------------------


def test_payment_mode_disconnect_and_balance(owner_client: Client, control: Control, app: SimApp) -> None:
    cj = control.account("cj", "acc-cj-page")
    control.options("cj", "acc-cj-page", balance="50.00")
    owner_client.post(reverse("suppliers:cj_connect"), {"cj-api_key": cj["credentials"]["api_key"]})
    source = SourceAccount.objects.get(provider="cj")
    assert source.payment_mode == PaymentMode.WITH_ORDER
    owner_client.post(reverse("suppliers:payment_mode", args=[source.pk]), {"pay-cj-payment_mode": PaymentMode.LATER})
    source.refresh_from_db()
    assert source.payment_mode == PaymentMode.LATER
    bad = owner_client.post(reverse("suppliers:payment_mode", args=[source.pk]), {"pay-cj-payment_mode": "free"})
    assert bad.status_code == 302
    source.refresh_from_db()
    assert source.payment_mode == PaymentMode.LATER
    control.options("cj", "acc-cj-page", balance="42.00")
    owner_client.post(reverse("suppliers:balance_refresh", args=[source.pk]))
    source.refresh_from_db()
    assert source.balance == Decimal("42.00")
    owner_client.post(reverse("suppliers:disconnect", args=[source.pk]))
    source.refresh_from_db()
    assert (source.status, source.credentials) == (SourceAccountStatus.DISCONNECTED, {})


VIEWS_WITH_ID = ("suppliers:disconnect", "suppliers:payment_mode", "suppliers:balance_refresh")
VIEWS = ("suppliers:accounts", "suppliers:aliexpress_connect", "suppliers:aliexpress_callback",
         "suppliers:cj_connect", "suppliers:temu_connect")  # fmt: skip


def test_staff_get_403_on_every_view_and_nothing_changes(member_client: Client, account: Account, app: SimApp) -> None:
    source = SourceAccount.objects.create(account=account, provider="cj", name="Ours", external_id="1")
    for name in VIEWS:
        for method in (member_client.get, member_client.post):
            assert method(reverse(name), {"cj-api_key": "x", "temu-api_key": "x"}).status_code in (403, 405), name
    for name in VIEWS_WITH_ID:
        url = reverse(name, args=[source.pk])
        assert member_client.post(url, {"pay-cj-payment_mode": PaymentMode.LATER}).status_code == 403, name
    source.refresh_from_db()
    assert (source.status, source.payment_mode) == (SourceAccountStatus.CONNECTED, PaymentMode.WITH_ORDER)
    assert SourceAccount.objects.count() == 1
    assert not SupplierAuthorization.objects.exists()


def test_another_tenants_account_id_is_404(owner_client: Client, other_account: Account) -> None:
    theirs = SourceAccount.objects.create(account=other_account, provider="cj", name="Theirs", external_id="9")
    for name in VIEWS_WITH_ID:
        response = owner_client.post(reverse(name, args=[theirs.pk]), {"pay-cj-payment_mode": PaymentMode.LATER})
        assert response.status_code == 404, name
    theirs.refresh_from_db()
    assert (theirs.status, theirs.payment_mode) == (SourceAccountStatus.CONNECTED, PaymentMode.WITH_ORDER)
    page = owner_client.get(reverse("suppliers:accounts"))
    assert b"Theirs" not in page.content


def test_old_authorizations_are_pruned(account: Account, owner: Any) -> None:
    from suppliers.services.accounts import supplier_authorizations_prune

    kept, old = (
        SupplierAuthorization.objects.create(
            account=account, user=owner, provider="aliexpress", state_digest=digest, expires_at=timezone.now()
        )
        for digest in ("a" * 64, "b" * 64)
    )
    SupplierAuthorization.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    assert supplier_authorizations_prune() == 1
    assert list(SupplierAuthorization.objects.values_list("pk", flat=True)) == [kept.pk]


def test_attempts_are_pruned_after_the_retention(account: Account) -> None:
    source = SourceAccount.objects.create(account=account, provider="cj", name="Ours", external_id="1")
    old = SupplierAttempt.objects.create(source_account=source, provider="cj", method="GET", path="/x", duration_ms=1)
    new = SupplierAttempt.objects.create(source_account=source, provider="cj", method="GET", path="/y", duration_ms=1)
    SupplierAttempt.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=15))
    assert supplier_attempts_prune(older_than=timedelta(days=14)) == 1
    assert list(SupplierAttempt.objects.values_list("pk", flat=True)) == [new.pk]


def test_the_demo_seed_connects_the_three_suppliers_to_the_sandbox(app: SimApp, settings: Any) -> None:
    call_command("seed_demo", "--with-demo-login", verbosity=0)
    call_command("sandbox_seed", verbosity=0)
    demo = Account.objects.get(name=DEMO_ACCOUNT_NAME)
    sources = {s.provider: s for s in SourceAccount.objects.filter(account=demo)}
    assert sorted(sources) == ["aliexpress", "cj", "temu"]
    assert all(s.status == SourceAccountStatus.CONNECTED for s in sources.values())
    assert sources["cj"].balance == Decimal("300.00")
    # they work against the sandbox as they are
    assert place(sources["aliexpress"], "acc-demo-ae").order.external_id
    assert provider_for(sources["cj"]).find("acc-demo-none") is None
    assert provider_for(sources["temu"]).find("acc-demo-none") is None
    call_command("sandbox_seed", verbosity=0)  # idempotent
    assert SourceAccount.objects.filter(account=demo).count() == 3
    # the demo's products are linked (a few left to link by hand), with rates and a rule that places
    links = ProductLink.objects.filter(account=demo)
    assert len(CATALOG) < links.count() < len(CATALOG) + 6  # the demo orders' six products, most linked
    assert set(links.values_list("provider", flat=True)) == {"aliexpress", "cj", "temu"}
    assert ExchangeRate.objects.filter(from_currency="USD", to_currency="EUR").exists()
    rule = AutoOrderRule.objects.get(account=demo)
    assert (rule.store.name, rule.enabled, rule.pay) == ("Demo Shopify", True, True)
    # the made-up orders of seed_demo are not in the sandbox shop: the rule leaves them alone
    # (found running the demo: one was placed, shipped, and its push failed), and later ones are its own
    made_up = Order.objects.filter(store=rule.store, status=OrderStatus.NEW)
    assert made_up.exists()
    assert auto_order_rules_run(now=timezone.now() + timedelta(hours=1)) == 0
    assert set(RuleDecision.objects.filter(rule=rule, order__in=made_up).values_list("queued", flat=True)) == {False}


def test_an_expired_token_is_refreshed_before_the_call(owner_client: Client, buyers: list[SimAccount]) -> None:
    connect_aliexpress(owner_client, buyers[0].pk)
    source = SourceAccount.objects.get()
    old = source.credentials["access_token"]
    SourceAccount.objects.filter(pk=source.pk).update(token_expires_at=timezone.now() - timedelta(minutes=1))
    source.refresh_from_db()
    assert place(source, "acc-ae-expired").order.external_id
    source.refresh_from_db()
    assert source.credentials["access_token"] != old
    assert source.token_expires_at > timezone.now()
    # only the refresh and the create: the expired token was never sent
    paths = list(SupplierAttempt.objects.filter(source_account=source).values_list("path", flat=True))
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["sync", "refresh"]  # newest first


def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(
    owner_client: Client, buyers: list[SimAccount]
) -> None:
    connect_aliexpress(owner_client, buyers[0].pk)
    source = SourceAccount.objects.get()
    stale = source.credentials["access_token"]
    barrier, results, errors = threading.Barrier(2), [], []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(SourceAccountTokens(source.pk, max_wait=10).refreshed(stale))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    source.refresh_from_db()
    assert results == [source.credentials["access_token"]] * 2
    assert source.status == SourceAccountStatus.CONNECTED
    assert SupplierAttempt.objects.filter(source_account=source, path__endswith="/auth/token/refresh").count() == 1


def test_two_connects_at_once_end_with_one_current_account(account: Account) -> None:
    from suppliers.services.accounts import source_account_connected

    barrier, errors = threading.Barrier(2), []

    def connect(external_id: str) -> None:
        try:
            barrier.wait()
            source_account_connected(
                account=account, provider="cj", external_id=external_id, name=external_id, credentials={"api_key": "k"}
            )
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=connect, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    statuses = sorted(SourceAccount.objects.filter(account=account).values_list("status", flat=True))
    assert statuses == [SourceAccountStatus.CONNECTED, SourceAccountStatus.REPLACED]
