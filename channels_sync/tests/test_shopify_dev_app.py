"""The dev profile's operator apps in the sandbox (``sandbox.oauth_apps.dev_apps_ensure``) and the
demo Shopify store that ``sandbox_seed`` connects as the Shopify app: it pulls with the app's
expiring token, and a second seed keeps the tokens it has (they are refreshed, not replaced)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from channels_sync.enums import AuthKind
from channels_sync.models import Store
from channels_sync.services import store_pull
from sandbox.models import SimApp, SimGrant
from sandbox.oauth_apps import dev_apps_ensure

from .conftest import LIVE_DB

pytestmark = [LIVE_DB, pytest.mark.postgres]


def test_dev_apps_follow_the_settings(settings: Any) -> None:
    settings.SHOPIFY_CLIENT_ID, settings.SHOPIFY_CLIENT_SECRET = "dev-shopify", "s1"
    settings.TIKTOK_APP_KEY, settings.TIKTOK_APP_SECRET = "dev-tiktok", "t1"
    dev_apps_ensure()
    settings.SHOPIFY_CLIENT_SECRET = "s2"  # noqa: S105
    apps = dev_apps_ensure(token_lifetime=120)
    assert sorted((app.provider, app.client_id, app.client_secret, app.options["token_lifetime"]) for app in apps) == [
        ("shopify", "dev-shopify", "s2", 120),
        ("tiktok", "dev-tiktok", "t1", 120),
    ]
    assert SimApp.objects.count() == 2
    assert apps[0].redirect_uris == [f"{settings.SITE_URL}/"]
    settings.TIKTOK_APP_KEY = ""
    assert [app.provider for app in dev_apps_ensure()] == ["shopify"]


def test_the_demo_shopify_store_is_connected_as_the_app_and_pulls(settings: Any, site_url: str) -> None:
    settings.SHOPIFY_CLIENT_ID, settings.SHOPIFY_CLIENT_SECRET = "zopi-dev-shopify", "zopi-dev-shopify-secret"
    call_command("seed_demo", "--with-demo-login", verbosity=0)
    call_command("sandbox_seed", verbosity=0)
    store = Store.objects.get(name="Demo Shopify")
    assert (store.auth_kind, store.domain, sorted(store.credentials)) == (
        AuthKind.APP,
        "demo-shopify.myshopify.com",
        ["access_token", "refresh_token"],
    )
    assert store.webhook_secret == ""  # its webhooks are checked with the app's secrets (settings)
    assert store.token_expires_at is not None
    assert store_pull(store_id=store.pk).error == ""
    call_command("sandbox_seed", verbosity=0)
    store.refresh_from_db()
    assert SimGrant.objects.count() == 1
    assert store.credentials["access_token"] == SimGrant.objects.get().access_token
