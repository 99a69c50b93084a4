"""Expiring access tokens of supplier accounts (AliExpress, CJ): refreshed ahead of expiry (beat,
``suppliers.refresh_due_tokens``) and after the supplier refuses a token, by one worker at a time
per account, so a refresh token is never spent twice.

As ``channels_sync.services.tokens.StoreTokens`` does for stores: the refresh is claimed with one
conditional UPDATE (``token_refreshing_until``, held ``TOKEN_REFRESH_CLAIM``) that also requires
the credentials to be the ones the worker read; the supplier is called outside any transaction;
the new tokens are written only while the claim is still this worker's.

- AliExpress: ``/auth/token/refresh`` with the operator's app key and secret (settings). A refusal
  (``GrantRefused``) puts the account in RECONNECT: the merchant authorizes again.
- CJ: ``refreshAccessToken``; when CJ refuses the refresh token, a new token from the merchant's
  API key (``getAccessToken``). CJ allows a new token at most once per 5 minutes and a refresh 5
  times a minute: an account asks for either at most once per ``CJ_TOKEN_REFRESH_MIN_INTERVAL``
  (``token_refreshed_at``); inside it, the token in hand is used (ahead of expiry) or the call is
  retried later (``ProviderError`` retryable, ``retry_after`` the rest of the interval). A refused
  API key puts the account in RECONNECT.
- Temu (simulated) has no expiring token: its API key is sent as it is (no token source).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.errors import CredentialsError, ProviderError
from integrations.oauth import GrantRefused, TokenGrant
from suppliers.enums import SourceAccountStatus, SupplierProvider
from suppliers.models import SourceAccount
from suppliers.providers.aliexpress.provider import AliExpressProvider
from suppliers.providers.cj.provider import CjProvider
from suppliers.services.attempts import SupplierAttemptLog

logger = logging.getLogger(__name__)

EXPIRING = (SupplierProvider.ALIEXPRESS, SupplierProvider.CJ)
TOKEN_KEYS = ("access_token", "refresh_token")
WAIT_STEP = 0.1


def operator_credentials(provider: str) -> dict[str, str]:
    """What the operator's app adds to an account's credentials (AliExpress: app key and secret)."""
    if provider == SupplierProvider.ALIEXPRESS:
        return {"app_key": settings.ALIEXPRESS_APP_KEY, "app_secret": settings.ALIEXPRESS_APP_SECRET}
    return {}


def base_url_of(source_account: SourceAccount) -> str:
    return source_account.base_url or str(getattr(settings, "SUPPLIER_API_URLS", {}).get(source_account.provider, ""))


def refresh_due(source_account: SourceAccount, now: datetime) -> bool:
    expires = source_account.token_expires_at
    return expires is not None and expires - settings.TOKEN_REFRESH_AHEAD <= now


def cj_wait_left(source_account: SourceAccount, now: datetime) -> float:
    """Seconds until CJ allows this account another token call (0: now)."""
    last = source_account.token_refreshed_at
    if source_account.provider != SupplierProvider.CJ or last is None:
        return 0.0
    return max(0.0, (last + settings.CJ_TOKEN_REFRESH_MIN_INTERVAL - now).total_seconds())


def grant_new(source_account: SourceAccount, *, recorder: SupplierAttemptLog) -> TokenGrant:
    """The supplier's new tokens for ``source_account`` (called outside any transaction)."""
    base_url = base_url_of(source_account)
    credentials = {**operator_credentials(source_account.provider), **source_account.credentials}
    if source_account.provider == SupplierProvider.ALIEXPRESS:
        return AliExpressProvider.refresh_grant(base_url=base_url, credentials=credentials, recorder=recorder)
    try:
        return CjProvider.refresh_grant(base_url=base_url, credentials=credentials, recorder=recorder)
    except GrantRefused:
        api_key = credentials.get("api_key", "")
        if not api_key:
            raise
        logger.info("CJ account %s: refresh token refused, asking a new token with the API key", source_account.pk)
        return CjProvider.token_get(base_url=base_url, api_key=api_key, recorder=recorder)


