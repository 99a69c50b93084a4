"""What a simulated channel's token endpoint does with codes and grants (Shopify's today; shared so
TikTok Shop's can use the same rules).

- A code (``SimAuthCode``) is given by the approval page, works once, for the app it was given to,
  within ``code_lifetime`` sim seconds (default 60).
- A grant (``SimGrant``) is an access token, expiring after ``token_lifetime`` sim seconds (default
  3600) when the app asked for expiring tokens, with a refresh token valid ``refresh_lifetime``
  (default 90 days): lifetimes come from ``SimApp.options``.
- A refresh spends a grant's refresh token and makes a child grant. The parent's refresh token
  keeps working until a child is first used (Shopify since August 2026): a refresh whose answer
  was lost can be made again, and the unused child it made is revoked. From the first use of a
  child on, only that generation works.
- Revoking (the merchant removed the app; the control API) sets ``revoked_at`` on every grant of
  the app and shop.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q

from sandbox.clock import sim_now
from sandbox.models import SimAccount, SimApp, SimAuthCode, SimGrant

CODE_LIFETIME = 60  # sim seconds
TOKEN_LIFETIME = 3600
REFRESH_LIFETIME = 90 * 86400


class GrantError(Exception):
    """The token endpoint's refusal: an OAuth ``error`` code, its description and the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass(frozen=True)
class Issued:
    grant: SimGrant
    expiring: bool


def app_find(provider: str, client_id: str) -> SimApp | None:
    if not client_id or len(client_id) > 100:
        return None
    return SimApp.objects.filter(provider=provider, client_id=client_id).first()


def app_authenticated(provider: str, client_id: str, client_secret: str) -> SimApp:
    """The app whose id and secret these are; ``invalid_client`` otherwise."""
    app = app_find(provider, client_id)
    if app is None or not hmac.compare_digest(app.client_secret.encode(), (client_secret or "").encode()):
        raise GrantError("invalid_client", "Client authentication failed: unknown client or wrong secret.", 401)
    return app


def redirect_allowed(app: SimApp, redirect_uri: str) -> bool:
    """``redirect_uri`` starts with one of the app's registered addresses (none registered: any)."""
    if not redirect_uri.startswith(("http://", "https://")):
        return False
    return not app.redirect_uris or any(redirect_uri.startswith(str(prefix)) for prefix in app.redirect_uris)


def _lifetime(app: SimApp, key: str, default: int) -> int:
    value = app.options.get(key, default)
    return int(value) if isinstance(value, int | float) and value > 0 else default


def code_issue(*, app: SimApp, account: SimAccount, redirect_uri: str, scope: str) -> SimAuthCode:
    now = sim_now()
    return SimAuthCode.objects.create(
        app=app,
        account=account,
        code=secrets.token_hex(16),
        redirect_uri=redirect_uri[:1000],
        scope=scope[:1000],
        expires_at=now + timedelta(seconds=_lifetime(app, "code_lifetime", CODE_LIFETIME)),
    )


def _new_grant(
    *, app: SimApp, account: SimAccount, scope: str, expiring: bool, parent: SimGrant | None = None
) -> SimGrant:
    now = sim_now()
    return SimGrant.objects.create(
        app=app,
        account=account,
        parent=parent,
        access_token=f"shpua_{secrets.token_hex(16)}",
        access_expires_at=now + timedelta(seconds=_lifetime(app, "token_lifetime", TOKEN_LIFETIME))
        if expiring
        else None,
        refresh_token=f"shprt_{secrets.token_hex(20)}" if expiring else None,
        refresh_expires_at=now + timedelta(seconds=_lifetime(app, "refresh_lifetime", REFRESH_LIFETIME))
        if expiring
        else None,
        scope=scope,
    )


