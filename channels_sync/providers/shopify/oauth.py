"""Shopify's authorization code grant and expiring offline tokens, as the operator's app.

Pure parts: the shop name rule (``<name>.myshopify.com``), the shop's address (the
``SHOPIFY_SHOP_URL`` template), the authorize URL, the callback's ``hmac``. HTTP parts: the code
exchange and the refresh, both ``POST <shop>/admin/oauth/access_token`` with the app's client id
and secret (JSON body). What Shopify documents about each is in docs/channels.md ("Shopify:
install …"), with the sources.

Decisions:
- The code exchange asks for an expiring offline token (``expiring=1``): Shopify requires them of
  public apps; the answer's ``expires_in`` / ``refresh_token_expires_in`` set the store's expiries.
- A refusal with 400 (``invalid_grant``, ``invalid_request``: a spent or unknown code, a revoked,
  expired or retired refresh token) is ``GrantRefused``: only the merchant, installing again, mends
  it. A 401 (``invalid_client``) is the operator's app credentials: a ``CredentialsError``.
- A refresh is sent again when its answer is lost (a timeout, a 5xx): Shopify keeps the refresh
  token spent until its replacement is used (since August 2026), so the second try is taken. A
  code exchange is not (a code works once): a lost answer there means installing again.
- Shopify's error texts are never shown raw: the merchant reads our sentence and the error code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.errors import CredentialsError, ProviderError
from integrations.hosts import SHOPIFY_SHOP
from integrations.http import CONNECT_TIMEOUT, AttemptRecorder, Failure, ProviderHttpClient, json_or_none
from integrations.oauth import GrantRefused, TokenGrant, required_text, seconds_from
from integrations.signing import signature_matches
from integrations.transport import Response

SHOP_DOMAIN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com")
SHOP_SUFFIX = ".myshopify.com"
MAX_SHOP_NAME = 63  # one DNS label
TOKEN_PATH = "access_token"  # noqa: S105 (the endpoint's path, not a secret)


class ShopNameInvalid(ValueError):
    """What the merchant typed is not a Shopify shop name; the message says what is expected."""


def shop_domain_clean(typed: str) -> str:
    """``<name>.myshopify.com``, lower-cased, from what was typed: the full name, the bare
    ``<name>``, or the admin address ``https://<name>.myshopify.com/``."""
    value = typed.strip().lower()
    value = value.removeprefix("https://").removeprefix("http://").rstrip("/")
    if value and "." not in value:
        value += SHOP_SUFFIX
    name = value.removesuffix(SHOP_SUFFIX)
    if not SHOP_DOMAIN.fullmatch(value) or len(name) > MAX_SHOP_NAME:
        raise ShopNameInvalid(
            _("Give the shop's name as on Shopify (letters, digits and dashes), e.g. my-shop.myshopify.com.")
        )
    return value


def shop_domain_valid(shop: str) -> bool:
    """The callback's ``shop`` is a Shopify shop name, exactly (Shopify's rule; nothing else)."""
    return bool(SHOP_DOMAIN.fullmatch(shop)) and len(shop) <= MAX_SHOP_NAME + len(SHOP_SUFFIX)


def app_secrets() -> tuple[str, ...]:
    """The operator's app secrets a signature from Shopify may be made with: the current one and,
    while it is being rotated, the previous one (``SHOPIFY_PREVIOUS_CLIENT_SECRET``). Calls to
    Shopify (code exchange, refresh) use the current one only. None without a current one: no app."""
    current, previous = settings.SHOPIFY_CLIENT_SECRET, settings.SHOPIFY_PREVIOUS_CLIENT_SECRET
    if not current:
        return ()
    return (current, previous) if previous and previous != current else (current,)


def shop_url(domain: str) -> str:
    """Where the shop lives: ``SHOPIFY_SHOP_URL`` with its name (``https://<name>.myshopify.com``;
    the sandbox's address in the dev profile and tests)."""
    return settings.SHOPIFY_SHOP_URL.replace("{shop}", domain.removesuffix(SHOP_SUFFIX)).rstrip("/")


