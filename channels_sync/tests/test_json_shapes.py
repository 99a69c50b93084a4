"""A channel answering JSON of the wrong shape (a list where an object belongs, or the reverse)
gets a clear error, never an AttributeError: disconnect still disconnects."""

from __future__ import annotations

from typing import Any

import pytest

from channels_sync.enums import StoreStatus
from channels_sync.providers.base import REGISTRY
from channels_sync.services import store_disconnect
from integrations.errors import ProviderError
from integrations.tests.servers import answer, serving
from tests.factories import StoreFactory

GARBAGE = {"shopify": b'["not", "an", "object"]', "woocommerce": b'{"not": "a list"}'}
SHAPE = {"shopify": "not a JSON object", "woocommerce": "not a JSON list"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_disconnect_works_when_the_channel_answers_garbage(account: Any, channel: str) -> None:
    with serving(answer(200, GARBAGE[channel])) as server:
        store = StoreFactory(account=account, channel=channel, base_url=server.url)
        store.credentials = {"access_token": "t", "consumer_key": "ck", "consumer_secret": "cs"}
        store.save()

        result = store_disconnect(account=account, store_id=store.pk)

    assert (result.store.status, result.webhooks_removed) == (StoreStatus.DISCONNECTED, None)
    assert len(server.requests) == 1  # one attempt: the merchant is waiting


@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
@pytest.mark.parametrize("call", ["register", "unregister"])
def test_webhook_calls_on_a_wrong_shape_raise_a_provider_error(channel: str, call: str) -> None:
    with serving(answer(200, GARBAGE[channel])) as server:
        provider = REGISTRY[channel](base_url=server.url, credentials={}, max_attempts=1)
        method = provider.register_webhooks if call == "register" else provider.unregister_webhooks
        with pytest.raises(ProviderError, match=SHAPE[channel]):
            method(address="https://example.com/hook")