def code_redeem(*, app: SimApp, account: SimAccount, code: str, expiring: bool) -> Issued:
    """Spend ``code`` (once) for a grant of ``app`` on ``account``."""
    now = sim_now()
    with transaction.atomic():
        found = (
            SimAuthCode.objects.select_for_update()
            .filter(code=code[:100], app=app, account=account, used_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if found is None:
            raise GrantError("invalid_request", "The authorization code was not found or was already used")
        found.used_at = now
        found.save(update_fields=["used_at"])
        if expiring:  # one expiring token per app and shop: a new install replaces the older ones
            SimGrant.objects.filter(app=app, account=account, revoked_at__isnull=True).update(revoked_at=now)
        grant = _new_grant(app=app, account=account, scope=found.scope, expiring=expiring)
    return Issued(grant=grant, expiring=expiring)


def grant_refresh(*, app: SimApp, account: SimAccount, refresh_token: str) -> SimGrant:
    """Spend a refresh token: a child grant. Refused (``invalid_grant``) when it is unknown,
    revoked, expired, or retired because a child of it has been used."""
    now = sim_now()
    with transaction.atomic():
        grant = (
            SimGrant.objects.select_for_update()
            .filter(app=app, account=account, refresh_token=refresh_token[:200])
            .first()
            if refresh_token
            else None
        )
        if grant is None or grant.revoked_at is not None:
            raise GrantError("invalid_grant", "Token has been expired or revoked.")
        if grant.refresh_expires_at is not None and grant.refresh_expires_at <= now:
            raise GrantError("invalid_grant", "Token has been expired or revoked.")
        if grant.children.filter(used_at__isnull=False).exists():
            raise GrantError("invalid_grant", "Token has been expired or revoked.")
        # A lost answer asked again: the child made then was never used; it is replaced.
        grant.children.filter(revoked_at__isnull=True).update(revoked_at=now)
        grant.refreshed_at = now
        grant.used_at = grant.used_at or now
        grant.save(update_fields=["refreshed_at", "used_at"])
        return _new_grant(app=app, account=account, scope=grant.scope, expiring=True, parent=grant)


def _first_use(grant: SimGrant) -> None:
    """A grant used for the first time retires its parent's refresh token (and access token)."""
    if grant.used_at is None:
        SimGrant.objects.filter(pk=grant.pk, used_at__isnull=True).update(used_at=sim_now())


def grant_token_accepted(account: SimAccount, token: str) -> bool:
    """``token`` is the access token of a live grant on ``account``: unrevoked, unexpired, and not
    superseded (no child of it used yet). Its first use is recorded."""
    if not token or len(token) > 200:
        return False
    now = sim_now()
    grant = (
        SimGrant.objects.filter(account=account, access_token=token, revoked_at__isnull=True)
        .filter(Q(access_expires_at__isnull=True) | Q(access_expires_at__gt=now))
        .first()
    )
    if grant is None or grant.children.filter(used_at__isnull=False).exists():
        return False
    _first_use(grant)
    return True


def grants_revoke(*, account: SimAccount) -> int:
    """Every grant of the shop stops working (the merchant removed the app)."""
    return SimGrant.objects.filter(account=account, revoked_at__isnull=True).update(revoked_at=sim_now())


def grants_chain(*, account: SimAccount) -> list[dict[str, object]]:
    """The shop's grants, oldest first, for tests and support: who is whose parent, what was used."""
    return [
        {
            "id": grant.pk,
            "parent": grant.parent_id,
            "used": grant.used_at is not None,
            "refreshed": grant.refreshed_at is not None,
            "revoked": grant.revoked_at is not None,
            "expires_at": grant.access_expires_at.isoformat() if grant.access_expires_at else None,
        }
        for grant in SimGrant.objects.filter(account=account).order_by("pk")
    ]


def installed_app_secret(account: SimAccount) -> str:
    """The client secret of the app with a live grant on the shop ("" when none): what Shopify signs
    that shop's webhooks with for the app."""
    grant = (
        SimGrant.objects.filter(account=account, revoked_at__isnull=True).select_related("app").order_by("-pk").first()
    )
    return grant.app.client_secret if grant is not None else ""


def grant_issue(*, app: SimApp, account: SimAccount, scope: str, expiring: bool = True) -> SimGrant:
    """A grant made without the install page (the demo seed: a shop that installed the app)."""
    return _new_grant(app=app, account=account, scope=scope, expiring=expiring)
