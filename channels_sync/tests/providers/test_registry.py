"""The channel providers on the shared client: registered, and their timeout reaching each call."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from integrations.tests.test_http import ScriptedSession


def test_importing_the_providers_registers_all_three_channels() -> None:
    import channels_sync.providers  # noqa: F401
    from channels_sync.providers.base import REGISTRY
    from channels_sync.providers.shopify import ShopifyProvider
    from channels_sync.providers.tiktok import TikTokProvider
    from channels_sync.providers.woocommerce import WooCommerceProvider

    assert {key: REGISTRY[key] for key in ("shopify", "woocommerce", "tiktok")} == {
        "shopify": ShopifyProvider,
        "woocommerce": WooCommerceProvider,
        "tiktok": TikTokProvider,
    }


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "tiktok"])
@pytest.mark.parametrize(("timeout", "expected"), [(2.5, (2.5, 2.5)), (30.0, (5.0, 30.0))])
def test_provider_timeout_reaches_every_request(channel: str, timeout: float, expected: tuple[float, float]) -> None:
    """SYNC_PROVIDER_TIMEOUT (the provider's ``timeout``) bounds each read; connecting waits at most 5 s."""
    from channels_sync.providers.base import REGISTRY

    provider: Any = REGISTRY[channel](base_url="https://shop.example.com", credentials={}, timeout=timeout)
    session = ScriptedSession([200])
    seen: dict[str, Any] = {}
    original = session.request

    def request(*args: Any, **kwargs: Any) -> requests.Response:
        seen["timeout"] = kwargs["timeout"]
        return original(*args, **kwargs)

    session.request = request  # type: ignore[method-assign]
    provider.client.session = session
    provider.client.request_json("GET", "orders.json")
    assert seen["timeout"] == expected
