"""A channel's "access withdrawn" events (Shopify's app/uninstalled, TikTok Shop's seller
deauthorization) and the tokens of app-connected stores: a late event does not undo a newer
connect; a failed refresh ahead of expiry keeps the working token; a disconnected store sends none."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from channels_sync.enums import AuthKind, DeliveryState, StoreStatus
from channels_sync.models import WebhookDelivery
from channels_sync.providers.shopify.oauth import grant_refresh
from channels_sync.services import delivery_process
from channels_sync.services.tokens import StoreTokens
from integrations.errors import CredentialsError, ProviderError
from integrations.oauth import GrantRefused
from integrations.tests.servers import answer, serving
from tests import factories

pytestmark = pytest.mark.django_db

UNINSTALLED = {"X-Shopify-Topic": "app/uninstalled", "X-Shopify-Shop-Domain": "shop-a.myshopify.com"}


def _app_store(account: Any, **more: Any) -> Any:
    store = factories.StoreFactory(account=account, auth_kind=AuthKind.APP, shop_id="shop-a.myshopify.com", **more)
    store.credentials = {"access_token": "live", "refresh_token": "refresh"}
    store.save()
    return store


def _uninstall_delivery(store: Any, *, received: Any) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(
        store=store, dedupe_key="u-1", topic="app/uninstalled", headers=UNINSTALLED, body=json.dumps({"id": 1}).encode()
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(received_at=received)
    return delivery


def test_an_uninstall_received_before_the_store_was_connected_again_is_ignored(account: Any) -> None:
    now = timezone.now()
    store = _app_store(account, connected_at=now)
    late = _uninstall_delivery(store, received=now - timedelta(minutes=3))

    outcome = delivery_process(delivery_id=late.pk)

    store.refresh_from_db()
    assert outcome.state == DeliveryState.IGNORED
    assert store.status == StoreStatus.ACTIVE
    assert store.credentials["access_token"] == "live"


def test_an_uninstall_received_after_the_connect_disconnects_the_store(account: Any) -> None:
    now = timezone.now()
    store = _app_store(account, connected_at=now - timedelta(minutes=3))
    delivery = _uninstall_delivery(store, received=now)

    assert delivery_process(delivery_id=delivery.pk).state == DeliveryState.PROCESSED

    store.refresh_from_db()
    assert store.status == StoreStatus.DISCONNECTED
    assert store.credentials == {}


@pytest.mark.parametrize("status", [StoreStatus.DISCONNECTED, StoreStatus.RECONNECT])
def test_a_store_not_in_use_sends_no_token(account: Any, status: str) -> None:
    store = _app_store(account, status=status)
    with pytest.raises(CredentialsError):
        StoreTokens(store.pk).current()


def test_a_failed_refresh_ahead_of_expiry_keeps_using_the_token_until_it_expires(account: Any, settings: Any) -> None:
    settings.TOKEN_REFRESH_AHEAD = timedelta(minutes=5)
    # The operator's app is not reachable (no base URL the host policy allows): the refresh fails.
    store = _app_store(account, base_url="https://127.0.0.1", token_expires_at=timezone.now() + timedelta(minutes=2))

    assert StoreTokens(store.pk).current() == "live"

    store.refresh_from_db()
    assert store.token_refreshing_until is None  # the claim was given back
    store.token_expires_at = timezone.now() - timedelta(seconds=1)
    store.save(update_fields=["token_expires_at"])
    with pytest.raises(Exception, match=r"(?i)not allowed|refused|could not"):
        StoreTokens(store.pk).current()


@pytest.mark.parametrize(
    ("error", "refused_for_good"), [("invalid_grant", True), ("invalid_request", False), ("", False)]
)
def test_only_invalid_grant_means_the_refresh_token_is_dead(settings: Any, error: str, refused_for_good: bool) -> None:
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    body = json.dumps({"error": error, "error_description": "no"} if error else {"errors": "Bad Request"}).encode()
    with serving(answer(400, body)) as server, pytest.raises(ProviderError) as raised:
        grant_refresh(base_url=server.url, refresh_token="refresh")
    assert isinstance(raised.value, GrantRefused) is refused_for_good
