"""``sandbox_seed`` connects the demo TikTok store as the dev profile's app: a grant of the
sandbox's app, no app key on the store, and calls signed with the operator's app work."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from channels_sync.enums import AuthKind
from channels_sync.models import Store
from channels_sync.services import store_provider
from channels_sync.tests.tiktok_helpers import operator_app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_the_demo_tiktok_store_is_connected_as_the_operator_app(settings: Any, live_server: Any) -> None:
    operator_app(settings, live_server.url)
    call_command("seed_demo", "--with-demo-login", verbosity=0)

    call_command("sandbox_seed", verbosity=0)

    store = Store.objects.get(name="Demo TikTok Shop")
    assert store.auth_kind == AuthKind.APP
    assert sorted(store.credentials) == ["access_token", "refresh_token", "shop_cipher"]
    assert store.token_expires_at is not None
    assert store_provider(store).check_credentials() == "demo-tiktok"
