"""WooCommerce connected by its own authorization endpoint (``/wc-auth/v1/authorize``).

The merchant gives a store name and the site's address; we record a ``ChannelAuthorization``
and send them to ``<site>/wc-auth/v1/authorize`` with our app name, scope ``read_write``, a
``user_id`` that is the authorization's ``state`` (unguessable, single use, 30 minutes), and our
return and callback URLs. When the merchant approves, WooCommerce creates a key pair and POSTs
it as JSON to the callback, server to server, then sends the browser to the return URL with
``success=1&user_id=…``; on Deny only the browser comes back, with ``success=0``.

The callback is hostile input from the internet: the body is capped, JSON only, every field
checked (key shapes, ``read_write`` permissions), and its ``user_id`` must be a pending,
unexpired, unspent authorization of ours (``authorization_claim`` without a session: the state
is what ties it to the merchant). Only then is the store connected as the operator's app
(``auth_kind=APP``; the keys never expire and have no refresh) with a webhook secret we make,
through ``store_connect_start``: the connect task checks the keys and creates our webhooks
with that secret. A refusal stores nothing; WooCommerce then deletes the key pair it made.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Account
from channels_sync.enums import AuthorizationState, StoreStatus
from channels_sync.models import ChannelAuthorization, Store
from channels_sync.providers.woocommerce.provider import site_identity
from channels_sync.services.connect import ConnectError, store_connect_start
from channels_sync.services.install import (
    InstallError,
    authorization_claim,
    authorization_finish,
    authorization_start,
    session_digest,
)
from integrations.oauth import TokenGrant, state_digest
from orders.enums import Channel

AUTHORIZE_PATH = "wc-auth/v1/authorize"
SCOPE = "read_write"
# WooCommerce's keys are "ck_" / "cs_" and 40 hex digits (wc_rand_hash: 20 random bytes in hex).
KEY_SHAPES = {"consumer_key": re.compile(r"ck_[0-9a-f]{40}"), "consumer_secret": re.compile(r"cs_[0-9a-f]{40}")}
CALLBACK_MAX_BYTES = 4096  # the real body is about 200 bytes
WEBHOOK_SECRET_BYTES = 32
# A store under this name that is not connected may be connected here; any other is another shop's.
RECONNECTABLE = (StoreStatus.RECONNECT, StoreStatus.DISCONNECTED, StoreStatus.ERROR)


class CallbackRefused(Exception):
    """The key callback is refused: ``status`` and a message for WooCommerce's error page and logs."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class WooCommerceKeys(TokenGrant):
    """WooCommerce's grant: a REST API key pair (``access_token`` holds the consumer key). Keys
    never expire and have no refresh: a revoked pair needs the merchant to approve again."""

    consumer_secret: str = ""

    def credentials(self) -> dict[str, str]:
        return {"consumer_key": self.access_token, "consumer_secret": self.consumer_secret}


def approval_url(*, site_url: str, state: str) -> str:
    """Where the merchant approves our app: the site's authorization endpoint with our parameters."""
    params = {
        "app_name": settings.WOOCOMMERCE_APP_NAME,
        "scope": SCOPE,
        "user_id": state,
        "return_url": f"{settings.SITE_URL}{reverse('channels_sync:woocommerce_return')}",
        "callback_url": f"{settings.SITE_URL}{reverse('channels_sync:woocommerce_callback')}",
    }
    return f"{site_url.rstrip('/')}/{AUTHORIZE_PATH}?{urlencode(params)}"


def _name_free_for(account: Account, *, name: str, site_url: str, store: Store | None) -> None:
    """A new store's name must not be another shop's (checked before the merchant approves: a
    refusal at the callback would only make WooCommerce show an error page)."""
    if store is not None:
        return
    existing = Store.objects.filter(account=account, name=name.strip()).first()
    if existing is None or existing.status in (StoreStatus.NOT_CONNECTED, StoreStatus.CONNECTING):
        return
    same_site = site_identity(existing.base_url) == site_identity(site_url)
    if existing.channel != Channel.WOOCOMMERCE or not same_site:
        raise InstallError(
            _("A store named “%(name)s” is already in this account: choose another name.") % {"name": existing.name}
        )


def woocommerce_authorize_start(
    *, account: Account, user_id: int, session_key: str, name: str, site_url: str, store: Store | None = None
) -> str:
    """Record the approval to ask and return the site's approval page URL. ``store``: reconnecting
    that store (its name and site). Raises ``InstallError``."""
    if store is not None:
        if store.channel != Channel.WOOCOMMERCE or store.status not in RECONNECTABLE:
            raise InstallError(_("Only a WooCommerce store that lost its connection can be reconnected here."))
        name, site_url = store.name, store.base_url
    _name_free_for(account, name=name, site_url=site_url, store=store)
    started = authorization_start(
        account=account,
        user_id=user_id,
        session_key=session_key,
        channel=Channel.WOOCOMMERCE,
        store_name=name.strip(),
        shop=site_url.strip().rstrip("/"),
        store=store,
    )
    return approval_url(site_url=started.authorization.shop, state=started.state)


