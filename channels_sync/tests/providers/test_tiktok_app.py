"""TikTok Shop as the operator's app, without the network: token answers read defensively, the
authorized shops listing filtered, and webhooks of app-connected stores verified with the app secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channels_sync.providers.tiktok.auth import AuthorizedShop, expiry_of, grant_from, shops_from
from channels_sync.providers.tiktok.provider import TikTokProvider, webhook_authorization
from integrations.errors import MalformedPayload
from integrations.oauth import TokenGrant

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_token_answer_gives_unix_times_and_the_seller() -> None:
    data = {
        "access_token": "TTP_a",
        "access_token_expire_in": int((NOW + timedelta(days=7)).timestamp()),
        "refresh_token": "TTP_r",
        "refresh_token_expire_in": 4841467787,
        "open_id": "open-1",
        "seller_name": "Acme <b>Ltd</b>",
        "seller_base_region": "GB",
        "user_type": 0,
        "granted_scopes": ["seller.order.info", 7, "seller.shop.info"],
    }

    assert grant_from(data, now=NOW) == TokenGrant(
        access_token="TTP_a",
        refresh_token="TTP_r",
        expires_at=NOW + timedelta(days=7),
        refresh_expires_at=datetime.fromtimestamp(4841467787, tz=UTC),
        scope="seller.order.info,seller.shop.info",
        extra={"open_id": "open-1", "seller_name": "Acme Ltd", "seller_base_region": "GB"},
    )


@pytest.mark.parametrize("value", [True, -5, "12a", 3.5, 99_999_999_999_999, int(NOW.timestamp()) - 1, {"x": 1}])
def test_an_expiry_that_is_not_a_future_unix_time_is_malformed(value: Any) -> None:
    with pytest.raises(MalformedPayload):
        expiry_of({"access_token_expire_in": value}, "access_token_expire_in", now=NOW)


def test_a_small_expiry_is_read_as_seconds_and_none_as_never() -> None:
    assert expiry_of({"e": 3600}, "e", now=NOW) == NOW + timedelta(hours=1)
    assert expiry_of({}, "e", now=NOW) is None


@pytest.mark.parametrize("data", [None, [], {"access_token": "a"}, {"access_token": "", "refresh_token": "r"}])
def test_a_token_answer_without_tokens_is_malformed(data: Any) -> None:
    with pytest.raises(MalformedPayload):
        grant_from(data, now=NOW)


def test_the_shops_listing_keeps_only_shops_with_a_usable_id_and_cipher() -> None:
    data = {
        "shops": [
            {"id": "7494049642642441621", "name": "Acme US", "region": "US", "cipher": "GCP_x", "code": "USLC"},
            {"id": 7494049642642441622, "name": "<script>x</script>UK", "region": "GB", "cipher": "GCP_y"},
            {"id": "7494049642642441621", "name": "duplicate", "cipher": "GCP_z"},
            {"id": "../../etc", "cipher": "GCP_q"},
            {"id": True, "cipher": "GCP_t"},
            {"id": "1", "cipher": ""},
            "not a shop",
        ]
    }

    assert shops_from(data) == [
        AuthorizedShop(id="7494049642642441621", name="Acme US", region="US", cipher="GCP_x"),
        AuthorizedShop(id="7494049642642441622", name="x UK", region="GB", cipher="GCP_y"),
    ]
    assert shops_from({"shops": "nope"}) == shops_from(None) == []


def test_webhooks_of_an_app_store_are_verified_with_the_operator_app_secret(settings: Any) -> None:
    settings.TIKTOK_APP_KEY, settings.TIKTOK_APP_SECRET = "op-key", "op-secret"
    body = b'{"type":6,"shop_id":"1","data":{"message":"deauthorized"}}'
    app_store = {"access_token": "a", "shop_cipher": "c"}  # no app key kept: the operator's app
    signed = webhook_authorization(app_key="op-key", app_secret="op-secret", body=body)

    assert TikTokProvider.verify_webhook(headers={"Authorization": signed}, body=body, credentials=app_store)
    own = webhook_authorization(app_key="own", app_secret="own-secret", body=body)
    assert not TikTokProvider.verify_webhook(headers={"Authorization": own}, body=body, credentials=app_store)
    pasted = {**app_store, "app_key": "own", "app_secret": "own-secret"}
    assert TikTokProvider.verify_webhook(headers={"Authorization": own}, body=body, credentials=pasted)
    settings.TIKTOK_APP_KEY = settings.TIKTOK_APP_SECRET = ""
    assert not TikTokProvider.verify_webhook(headers={"Authorization": signed}, body=body, credentials=app_store)
