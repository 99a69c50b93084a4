"""Connecting a Shopify shop as the operator's app: the install page and its callback.

``shopify_install_start`` records the authorization (``install.authorization_start``) and gives
the shop's authorize URL to send the merchant to. ``shopify_install_callback`` takes what Shopify
sends back, in this order, and stores nothing until every check passed:

1. ``error=access_denied`` (the merchant canceled): the state is spent, the authorization marked
   canceled, ``InstallCanceled`` raised; nothing else.
2. The ``hmac`` (constant time, keyed with the app's client secret, or the previous one while it
   is rotated): a callback not signed by
   Shopify is refused before its state is even looked at (a forged one cannot spend it).
3. The ``shop``: a Shopify shop name, and the one the merchant asked for.
4. The ``state``: ``install.authorization_claim`` (unknown, expired, another session's or used
   already: refused).
5. The code, exchanged within the interactive budget for an expiring offline token.
6. ``store_connect_start`` with that grant: a new store, or the reconnecting store in place (same
   row, same orders); its connect check (shop identity, webhooks, first import) is queued.

A failure after the claim marks the authorization failed with the reason (support sees it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Account
from channels_sync.enums import AuthorizationState
from channels_sync.models import ChannelAuthorization, Store
from channels_sync.providers.shopify import oauth
from channels_sync.services.attempts import AttemptLog
from channels_sync.services.connect import NEVER_CONNECTED, ConnectError, store_connect_start
from channels_sync.services.install import InstallError, authorization_claim, authorization_finish, authorization_start
from integrations.errors import MalformedPayload, ProviderError
from orders.enums import Channel

CANCELED = "access_denied"
ERROR_CODE = re.compile(r"[a-z_]{1,40}")


class InstallCanceled(InstallError):
    """The merchant canceled on Shopify's install page: nothing was stored."""


@dataclass(frozen=True)
class InstallDone:
    store: Store
    message: str  # for the merchant


def shopify_app_ready() -> bool:
    """The operator registered a Shopify app (its id and secret are set)."""
    return bool(settings.SHOPIFY_CLIENT_ID and settings.SHOPIFY_CLIENT_SECRET)


def callback_url() -> str:
    """The redirect URI registered with the app: ``<SITE_URL>/stores/shopify/callback/``."""
    return f"{settings.SITE_URL}{reverse('channels_sync:shopify_callback')}"


def _not_ready() -> InstallError:
    return InstallError(
        _("Connecting Shopify as an app is not set up on this order center: connect with an access token (advanced).")
    )


def _name_free(account: Account, *, name: str, shop: str) -> None:
    """A store already under that name must be this very shop (connected again), or never connected."""
    existing = Store.objects.filter(account=account, name=name).first()
    if existing is None or existing.status in NEVER_CONNECTED:
        return
    if existing.channel != Channel.SHOPIFY or existing.domain != shop:
        raise InstallError(
            _("A store named “%(name)s” is already in this account (%(address)s): choose another name.")
            % {"name": name, "address": existing.domain or existing.base_url}
        )


def shopify_install_start(
    *,
    account: Account,
    user_id: int,
    session_key: str,
    store_name: str = "",
    shop: str = "",
    store: Store | None = None,
) -> str:
    """The shop's authorize URL to send the merchant to. ``store``: reconnecting that store (its
    name and shop); otherwise ``store_name`` and ``shop`` as typed (``<name>`` or
    ``<name>.myshopify.com``). Raises ``InstallError`` with what to fix."""
    if not shopify_app_ready():
        raise _not_ready()
    if store is not None:
        if store.channel != Channel.SHOPIFY or not oauth.shop_domain_valid(store.domain):
            raise InstallError(_("This store was not connected as the Shopify app: update its credentials instead."))
        store_name, domain, base_url = store.name, store.domain, store.base_url
    else:
        store_name = store_name.strip()
        if not store_name or len(store_name) > 200:
            raise InstallError(_("Give the store a name (at most 200 characters)."))
        try:
            domain = oauth.shop_domain_clean(shop)
        except oauth.ShopNameInvalid as invalid:
            raise InstallError(str(invalid)) from None
        _name_free(account, name=store_name, shop=domain)
        base_url = oauth.shop_url(domain)
    started = authorization_start(
        account=account,
        user_id=user_id,
        session_key=session_key,
        channel=Channel.SHOPIFY,
        store_name=store_name,
        shop=domain,
        store=store,
    )
    return oauth.authorize_url(base_url=base_url, state=started.state, redirect_uri=callback_url())


