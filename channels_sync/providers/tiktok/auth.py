"""TikTok Shop's auth host: a seller's authorization code, and later the refresh token, exchanged
for tokens with the operator's app key and secret (see docs/channels.md, "TikTok Shop").

    GET {auth}/api/v2/token/get?app_key&app_secret&auth_code&grant_type=authorized_code
    GET {auth}/api/v2/token/refresh?app_key&app_secret&refresh_token&grant_type=refresh_token

Both answer TikTok's envelope ``{"code", "message", "data"}``; ``data`` has ``access_token``,
``access_token_expire_in`` and ``refresh_token_expire_in`` (unix times, not durations),
``refresh_token``, ``open_id``, ``seller_name``, ``seller_base_region``, ``granted_scopes``. The
app secret travels in the query (TikTok's design): attempts are recorded without the query.

Decisions: an expiry that is a small number (below ``DURATION_BELOW``) is read as seconds from
now, as some integrations read it; one in the past, or not a number, is a malformed answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from channels_sync.providers.tiktok.client import TikTokClient
from integrations.errors import CredentialsError, MalformedPayload
from integrations.http import AttemptRecorder, Failure, Headers, Params, json_or_none, sanitize
from integrations.oauth import GrantRefused, TokenGrant, required_text
from integrations.transport import Response

TOKEN_GET_PATH = "/api/v2/token/get"  # noqa: S105 - a path, not a secret
TOKEN_REFRESH_PATH = "/api/v2/token/refresh"  # noqa: S105
DURATION_BELOW = 1_000_000_000  # 2001-09-09 as a unix time: anything smaller is a duration
LAST_TIMESTAMP = 253_402_300_799  # 9999-12-31
# Envelope codes that refuse the code or the refresh token for good (reported by integrators;
# see docs/channels.md): only the seller, authorizing again, mends them.
GRANT_REFUSED = {
    36004005: "TikTok Shop no longer knows this authorization (revoked, or the code was used)",
    36004001: "TikTok Shop says the refresh token expired",
}
SELLER_FIELDS = ("open_id", "seller_name", "seller_base_region")


def expiry_of(data: Mapping[str, Any], key: str, *, now: datetime) -> datetime | None:
    """When a token expires, from the answer's unix time under ``key``; None when absent."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise MalformedPayload(f"{key} is not a unix time")
    number = int(value)
    if 0 < number < DURATION_BELOW:
        return now + timedelta(seconds=number)
    if not DURATION_BELOW <= number <= LAST_TIMESTAMP:
        raise MalformedPayload(f"{key} is out of range")
    moment = datetime.fromtimestamp(number, tz=UTC)
    if moment <= now:
        raise MalformedPayload(f"{key} is already past")
    return moment


def grant_from(data: Any, *, now: datetime) -> TokenGrant:
    """The tokens of a token/get or token/refresh ``data``, read defensively."""
    if not isinstance(data, dict):
        raise MalformedPayload("TikTok Shop's token answer has no data")
    scopes = data.get("granted_scopes")
    scope = ",".join(item for item in scopes if isinstance(item, str))[:1000] if isinstance(scopes, list) else ""
    return TokenGrant(
        access_token=required_text(data, "access_token"),
        refresh_token=required_text(data, "refresh_token"),
        expires_at=expiry_of(data, "access_token_expire_in", now=now),
        refresh_expires_at=expiry_of(data, "refresh_token_expire_in", now=now),
        scope=scope,
        extra={key: sanitize(str(data[key]), 200) for key in SELLER_FIELDS if isinstance(data.get(key), str)},
    )


class TikTokAuthClient(TikTokClient):
    """The auth host's two GETs (no request signature: the app secret itself is sent)."""

    label = "TikTok Shop authorization"

    def __init__(self, base_url: str, *, app_key: str, app_secret: str, **kwargs: Any) -> None:
        super().__init__(base_url, app_key=app_key, app_secret=app_secret, access_token="", shop_cipher="", **kwargs)
        self.refused_code: int | None = None

    def prepare(self, method: str, url: str, params: Params, body: bytes) -> tuple[Params, Headers]:
        return {**params, "app_key": self.app_key, "app_secret": self.app_secret}, {}

    def failure_of(self, response: Response) -> Failure | None:
        failure = super().failure_of(response)
        code = _envelope_code(response)
        if failure is not None and code in GRANT_REFUSED:
            self.refused_code = code
            return Failure(GRANT_REFUSED[code], credentials=True, detail=failure.detail)
        return failure

    def exchange(self, path: str, params: Params) -> TokenGrant:
        """One token call; ``GrantRefused`` when TikTok refuses the code or refresh token for good."""
        self.refused_code = None
        try:
            data = self.data("GET", path, params=params)
        except CredentialsError as error:
            if self.refused_code is not None:
                raise GrantRefused(str(error)) from error
            raise
        return grant_from(data, now=timezone.now())

    def token_get(self, auth_code: str) -> TokenGrant:
        return self.exchange(TOKEN_GET_PATH, {"auth_code": auth_code, "grant_type": "authorized_code"})

    def token_refresh(self, refresh_token: str) -> TokenGrant:
        return self.exchange(TOKEN_REFRESH_PATH, {"refresh_token": refresh_token, "grant_type": "refresh_token"})


def _envelope_code(response: Response) -> int | None:
    body = json_or_none(response)
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def operator_auth_client(*, recorder: AttemptRecorder | None = None, **options: Any) -> TikTokAuthClient:
    """The auth host client with the operator's app (settings ``TIKTOK_AUTH_URL`` / ``TIKTOK_APP_*``)."""
    return TikTokAuthClient(
        settings.TIKTOK_AUTH_URL,
        app_key=settings.TIKTOK_APP_KEY,
        app_secret=settings.TIKTOK_APP_SECRET,
        recorder=recorder,
        **options,
    )


@dataclass(frozen=True)
class AuthorizedShop:
    """One shop a seller's authorization covers (``/authorization/202309/shops``)."""

    id: str
    name: str
    region: str
    cipher: str  # sent as ``shop_cipher`` on every shop-scoped call; never shown


def shops_from(data: Any) -> list[AuthorizedShop]:
    """The shops of the listing's ``data.shops``; an entry without a usable id or cipher is left
    out (ids are digits, at most 64; a cipher is opaque, at most 500 characters)."""
    items = data.get("shops") if isinstance(data, dict) else None
    shops: dict[str, AuthorizedShop] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        shop_id, cipher = item.get("id"), item.get("cipher")
        if isinstance(shop_id, bool) or not isinstance(shop_id, str | int) or not isinstance(cipher, str):
            continue
        shop_id, cipher = str(shop_id).strip(), cipher.strip()
        if not (shop_id.isascii() and shop_id.isdigit() and len(shop_id) <= 64) or not 0 < len(cipher) <= 500:
            continue
        name = sanitize(str(item.get("name") or ""), 150) or shop_id
        region = sanitize(str(item.get("region") or ""), 8)
        shops.setdefault(shop_id, AuthorizedShop(id=shop_id, name=name, region=region, cipher=cipher))
    return list(shops.values())


def operator_shops(access_token: str, *, recorder: AttemptRecorder | None = None) -> list[AuthorizedShop]:
    """The shops a fresh authorization covers, asked at ``TIKTOK_API_URL`` with the operator's app."""
    client = TikTokClient(
        settings.TIKTOK_API_URL,
        app_key=settings.TIKTOK_APP_KEY,
        app_secret=settings.TIKTOK_APP_SECRET,
        access_token=access_token,
        shop_cipher="",
        recorder=recorder,
    )
    return shops_from(client.shops())