def authorize_url(*, base_url: str, state: str, redirect_uri: str) -> str:
    """The shop's "Install app?" page for the operator's app, asking an offline token."""
    query = {
        "client_id": settings.SHOPIFY_CLIENT_ID,
        "scope": settings.SHOPIFY_SCOPES,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return f"{base_url}/admin/oauth/authorize?{urlencode(query)}"


def _escaped(text: str, *, key: bool) -> str:
    """A key or value as Shopify writes it into the signed message: raw, but for ``%`` and ``&``
    (and ``=`` in a key), so that no pair can pass for two."""
    text = text.replace("%", "%25").replace("&", "%26")
    return text.replace("=", "%3D") if key else text


def callback_message(query: Mapping[str, str]) -> str:
    """What Shopify signs: the query's decoded pairs but ``hmac`` (and the legacy ``signature``),
    each written ``key=value`` unencoded (``_escaped``), sorted, joined with ``&``. Not form
    encoding: a padded base64 ``host`` is signed with its ``=``, ``+`` and ``/`` as they are."""
    pairs = (
        f"{_escaped(key, key=True)}={_escaped(value, key=False)}"
        for key, value in query.items()
        if key not in ("hmac", "signature")
    )
    return "&".join(sorted(pairs))


def callback_hmac(query: Mapping[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 of ``callback_message``, keyed with the app's client secret."""
    return hmac.new(secret.encode(), callback_message(query).encode(), hashlib.sha256).hexdigest()


def callback_signed(query: Mapping[str, str], secrets: Iterable[str]) -> bool:
    """The callback comes from Shopify: its ``hmac`` matches one of the app's client secrets (the
    current one, and the previous one while it is being rotated), each compared in constant time."""
    given = query.get("hmac")
    return any(signature_matches(callback_hmac(query, secret), given) for secret in secrets if secret)


def grant_of(body: Mapping[str, Any], *, now: datetime) -> TokenGrant:
    """The tokens of a token endpoint answer, read defensively."""
    refresh = body.get("refresh_token")
    scope = body.get("scope")
    return TokenGrant(
        access_token=required_text(body, "access_token"),
        refresh_token=required_text(body, "refresh_token") if refresh is not None else "",
        expires_at=seconds_from(body, "expires_in", now=now),
        refresh_expires_at=seconds_from(body, "refresh_token_expires_in", now=now),
        scope=scope[:1000] if isinstance(scope, str) else "",
    )


class ShopifyTokenClient(ProviderHttpClient):
    """``<shop>/admin/oauth/``: the token endpoint, authenticated by the app's client id and secret."""

    label = "Shopify"
    provider = "shopify"
    host_rule = SHOPIFY_SHOP
    credentials_hint = "the operator's Shopify app credentials (SHOPIFY_CLIENT_ID / SHOPIFY_CLIENT_SECRET)"

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, settings.SYNC_PROVIDER_TIMEOUT))
        super().__init__(f"{base_url.rstrip('/')}/admin/oauth", **kwargs)
        self.oauth_error = ""  # the ``error`` of the last refused answer (``invalid_grant``, …)

    def failure_of(self, response: Response) -> Failure | None:
        failure = super().failure_of(response)
        if failure is not None:
            body = json_or_none(response)
            error = body.get("error") if isinstance(body, dict) else None
            self.oauth_error = error[:100] if isinstance(error, str) else ""
        return failure

    def token(self, fields: Mapping[str, str], *, idempotent: bool) -> TokenGrant:
        body = {"client_id": settings.SHOPIFY_CLIENT_ID, "client_secret": settings.SHOPIFY_CLIENT_SECRET, **fields}
        try:
            answer, _response = self.request_json(
                "POST", TOKEN_PATH, json_body=body, idempotent=idempotent, shape="object"
            )
        except CredentialsError:
            raise CredentialsError(
                _("Shopify refused the app's credentials: check SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET.")
            ) from None
        except ProviderError as error:
            # Only ``invalid_grant`` (a revoked, spent or expired code or refresh token) is for good;
            # another 400 (``invalid_request``: a request of ours Shopify could not read) keeps the
            # store's tokens for support to look at and retry.
            if error.status == 400 and self.oauth_error == "invalid_grant":
                reason = _("Shopify no longer accepts this grant (%(reason)s).") % {"reason": error}
                raise GrantRefused(reason) from None
            raise
        return grant_of(answer, now=timezone.now())


def code_exchange(
    *, base_url: str, code: str, recorder: AttemptRecorder | None = None, finish_by: float | None = None
) -> TokenGrant:
    """The code of an approved install, exchanged (once) for an expiring offline token."""
    client = ShopifyTokenClient(base_url, recorder=recorder, finish_by=finish_by, max_attempts=1)
    return client.token({"code": code, "expiring": "1"}, idempotent=False)


def grant_refresh(*, base_url: str, refresh_token: str, recorder: AttemptRecorder | None = None) -> TokenGrant:
    """New tokens for a store's refresh token (which Shopify replaces)."""
    if not refresh_token:
        raise GrantRefused(_("the store has no refresh token"))
    client = ShopifyTokenClient(base_url, recorder=recorder)
    return client.token({"grant_type": "refresh_token", "refresh_token": refresh_token}, idempotent=True)
