"""Connecting TikTok Shop as the operator's app: the seller authorizes it on TikTok Shop's page, we
exchange the code for the seller's tokens, list the shops they open and connect the ones the
merchant picks (one ``Store`` each), or, reconnecting, the store's own shop in place.

1. ``tiktok_authorize_url``: an authorization (``install.authorization_start``) and the page to
   send the merchant to: ``TIKTOK_AUTHORIZE_URL?service_id=…&state=…``. TikTok sends the seller
   back to the redirect URL registered for the app in Partner Center (``/stores/tiktok/callback/``).
2. ``tiktok_callback``: the state is spent (wrong, reused, expired or another session's: refused,
   nothing stored); no ``code`` is a cancel; the code is exchanged at ``TIKTOK_AUTH_URL`` and the
   shops listed at ``TIKTOK_API_URL`` outside any transaction; the tokens and shops are kept
   encrypted on the authorization (state CHOOSING) while the merchant picks.
3. ``tiktok_shops_connect``: one store per picked shop through ``store_connect_start`` with the
   grant (auth kind APP: signed with the operator's app, its token refreshed by beat); a shop
   already connected in the account is updated in place (matched by shop id or cipher).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from channels_sync.enums import AuthorizationState
from channels_sync.models import ChannelAuthorization, Store
from channels_sync.providers.tiktok.auth import AuthorizedShop, operator_auth_client, operator_shops
from channels_sync.services.attempts import AttemptLog
from channels_sync.services.connect import ConnectError, store_connect_start
from channels_sync.services.install import (
    InstallError,
    authorization_claim,
    authorization_finish,
    authorization_start,
    session_digest,
)
from integrations.errors import MalformedPayload, ProviderError
from integrations.oauth import TokenGrant
from orders.enums import Channel

logger = logging.getLogger(__name__)

MAX_CODE = 1000


class InstallCanceled(InstallError):
    """The seller declined on TikTok Shop's page: nothing was asked of TikTok, nothing is stored."""


@dataclass(frozen=True)
class CallbackResult:
    authorization: ChannelAuthorization
    stores: list[Store]  # reconnecting: the store updated in place; else empty (the merchant picks)


def tiktok_authorize_url(*, account: Account, user_id: int, session_key: str, store: Store | None = None) -> str:
    """Where to send the merchant to authorize the operator's app (``store``: reconnecting it)."""
    if not (settings.TIKTOK_SERVICE_ID and settings.TIKTOK_APP_KEY and settings.TIKTOK_APP_SECRET):
        raise InstallError(_("TikTok Shop is not set up on this order center yet: ask its operator."))
    if store is not None and store.channel != Channel.TIKTOK:
        raise InstallError(_("That store is not a TikTok Shop store."))
    started = authorization_start(
        account=account, user_id=user_id, session_key=session_key, channel=Channel.TIKTOK, store=store
    )
    query = urlencode({"service_id": settings.TIKTOK_SERVICE_ID, "state": started.state})
    return f"{settings.TIKTOK_AUTHORIZE_URL}?{query}"


def tiktok_callback(*, state: str, code: str, session_key: str) -> CallbackResult:
    """The merchant is back from TikTok Shop's page. Raises ``InstallError`` (``InstallCanceled``)."""
    authorization = authorization_claim(channel=Channel.TIKTOK, state=state, session_key=session_key)
    if not code:
        authorization_finish(authorization, state=AuthorizationState.CANCELED, error="declined on TikTok Shop")
        raise InstallCanceled(_("TikTok Shop was not authorized: nothing was connected."))
    if len(code) > MAX_CODE:
        authorization_finish(authorization, state=AuthorizationState.FAILED, error="code too long")
        raise InstallError(_("TikTok Shop sent you back without a usable approval: connect again."))
    try:
        grant = operator_auth_client(recorder=AttemptLog(store_id=None)).token_get(code)
        shops = operator_shops(grant.access_token, recorder=AttemptLog(store_id=None))
    except (ProviderError, MalformedPayload) as error:
        logger.info("TikTok Shop authorization %s failed: %s", authorization.pk, error)
        authorization_finish(authorization, state=AuthorizationState.FAILED, error=str(error))
        raise InstallError(
            _("TikTok Shop did not confirm the authorization (%(reason)s): connect again in a few minutes.")
            % {"reason": error}
        ) from error
    if not shops:
        authorization_finish(authorization, state=AuthorizationState.FAILED, error="no shop authorized")
        raise InstallError(_("This TikTok Shop seller account has no shop for the app: nothing was connected."))
    authorization.grant = _kept(grant, shops)  # kept (encrypted) while the merchant picks
    authorization.save(update_fields=["grant_token"])
    authorization_finish(authorization, state=AuthorizationState.CHOOSING)
    if authorization.store is None:
        return CallbackResult(authorization=authorization, stores=[])
    return CallbackResult(authorization=authorization, stores=_reconnect(authorization, shops))


