"""The operator's TikTok Shop app for tests: settings pointed at the live server's sandbox and the
sandbox's ``SimApp`` for it (registered redirect URL: our callback), and the seller's side of the
authorization page driven over HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from sandbox.models import SimApp
from sandbox.providers.tiktok.sellers import tiktok_app_ensure

APP_KEY, APP_SECRET, SERVICE_ID = "tt-test-app", "tt-test-app-secret", "7100000000000000042"


def operator_app(settings: Any, live_url: str, **options: Any) -> SimApp:
    settings.SITE_URL = live_url
    settings.TIKTOK_APP_KEY, settings.TIKTOK_APP_SECRET, settings.TIKTOK_SERVICE_ID = APP_KEY, APP_SECRET, SERVICE_ID
    settings.TIKTOK_AUTHORIZE_URL = f"{live_url}/sandbox/tiktok/open/authorize"
    settings.TIKTOK_AUTH_URL = settings.TIKTOK_API_URL = f"{live_url}/sandbox/tiktok"
    return tiktok_app_ensure(
        app_key=APP_KEY,
        app_secret=APP_SECRET,
        service_id=SERVICE_ID,
        redirect_uri=f"{live_url}/stores/tiktok/callback/",
        options=options,
    )


def seller_answers(authorize_url: str, *, seller: str, action: str = "authorize") -> dict[str, str]:
    """The seller on TikTok Shop's page: the query TikTok sends back to our callback."""
    query = {key: values[0] for key, values in parse_qs(urlsplit(authorize_url).query).items()}
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    answer = requests.post(
        authorize_url.split("?")[0],
        data={**query, "seller": seller, "action": action},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    return {key: values[0] for key, values in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