class SourceAccountTokens:
    """The ``integrations.oauth.TokenSource`` of one supplier account."""

    def __init__(
        self,
        source_account_id: int,
        *,
        now: Callable[[], datetime] = timezone.now,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float | None = None,
        reuse_for: float = 0.0,
    ) -> None:
        self.source_account_id = source_account_id
        self.now = now
        self.sleep = sleep
        self.max_wait = settings.OUTBOUND_MAX_INLINE_WAIT if max_wait is None else max_wait
        # A run of calls (a bulk placement's chunk) reads the token once per ``reuse_for`` seconds
        # instead of once a call; a refusal of it still reads it again (``refreshed``).
        self.reuse_for = reuse_for
        self.reused: tuple[str, float] | None = None

    def _load(self) -> SourceAccount:
        return SourceAccount.objects.get(pk=self.source_account_id)

    def current(self) -> str:
        if self.reused is not None and time.monotonic() - self.reused[1] < self.reuse_for:
            return self.reused[0]
        token = self._current()
        if self.reuse_for > 0:
            self.reused = (token, time.monotonic())
        return token

    def _current(self) -> str:
        source_account = self._load()
        token = _token_of(source_account)
        if source_account.status != SourceAccountStatus.CONNECTED or not token:
            raise CredentialsError(
                _("The supplier account is not connected any more: connect it again on the Suppliers page.")
            )
        if source_account.provider in EXPIRING and refresh_due(source_account, self.now()):
            try:
                return self._refresh(source_account, stale=token, proactive=True)
            except GrantRefused:
                raise
            except (ProviderError, CredentialsError) as error:
                # Ahead of expiry the token still works: beat and the next call try again.
                expires = source_account.token_expires_at
                if expires is not None and expires > self.now():
                    logger.warning("supplier account %s: refresh ahead of expiry failed: %s", source_account.pk, error)
                    return token
                raise
        return token

    def refreshed(self, stale: str) -> str:
        self.reused = None
        source_account = self._load()
        token = _token_of(source_account)
        if token and token != stale:
            return token  # another worker refreshed meanwhile
        if source_account.provider not in EXPIRING:
            raise CredentialsError(_("The supplier refused the account's key: connect it again on the Suppliers page."))
        return self._refresh(source_account, stale=stale, proactive=False)

    def _refresh(self, source_account: SourceAccount, *, stale: str, proactive: bool) -> str:
        now = self.now()
        wait = cj_wait_left(source_account, now)
        if wait > 0:
            if proactive and source_account.token_expires_at is not None and source_account.token_expires_at > now:
                return stale  # CJ would refuse a new token this soon; the one in hand still works
            raise ProviderError(
                _("CJdropshipping allows a new access token only every few minutes: trying again shortly."),
                retryable=True,
                retry_after=wait,
            )
        held_until = now + settings.TOKEN_REFRESH_CLAIM
        free = Q(token_refreshing_until__isnull=True) | Q(token_refreshing_until__lt=now)
        holder = SourceAccount.objects.filter(
            pk=source_account.pk,
            credentials_token=source_account.credentials_token,
            status=SourceAccountStatus.CONNECTED,
        )
        if not holder.filter(free).update(token_refreshing_until=held_until):
            return self._wait_for_other(stale=stale, proactive=proactive)
        recorder = SupplierAttemptLog(source_account_id=source_account.pk, provider=source_account.provider)
        try:
            grant = grant_new(source_account, recorder=recorder)
        except GrantRefused as refused:
            _needs_reconnect(source_account.pk, held_until=held_until, reason=str(refused))
            raise
        except BaseException:
            SourceAccount.objects.filter(pk=source_account.pk, token_refreshing_until=held_until).update(
                token_refreshing_until=None
            )
            raise
        if not _keep(source_account.pk, grant, held_until=held_until, now=self.now()):
            logger.warning("supplier account %s: a token refresh finished after its claim lapsed", source_account.pk)
            return _token_of(self._load())
        return grant.access_token

    def _wait_for_other(self, *, stale: str, proactive: bool) -> str:
        waited = 0.0
        while True:
            fresh = self._load()
            if fresh.status == SourceAccountStatus.RECONNECT:
                raise GrantRefused(fresh.last_error or _("The supplier refused the account's refresh token."))
            token = _token_of(fresh)
            if token and token != stale:
                return token
            if proactive and fresh.token_expires_at is not None and fresh.token_expires_at > self.now():
                return stale
            if waited >= self.max_wait:
                raise ProviderError(
                    _("The supplier account's access token is being renewed: try again in a few seconds."),
                    retryable=True,
                    retry_after=5,
                )
            self.sleep(WAIT_STEP)
            waited += WAIT_STEP


