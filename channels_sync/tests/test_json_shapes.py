"""A channel answering JSON of the wrong shape (a list where an object belongs, or the reverse)
gets a clear error, never an AttributeError: disconnect still disconnects."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from channels_sync.enums import StoreStatus
from channels_sync.models import Store
from channels_sync.providers.base import REGISTRY, Subscription
from channels_sync.services import store_disconnect, webhook_url_for
from integrations.errors import ProviderError
from integrations.tests.servers import answer, hang, serving
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


# Hostile answers: JSON nested too deeply for the parser, and webhook lists whose items hold
# lists, objects or booleans where strings and numbers belong.
DEEP = b"[" * 100_000
ADDRESS_KEY = {"shopify": "uri", "woocommerce": "delivery_url"}
TOPIC = {"shopify": "ORDERS_CREATE", "woocommerce": "order.created"}
SHOPIFY_HOOK = "gid://shopify/WebhookSubscription/"


def hostile_list(channel: str, address: str) -> bytes:
    """One hook of ours with a topic given as a list (read, topic ""), the rest unreadable."""
    key, topic = ADDRESS_KEY[channel], TOPIC[channel]
    first, seventh, path = (f"{SHOPIFY_HOOK}1", f"{SHOPIFY_HOOK}7", f"{SHOPIFY_HOOK}../../orders")
    if channel != "shopify":
        first, seventh, path = 1, 7, "../../orders"  # type: ignore[assignment]
    hooks: list[Any] = [
        {"id": first, "topic": [topic], key: address},
        {"id": {"x": 1}, "topic": topic, key: ["a"]},
        {"id": path, "topic": topic, key: address},  # would go into the DELETE's path (or its gid)
        {"id": True, "topic": {"a": 1}, key: address, "status": ["active"]},
        {"id": seventh, "topic": topic, key: {"b": 2}},
        ["not", "a", "hook"],
        "not a hook",
    ]
    if channel == "shopify":
        return json.dumps({"data": {"webhookSubscriptions": {"nodes": hooks}}}).encode()
    return json.dumps(hooks).encode()


def shopify_graphql(listing: bytes) -> Any:
    """A GraphQL Admin API stand-in: ``listing`` for the subscription list, success for the rest."""

    def step(conn: Any, request: Any) -> None:
        sent = json.loads(request.body or b"{}")
        query, variables = sent.get("query", ""), sent.get("variables") or {}
        if "WebhookSubscriptions(" in query:
            body = listing
        elif "webhookSubscriptionCreate" in query:
            made = {"id": f"{SHOPIFY_HOOK}99", "topic": variables.get("topic"), "uri": variables.get("uri")}
            body = json.dumps(
                {"data": {"webhookSubscriptionCreate": {"webhookSubscription": made, "userErrors": []}}}
            ).encode()
        else:
            deleted = {"deletedWebhookSubscriptionId": variables.get("id"), "userErrors": []}
            body = json.dumps({"data": {"webhookSubscriptionDelete": deleted}}).encode()
        answer(200, body)(conn, request)

    return step


def _shopify_deleted(server: Any) -> list[str]:
    sent = [json.loads(request.body) for request in server.requests if request.method == "POST" and request.body]
    return [
        str(body["variables"]["id"]).rsplit("/", 1)[-1] for body in sent if "webhookSubscriptionDelete" in body["query"]
    ]


def _connected_store(account: Any, channel: str, url: str) -> Store:
    store = StoreFactory(account=account, channel=channel, base_url=url)
    store.credentials = {"access_token": "t", "consumer_key": "ck", "consumer_secret": "cs"}
    store.save()
    return store


def _address(store: Store) -> str:
    return webhook_url_for(channel=store.channel, public_id=store.public_id)


def _deleted(server: Any, channel: str) -> list[str]:
    if channel == "shopify":
        return _shopify_deleted(server)
    deletes = [request.target for request in server.requests if request.method == "DELETE"]
    return [target.split("?")[0].rsplit("/", 1)[-1] for target in deletes]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_disconnect_through_the_page_survives_json_nested_too_deeply(
    owner_client: Client, account: Any, channel: str
) -> None:
    with serving(answer(200, DEEP)) as server:
        store = _connected_store(account, channel, server.url)

        response = owner_client.post(f"/stores/{store.pk}/disconnect/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "could not be removed from here" in json.loads(response["HX-Trigger"])["toast"]["message"]
    assert Store.objects.get(pk=store.pk).status == StoreStatus.DISCONNECTED
    assert _deleted(server, channel) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_disconnect_through_the_page_reads_a_hostile_webhook_list_defensively(
    owner_client: Client, account: Any, channel: str
) -> None:
    with serving() as server:
        store = _connected_store(account, channel, server.url)
        listing = hostile_list(channel, _address(store))
        server.script[:] = (
            [shopify_graphql(listing)] if channel == "shopify" else [answer(200, listing), answer(200, b"{}")]
        )

        response = owner_client.post(f"/stores/{store.pk}/disconnect/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert Store.objects.get(pk=store.pk).status == StoreStatus.DISCONNECTED
    assert _deleted(server, channel) == ["1"]  # only the readable hook of ours


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_rotating_through_the_page_survives_json_nested_too_deeply(
    owner_client: Client, account: Any, channel: str
) -> None:
    with serving(answer(200, DEEP)) as server:
        store = _connected_store(account, channel, server.url)

        response = owner_client.post(f"/stores/{store.pk}/webhook-address/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    toast = json.loads(response["HX-Trigger"])["toast"]["message"]
    assert "did not take the new address, so nothing was changed" in toast
    assert "nested too deeply" in toast
    assert Store.objects.get(pk=store.pk).public_id == store.public_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_rotating_through_the_page_reads_a_hostile_webhook_list_defensively(
    owner_client: Client, account: Any, channel: str
) -> None:
    with serving() as server:
        store = _connected_store(account, channel, server.url)
        listing = hostile_list(channel, _address(store))
        server.script[:] = [shopify_graphql(listing) if channel == "shopify" else answer(200, listing)]

        response = owner_client.post(f"/stores/{store.pk}/webhook-address/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert Store.objects.get(pk=store.pk).public_id != store.public_id  # the channel took the new address
    assert _deleted(server, channel) == ["1"]  # the old hook; the rest unread


@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_a_webhook_list_is_read_item_by_item(channel: str) -> None:
    address = "https://zopi.example/webhooks/x/"
    with serving(answer(200, hostile_list(channel, address))) as server:
        client: Any = REGISTRY[channel](base_url=server.url, credentials={}, max_attempts=1).client
        hooks = client.webhook_subscriptions() if channel == "shopify" else client.webhooks()

    assert hooks == [Subscription(id="1", topic="", address=address)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["rotate", "disconnect"])
def test_a_page_action_ends_within_its_budget_however_slow_the_channel(
    owner_client: Client, account: Any, settings: Any, action: str
) -> None:
    # given a channel that takes its time over every answer (longer than the budget, shorter than a
    # call's own deadline), and a page-action budget of 1 s
    settings.OUTBOUND_INTERACTIVE_BUDGET = 1.0
    with serving(hang(4), hang(4), hang(4), hang(4), hang(4), hang(4)) as server:
        store = _connected_store(account, "shopify", server.url)
        started = time.monotonic()
        # when the owner asks for a new webhook address, or disconnects
        url = f"/stores/{store.pk}/webhook-address/" if action == "rotate" else f"/stores/{store.pk}/disconnect/"
        response = owner_client.post(url, HTTP_HX_REQUEST="true")
        elapsed = time.monotonic() - started
    # then the page answers within the budget (plus slack), with a message and no 500
    assert response.status_code == 200
    assert elapsed < 3.0, elapsed
    toast = json.loads(response["HX-Trigger"])["toast"]["message"]
    saved = Store.objects.get(pk=store.pk)
    if action == "rotate":
        assert "nothing was changed" in toast
        assert saved.public_id == store.public_id
    else:
        assert "could not be removed from here" in toast
        assert saved.status == StoreStatus.DISCONNECTED