def keys_from_callback(*, content_type: str, body: bytes) -> tuple[str, WooCommerceKeys]:
    """(the ``user_id`` we sent, the key pair) of a key callback, every field checked."""
    if len(body) > CALLBACK_MAX_BYTES:
        raise CallbackRefused(413, f"the body is larger than {CALLBACK_MAX_BYTES} bytes")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise CallbackRefused(415, "the body must be JSON (Content-Type: application/json)")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise CallbackRefused(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise CallbackRefused(400, "the body must be a JSON object")
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise CallbackRefused(400, "user_id is missing")
    if data.get("key_permissions") != SCOPE:
        raise CallbackRefused(400, "key_permissions must be read_write")
    key_id = data.get("key_id")
    if isinstance(key_id, bool) or not isinstance(key_id, int) or key_id <= 0:
        raise CallbackRefused(400, "key_id must be a positive integer")
    for field, shape in KEY_SHAPES.items():
        value = data.get(field)
        if not isinstance(value, str) or shape.fullmatch(value) is None:
            raise CallbackRefused(400, f"{field} is not a WooCommerce key")
    keys = WooCommerceKeys(access_token=data["consumer_key"], consumer_secret=data["consumer_secret"], scope=SCOPE)
    return user_id, keys


def woocommerce_keys_receive(*, content_type: str, body: bytes) -> Store:
    """The key callback: check it, spend its authorization, and start connecting the store with
    the keys. Raises ``CallbackRefused``; nothing is stored then (a spent authorization is marked
    failed, with why, when the store could not be connected under its name)."""
    state, keys = keys_from_callback(content_type=content_type, body=body)
    with transaction.atomic():
        try:
            authorization = authorization_claim(channel=Channel.WOOCOMMERCE, state=state, session_key=None)
        except InstallError as error:
            raise CallbackRefused(403, str(error)) from None
        try:
            with transaction.atomic():  # a savepoint: a refused connect leaves no store behind
                started = store_connect_start(
                    account=authorization.account,
                    channel=Channel.WOOCOMMERCE,
                    name=authorization.store_name,  # a reconnected store's own name and site
                    base_url=authorization.shop,
                    credentials={},
                    webhook_secret=secrets.token_urlsafe(WEBHOOK_SECRET_BYTES),
                    grant=keys,
                )
        except ConnectError as error:
            authorization_finish(authorization, state=AuthorizationState.FAILED, error=str(error))
            refused: CallbackRefused | None = CallbackRefused(409, str(error))
        else:
            authorization_finish(authorization, state=AuthorizationState.APPROVED)
            refused = None
    if refused is not None:
        raise refused
    return started.store


@dataclass(frozen=True)
class Returned:
    """What the merchant is told back on the Stores page."""

    message: str
    connected: bool


def _theirs(*, account: Account, session_key: str, state: str) -> ChannelAuthorization:
    found = ChannelAuthorization.objects.filter(
        account=account,
        channel=Channel.WOOCOMMERCE,
        state_digest=state_digest(state),
        session_digest=session_digest(session_key),
    ).first()
    if found is None:
        raise InstallError(_("This approval is not one we asked for: connect again from the Stores page."))
    return found


def woocommerce_return(*, account: Account, session_key: str, success: str, user_id: str) -> Returned:
    """The browser back from WooCommerce: ``success=1`` after the keys came to the callback,
    ``success=0`` when the merchant denied (the authorization is then canceled). Raises
    ``InstallError`` for anything else."""
    if success not in ("0", "1") or not user_id or len(user_id) > 200 or not session_key:
        raise InstallError(_("WooCommerce sent you back without a valid answer: connect again."))
    found = _theirs(account=account, session_key=session_key, state=user_id)
    site = found.shop or found.store_name
    if success == "0":
        claimed = authorization_claim(channel=Channel.WOOCOMMERCE, state=user_id, session_key=session_key)
        authorization_finish(claimed, state=AuthorizationState.CANCELED)
        message = _("You did not approve the connection on %(site)s: nothing was connected. Connect again when ready.")
        return Returned(message % {"site": site}, connected=False)
    if found.state == AuthorizationState.APPROVED:
        message = _("Connecting %(name)s: checking it with WooCommerce…") % {"name": found.store_name}
        return Returned(message, connected=True)
    if found.state == AuthorizationState.FAILED:
        raise InstallError(found.error or _("The store could not be connected: connect again."))
    raise InstallError(_("WooCommerce did not send us the keys for %(site)s: connect again.") % {"site": site})