def _failed(authorization: ChannelAuthorization, message: str) -> InstallError:
    authorization_finish(authorization, state=AuthorizationState.FAILED, error=message)
    return InstallError(message)


def _canceled(query: Mapping[str, str], session_key: str) -> InstallError:
    """Shopify sent the merchant back without approving: the state is spent, nothing stored."""
    authorization = authorization_claim(channel=Channel.SHOPIFY, state=query.get("state", ""), session_key=session_key)
    error = query.get("error", "")
    if error == CANCELED:
        authorization_finish(authorization, state=AuthorizationState.CANCELED, error=_("canceled on Shopify"))
        return InstallCanceled(
            _("You canceled the install on Shopify: nothing was connected. Connect again when you are ready.")
        )
    code = error if ERROR_CODE.fullmatch(error) else "unknown"
    return _failed(authorization, _("Shopify did not approve the install (%(code)s): connect again.") % {"code": code})


def shopify_install_callback(*, query: Mapping[str, str], session_key: str) -> InstallDone:
    """Check what Shopify sent back and connect the store (see the module docstring)."""
    if not shopify_app_ready():
        raise _not_ready()
    if "error" in query:
        raise _canceled(query, session_key)
    if not oauth.callback_signed(query, oauth.app_secrets()):
        raise InstallError(
            _("This answer is not signed by Shopify: nothing was connected. Connect again from the Stores page.")
        )
    shop = query.get("shop", "")
    if not oauth.shop_domain_valid(shop):
        raise InstallError(_("Shopify named a shop that is not a Shopify shop name: nothing was connected."))
    authorization = authorization_claim(channel=Channel.SHOPIFY, state=query.get("state", ""), session_key=session_key)
    if shop != authorization.shop:
        raise _failed(
            authorization,
            _("Shopify sent you back from another shop (%(shop)s) than the one you asked for (%(asked)s).")
            % {"shop": shop, "asked": authorization.shop},
        )
    return _connect(authorization, code=query.get("code", ""))


def _connect(authorization: ChannelAuthorization, *, code: str) -> InstallDone:
    store = authorization.store
    base_url = store.base_url if store is not None else oauth.shop_url(authorization.shop)
    if not code or len(code) > 200:
        raise _failed(authorization, _("Shopify sent no usable authorization code: connect again."))
    try:
        grant = oauth.code_exchange(
            base_url=base_url,
            code=code,
            recorder=AttemptLog(store_id=store.pk if store is not None else None),
            finish_by=time.monotonic() + settings.OUTBOUND_INTERACTIVE_BUDGET,
        )
    except (ProviderError, MalformedPayload) as error:
        reason = _("Shopify did not give the access: %(reason)s. Connect again.") % {"reason": error}
        raise _failed(authorization, reason) from None
    try:
        start = store_connect_start(
            account=authorization.account,
            channel=Channel.SHOPIFY,
            name=store.name if store is not None else authorization.store_name,
            base_url=base_url,
            domain=authorization.shop,
            credentials={},
            # No webhook secret of its own: Shopify signs an app's webhooks with the app's client
            # secret, which the operator rotates (verify_webhook reads it from the settings).
            grant=grant,
        )
    except ConnectError as error:
        raise _failed(authorization, str(error)) from None
    authorization_finish(authorization, state=AuthorizationState.APPROVED)
    message = _("Shopify approved the install: connecting %(name)s (%(shop)s) and importing its orders…") % {
        "name": start.store.name,
        "shop": authorization.shop,
    }
    return InstallDone(store=start.store, message=message)
