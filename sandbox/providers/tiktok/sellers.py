"""TikTok Shop sellers, the operator's app and the grants it holds, as the simulator keeps them.

A seller owns one or more shops: the TikTok ``SimAccount`` rows with the same ``options.seller``
(an account without it is a seller of its own, named as the account). One authorization covers
all of a seller's shops: its ``SimAuthCode`` and ``SimGrant`` rows hang on the seller's first
shop (lowest id). A grant's refresh token stays the same across refreshes (TikTok's behaviour
is not documented; see docs/channels.md): each refresh makes a child grant with a new access
token and no refresh token of its own; earlier access tokens stay valid until they expire.

Lifetimes come from the app's ``options`` in sim seconds (``token_lifetime``, default 7 days;
``refresh_lifetime``, default 365 days). Token answers give unix times on the caller's clock:
a sim moment is mapped to the wall clock through the world clock's speed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from sandbox.clock import clock_get, sim_now
from sandbox.enums import Provider
from sandbox.models import SimAccount, SimApp, SimGrant

SELLER_OPTION = "seller"
DEFAULT_TOKEN_LIFETIME = 7 * 86400
DEFAULT_REFRESH_LIFETIME = 365 * 86400
DEFAULT_SCOPES = ("seller.authorization.info", "seller.order.info", "seller.fulfillment.basic", "seller.logistics")


def seller_of(account: SimAccount) -> str:
    return str(account.options.get(SELLER_OPTION) or account.name)


def seller_shops(account: SimAccount) -> list[SimAccount]:
    """Every shop of ``account``'s seller, its first shop first."""
    seller = seller_of(account)
    own = Q(options__seller=seller) | (Q(name=seller) & ~Q(options__has_key=SELLER_OPTION))
    return list(SimAccount.objects.filter(own, provider=Provider.TIKTOK).order_by("pk"))


def sellers() -> dict[str, list[SimAccount]]:
    """Every seller of the simulated TikTok Shop and its shops, for the authorization page."""
    grouped: dict[str, list[SimAccount]] = {}
    for account in SimAccount.objects.filter(provider=Provider.TIKTOK).order_by("pk"):
        grouped.setdefault(seller_of(account), []).append(account)
    return grouped


def app_for_key(app_key: str) -> SimApp | None:
    return SimApp.objects.filter(provider=Provider.TIKTOK, client_id=app_key).first() if app_key else None


def app_for_service(service_id: str) -> SimApp | None:
    if not service_id:
        return None
    return SimApp.objects.filter(provider=Provider.TIKTOK, options__service_id=service_id).first()


def tiktok_app_ensure(
    *, app_key: str, app_secret: str, service_id: str, redirect_uri: str, options: Mapping[str, Any] | None = None
) -> SimApp:
    """The operator's TikTok app as the simulator knows it (made or updated): for tests and the
    dev profile (``sandbox.oauth_apps.dev_apps_ensure`` may call it with the settings)."""
    app, _ = SimApp.objects.update_or_create(
        provider=Provider.TIKTOK,
        client_id=app_key,
        defaults={
            "client_secret": app_secret,
            "redirect_uris": [redirect_uri],
            "options": {"service_id": service_id, **(options or {})},
        },
    )
    return app


def wall_clock(moment: datetime) -> int:
    """The unix time at which the caller's clock reaches the sim ``moment``."""
    speed = clock_get().speed or 1.0
    return int(time.time() + (moment - sim_now()).total_seconds() / speed)


def _lifetime(app: SimApp, key: str, default: int) -> timedelta:
    value = app.options.get(key, default)
    return timedelta(seconds=float(value) if isinstance(value, int | float) and value > 0 else default)


def grant_issue(app: SimApp, account: SimAccount, *, parent: SimGrant | None = None) -> SimGrant:
    """A new access token for the seller of ``account``: a new grant, or a refresh of ``parent``."""
    now = sim_now()
    return SimGrant.objects.create(
        app=app,
        account=account,
        parent=parent,
        access_token="TTP_" + secrets.token_urlsafe(40),
        access_expires_at=now + _lifetime(app, "token_lifetime", DEFAULT_TOKEN_LIFETIME),
        refresh_token=None if parent else "TTP_" + secrets.token_urlsafe(40),
        refresh_expires_at=None if parent else now + _lifetime(app, "refresh_lifetime", DEFAULT_REFRESH_LIFETIME),
        scope=",".join(DEFAULT_SCOPES),
    )


def grant_root(grant: SimGrant) -> SimGrant:
    """The grant holding the refresh token (refreshes do not make new ones)."""
    return grant.parent if grant.parent_id is not None and grant.parent is not None else grant


def token_data(grant: SimGrant) -> dict[str, Any]:
    """The ``data`` of a token/get or token/refresh answer."""
    root = grant_root(grant)
    account = root.account
    assert grant.access_expires_at is not None
    assert root.refresh_expires_at is not None
    return {
        "access_token": grant.access_token,
        "access_token_expire_in": wall_clock(grant.access_expires_at),
        "refresh_token": root.refresh_token,
        "refresh_token_expire_in": wall_clock(root.refresh_expires_at),
        "open_id": account.credentials.get("open_id", ""),
        "seller_name": seller_of(account),
        "seller_base_region": account.options.get("region", "US"),
        "user_type": 0,
        "granted_scopes": list(DEFAULT_SCOPES),
    }


def grants_revoke(account: SimAccount) -> int:
    """The seller of ``account`` deauthorized the app: every grant of its shops stops working."""
    shops = [shop.pk for shop in seller_shops(account)]
    return SimGrant.objects.filter(account_id__in=shops, revoked_at__isnull=True).update(revoked_at=timezone.now())


def webhook_signer(account: SimAccount) -> tuple[str, str]:
    """(app key, app secret) the shop's webhooks are signed with: the app whose key is in the
    shop's ``webhook_app_key`` option (its webhook address is that app's, as set in Partner Center),
    else the shop's own app (the pasted-keys path)."""
    app = app_for_key(str(account.options.get("webhook_app_key") or ""))
    if app is not None:
        return app.client_id, app.client_secret
    return str(account.credentials["app_key"]), str(account.credentials["app_secret"])
