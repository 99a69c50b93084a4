"""Every owner-only view, found through the URL resolver (views marked ``owner_only`` by
``accounts.decorators.owner_required``), answers a staff member 403 and changes nothing.

The URLs are filled with real ids of the staff member's own account (the ids a staff member
can see), requested with GET and POST (plain and htmx, with a valid CSRF token), and the whole
database is compared before and after: every row of every model, so ``updated_at`` and every
other field count. A new owner-only view is covered the day it lands; one whose URL takes an
argument this test does not know fails here until a value is added to ``kwarg_values``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from accounts.enums import Role
from accounts.models import Membership
from channels_sync.models import CarrierMapping
from suppliers.models import ProductLink, SourceAccount
from tests.factories import OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db

# What must be among them: if discovery broke, the test would pass on nothing.
KNOWN_OWNER_ONLY = {
    "channels_sync:stores",
    "channels_sync:connect",
    "channels_sync:pause",
    "channels_sync:resume",
    "channels_sync:disconnect",
    "channels_sync:resync",
    "channels_sync:shopify_install",
    "channels_sync:shopify_callback",
    "channels_sync:shopify_reconnect",
    "accounts:members",
    "accounts:member_add",
    "accounts:member_role",
    "accounts:member_remove",
    "suppliers:link_delete",
    "suppliers:accounts",
    "suppliers:aliexpress_connect",
    "suppliers:aliexpress_callback",
    "suppliers:cj_connect",
    "suppliers:temu_connect",
    "suppliers:disconnect",
    "suppliers:payment_mode",
    "suppliers:balance_refresh",
}
# Rows that a request writes whatever its outcome (the session, sign-in throttling's log).
NOT_SNAPSHOTTED = {"sessions.Session", "axes.AccessAttempt", "axes.AccessLog", "axes.AccessFailureLog"}
# Plausible form data for every owner-only form: what an owner would post.
FORM_DATA = {
    "role": Role.OWNER,
    "username": "intruder",
    "password": "plum-Orchard-42-lantern",
    "email": "intruder@example.com",
    "shopify-name": "Sneaky",
    "shopify-shop_url": "https://sneaky.myshopify.com",
    "shopify-access_token": "shpat_x",
    "shopify-webhook_secret": "x",
    "shopify-app-name": "Sneaky",
    "shopify-app-shop": "sneaky.myshopify.com",
    "cj-api_key": "CJ1@api@sneaky",
    "temu-api_key": "tk_live_sneaky",
    "pay-cj-payment_mode": "later",
}


def owner_only_patterns(patterns: list[Any] | None = None, namespace: str = "") -> Iterator[tuple[str, list[str], Any]]:
    """(``namespace:name``, URL keyword arguments, view) of every owner-only route."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
            yield from owner_only_patterns(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and getattr(entry.callback, "owner_only", False):
            assert entry.name, f"owner-only view {entry.callback} has no URL name"
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, sorted(entry.pattern.converters), entry.callback


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.label not in NOT_SNAPSHOTTED
    }


@pytest.fixture
def kwarg_values(account: Any, owner: Any, user: Any) -> dict[str, Any]:
    """Real ids of the staff member's own account, for every URL argument an owner-only view takes."""
    store = StoreFactory(account=account, name="Our Shopify")
    order = OrderFactory(store=store)
    return {
        "store_id": store.pk,
        "membership_id": Membership.objects.get(user=owner, account=account).pk,
        "channel": "shopify",
        "order_id": order.pk,
        "public_id": store.public_id,
        "authorization_id": 1,  # no such authorization: staff are refused before it is looked up
        "link_id": ProductLink.objects.create(
            account=account, sku="EB-1", provider="aliexpress", supplier_product_id="1005006454451334"
        ).pk,
        "source_account_id": SourceAccount.objects.create(account=account, provider="cj", name="Our CJ").pk,
        "mapping_id": CarrierMapping.objects.create(
            account=account,
            channel="shopify",
            supplier_carrier="Ours",
            supplier_carrier_key="ours",
            channel_carrier="UPS",
        ).pk,
    }


@pytest.fixture
def staff_client(user: Any) -> Client:
    """A staff member of ``account``, CSRF checked as in a browser, holding a valid token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/orders/").status_code == 200  # the page sets the CSRF cookie
    return client


def test_every_owner_only_url_answers_staff_403_and_changes_nothing(
    staff_client: Client, kwarg_values: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    routes = list(owner_only_patterns())
    # the discovery found the known owner-only views (and any added since)
    assert {name for name, _, _ in routes} >= KNOWN_OWNER_ONLY
    token = staff_client.cookies["csrftoken"].value
    before = snapshot()
    assert before["channels_sync.Store"]
    assert before["accounts.Membership"]
    sessions_before = Session.objects.count()
    for name, kwargs, view in routes:
        missing = [kwarg for kwarg in kwargs if kwarg not in kwarg_values]
        assert not missing, f"{name}: add a real value for URL argument(s) {missing} to kwarg_values"
        url = reverse(name, kwargs={kwarg: kwarg_values[kwarg] for kwarg in kwargs})
        assert resolve(url).func is view
        with django_capture_on_commit_callbacks() as callbacks:
            answers = {
                "GET": staff_client.get(url).status_code,
                "POST": staff_client.post(url, {**FORM_DATA, "csrfmiddlewaretoken": token}).status_code,
                "htmx POST": staff_client.post(
                    url, FORM_DATA, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token
                ).status_code,
            }
        # then each method the view takes is refused with 403 (one it does not take is 405)
        assert set(answers.values()) <= {403, 405}, (name, answers)
        assert 403 in answers.values(), (name, answers)
        assert callbacks == [], (name, "queued work")
    # and nothing changed anywhere in the database
    assert snapshot() == before
    assert Session.objects.count() == sessions_before


def test_the_owner_opens_the_owner_only_pages(owner_client: Client) -> None:
    # the same views are the owner's: the 403 above is the role, not a broken URL
    assert owner_client.get(reverse("channels_sync:stores")).status_code == 200
    assert owner_client.get(reverse("accounts:members")).status_code == 200
    assert owner_client.get(reverse("suppliers:accounts")).status_code == 200
