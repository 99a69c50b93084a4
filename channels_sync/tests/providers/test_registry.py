"""The channel providers on the shared client: registered, and their timeout reaching each call."""

from __future__ import annotations

import time
from typing import Any

import pytest

from integrations.errors import ProviderError
from integrations.tests.servers import hang, serving


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
@pytest.mark.parametrize(("timeout", "expected"), [(0.3, (0.3, 0.3)), (30.0, (5.0, 30.0))])
def test_provider_timeout_reaches_every_request(channel: str, timeout: float, expected: tuple[float, float]) -> None:
    """SYNC_PROVIDER_TIMEOUT (the provider's ``timeout``) bounds each read; connecting waits at most 5 s."""
    from channels_sync.providers.base import REGISTRY

    with serving(hang(1.0)) as server:
        provider: Any = REGISTRY[channel](base_url=server.url, credentials={}, timeout=timeout, max_attempts=1)
        assert provider.client.timeout == expected
        if timeout < 1:  # a read longer than the timeout ends at it
            started = time.monotonic()
            with pytest.raises(ProviderError, match="did not answer"):
                provider.client.request("GET", "orders.json")
            assert time.monotonic() - started < 1.0
