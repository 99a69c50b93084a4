"""Shared by the Shopify install and token tests: the operator's app pointed at the sandbox, and a
merchant walking through the install with a Django test client (the sandbox's install page is
served by the same URLconf; the code exchange and the API calls go to the live server over HTTP).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client

from sandbox.models import SimApp
from sandbox.oauth_apps import dev_apps_ensure
from sandbox.tests.conftest import Control

CLIENT_ID, CLIENT_SECRET = "zopi-test-shopify", "zopi-test-shopify-secret"  # noqa: S105 (the sandbox's app)
TOKEN_LIFETIME = 300  # sim seconds: tokens expire every five minutes


@pytest.fixture
def shopify_app(settings: Any, site_url: str) -> SimApp:
    """The operator's Shopify app (settings) registered in the sandbox, its tokens living 5 minutes."""
    settings.SHOPIFY_CLIENT_ID, settings.SHOPIFY_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    settings.SHOPIFY_SHOP_URL = f"{site_url}/sandbox/shopify/{{shop}}"
    settings.TOKEN_REFRESH_AHEAD = timedelta(seconds=30)  # the default 5 minutes is a whole lifetime here
    (app,) = [app for app in dev_apps_ensure(token_lifetime=TOKEN_LIFETIME) if app.provider == "shopify"]
    return app


def local(url: str) -> str:
    """The path and query of a URL on the live server (the test client serves the same URLconf)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def start_install(client: Client, *, name: str, shop: str) -> str:
    """The merchant sends the Shopify panel of /stores/: the authorize URL they are sent to."""
    response = client.post("/stores/shopify/install/", {"shopify-app-name": name, "shopify-app-shop": shop})
    assert response.status_code == 302, response.content[:500]
    return str(response["Location"])


def approve(client: Client, authorize_url: str, *, decision: str = "install") -> str:
    """On the sandbox's "Install app?" page, the merchant clicks Install (or Cancel): the callback URL."""
    page = client.get(local(authorize_url))
    assert page.status_code == 200, page.content[:500]
    assert b"Install" in page.content
    response = client.post(local(authorize_url).split("?")[0], {**query_of(authorize_url), "decision": decision})
    assert response.status_code == 302
    return str(response["Location"])


def install(client: Client, control: Control, *, name: str, shop: str) -> str:
    """A shop (made in the sandbox) approved on its install page; the callback URL Shopify sent back."""
    control.account("shopify", shop)
    return approve(client, start_install(client, name=name, shop=shop))


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]