def _reconnect(authorization: ChannelAuthorization, shops: list[AuthorizedShop]) -> list[Store]:
    store = authorization.store
    assert store is not None
    mine = [shop for shop in shops if shop.id == store.shop_id or shop.cipher == store.credentials.get("shop_cipher")]
    if not mine:
        authorization_finish(authorization, state=AuthorizationState.FAILED, error="store's shop not authorized")
        raise InstallError(
            _("The seller account you authorized does not have “%(name)s”: sign in to TikTok Shop as its seller.")
            % {"name": store.name}
        )
    return tiktok_shops_connect(
        account=authorization.account, authorization_id=authorization.pk, session_key=None, shop_ids=[mine[0].id]
    )


def _kept(grant: TokenGrant, shops: list[AuthorizedShop]) -> dict[str, Any]:
    return {
        "access_token": grant.access_token,
        "refresh_token": grant.refresh_token,
        "expires_at": grant.expires_at.isoformat() if grant.expires_at else "",
        "refresh_expires_at": grant.refresh_expires_at.isoformat() if grant.refresh_expires_at else "",
        "seller_name": str(grant.extra.get("seller_name", "")),
        "shops": [asdict(shop) for shop in shops],
    }


def _grant_of(kept: dict[str, Any]) -> TokenGrant:
    def when(value: str) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return TokenGrant(
        access_token=kept["access_token"],
        refresh_token=kept["refresh_token"],
        expires_at=when(kept["expires_at"]),
        refresh_expires_at=when(kept["refresh_expires_at"]),
    )


def authorization_choosing(*, account: Account, authorization_id: int, session_key: str | None) -> ChannelAuthorization:
    """The merchant's authorization waiting for its shops to be picked; ``InstallError`` otherwise."""
    found = ChannelAuthorization.objects.filter(
        pk=authorization_id, account=account, channel=Channel.TIKTOK, state=AuthorizationState.CHOOSING
    ).first()
    if found is None or (session_key is not None and found.session_digest != session_digest(session_key)):
        raise InstallError(_("This TikTok Shop authorization is not waiting for shops: connect again."))
    if found.expires_at <= timezone.now():
        raise InstallError(_("This approval took too long and expired: connect again."))
    return found


def shops_of(authorization: ChannelAuthorization) -> list[AuthorizedShop]:
    return [AuthorizedShop(**shop) for shop in authorization.grant.get("shops", [])]


def connected_store(account: Account, shop: AuthorizedShop) -> Store | None:
    """The account's store for that shop, if it has one (connected as an app or with keys)."""
    same = Q(shop_id=shop.id) | Q(domain=shop.cipher[:255])
    return Store.objects.filter(same, account=account, channel=Channel.TIKTOK).order_by("pk").first()


def tiktok_shops_connect(
    *, account: Account, authorization_id: int, session_key: str | None, shop_ids: list[str]
) -> list[Store]:
    """Connect the picked shops (their checks and first imports queued); all or none."""
    with transaction.atomic():
        authorization = authorization_choosing(
            account=account, authorization_id=authorization_id, session_key=session_key
        )
        authorization = ChannelAuthorization.objects.select_for_update().get(pk=authorization.pk)
        if authorization.state != AuthorizationState.CHOOSING:
            raise InstallError(_("This TikTok Shop authorization was used already."))
        offered = {shop.id: shop for shop in shops_of(authorization)}
        picked = [offered[shop_id] for shop_id in dict.fromkeys(shop_ids) if shop_id in offered]
        if not picked or len(picked) != len(set(shop_ids)):
            raise InstallError(_("Choose at least one of the shops listed."))
        grant = _grant_of(authorization.grant)
        try:
            stores = [_connect_one(account, shop, grant) for shop in picked]
        except ConnectError as error:
            raise InstallError(str(error)) from error
        authorization_finish(authorization, state=AuthorizationState.APPROVED)
    return stores


def _connect_one(account: Account, shop: AuthorizedShop, grant: TokenGrant) -> Store:
    existing = connected_store(account, shop)
    name = existing.name if existing is not None else _free_name(account, shop)
    start = store_connect_start(
        account=account,
        channel=Channel.TIKTOK,
        name=name,
        base_url=existing.base_url if existing is not None else settings.TIKTOK_API_URL,
        credentials={"shop_cipher": shop.cipher},
        domain=existing.domain if existing is not None else shop.cipher,
        grant=grant,
    )
    return start.store


def _free_name(account: Account, shop: AuthorizedShop) -> str:
    """The shop's name, or with its id's end when another store of the account has that name."""
    taken = set(Store.objects.filter(account=account).values_list("name", flat=True))
    name = shop.name[:150]
    return name if name not in taken else f"{name} ({shop.region or 'TikTok'} {shop.id[-6:]})"