def _token_of(source_account: SourceAccount) -> str:
    credentials = source_account.credentials
    return str(credentials.get("access_token") or credentials.get("api_key") or "")


def _keep(source_account_id: int, grant: TokenGrant, *, held_until: datetime, now: datetime) -> bool:
    with transaction.atomic():
        row = (
            SourceAccount.objects.select_for_update()
            .filter(pk=source_account_id, token_refreshing_until=held_until)
            .first()
        )
        if row is None:
            return False
        row.credentials = {**row.credentials, **grant.credentials()}
        row.token_expires_at = grant.expires_at
        if grant.refresh_expires_at is not None or grant.refresh_token:
            row.refresh_expires_at = grant.refresh_expires_at
        row.token_refreshing_until = None
        row.token_refreshed_at = now
        row.last_error = ""
        fields = ["credentials_token", "token_expires_at", "refresh_expires_at", "token_refreshing_until"]
        row.save(update_fields=[*fields, "token_refreshed_at", "last_error"])
    return True


def _needs_reconnect(source_account_id: int, *, held_until: datetime, reason: str) -> None:
    """The supplier refused the refresh (and, for CJ, the API key) for good: RECONNECT, tokens dropped."""
    message = _("The supplier no longer accepts this account (%(reason)s): reconnect it.") % {"reason": reason}
    with transaction.atomic():
        row = (
            SourceAccount.objects.select_for_update()
            .filter(pk=source_account_id, token_refreshing_until=held_until)
            .first()
        )
        if row is None:
            return
        row.credentials = {k: v for k, v in row.credentials.items() if k not in TOKEN_KEYS}
        row.status = SourceAccountStatus.RECONNECT
        row.last_error = message[:500]
        row.token_refreshing_until = None
        row.token_expires_at = None
        row.save(
            update_fields=["credentials_token", "status", "last_error", "token_refreshing_until", "token_expires_at"]
        )
    logger.info("supplier account %s: refresh refused, needs reconnecting: %s", source_account_id, reason)


def source_account_token_refresh(*, source_account_id: int) -> bool:
    """Refresh one account's token if it is due (beat); False when it has none in use."""
    source_account = SourceAccount.objects.filter(
        pk=source_account_id, status=SourceAccountStatus.CONNECTED, provider__in=EXPIRING
    ).first()
    if source_account is None:
        return False
    SourceAccountTokens(source_account.pk).current()
    return True


def source_accounts_due_for_refresh(now: datetime | None = None) -> list[int]:
    """Connected AliExpress and CJ accounts whose token expires within twice ``TOKEN_REFRESH_AHEAD``."""
    now = now or timezone.now()
    soon = now + 2 * settings.TOKEN_REFRESH_AHEAD
    return list(
        SourceAccount.objects.filter(
            status=SourceAccountStatus.CONNECTED, provider__in=EXPIRING, token_expires_at__lte=soon
        )
        .exclude(token_refreshing_until__gt=now)
        .values_list("pk", flat=True)
    )
