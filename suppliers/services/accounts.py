"""Connecting supplier accounts (the ``/suppliers/`` page): AliExpress by its open platform's
authorization, CJdropshipping and Temu (simulated) by the merchant's API key.

Every connect ends in ``source_account_connected``: one *current* account per supplier and
tenant. The same supplier account again (same ``external_id``) is updated in place; a
different one while one is current is a **switch**: the old one becomes REPLACED
(``replaced_by``, ``replaced_at``) and its supplier orders say "placed with a previous account:
no longer synced" (``SupplierOrder.no_longer_synced``). Supplier calls are made before any
transaction; the rows are written after, under a lock of the tenant's accounts of that supplier.

AliExpress (docs/suppliers.md, "Supplier accounts"):
1. ``aliexpress_authorize_url``: a ``SupplierAuthorization`` (its ``state`` kept as a digest,
   bound to the browser session, ``CHANNEL_AUTHORIZATION_TTL``) and the page to send the owner to:
   ``ALIEXPRESS_AUTHORIZE_URL?response_type=code&force_auth=true&client_id=…&redirect_uri=…&state=…``.
2. ``aliexpress_callback``: the state is spent (wrong, reused, expired or another session's:
   refused, nothing stored); no ``code`` is a cancel; the code is exchanged with
   ``/auth/token/create`` for the access token (its expiry), the refresh token (its expiry) and
   the buyer's ``user_id`` (the account's ``external_id``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.enums import Role
from accounts.models import Account, Membership
from integrations.errors import CredentialsError, MalformedPayload, NotSupported, ProviderError
from integrations.http import sanitize
from integrations.oauth import GrantRefused, TokenGrant, new_state, state_digest
from suppliers.enums import PaymentMode, SourceAccountStatus, SupplierProvider
from suppliers.models import SourceAccount, SupplierAuthorization
from suppliers.providers.aliexpress.provider import AliExpressProvider
from suppliers.providers.cj.provider import CjProvider
from suppliers.providers.temu.provider import TemuProvider
from suppliers.services.attempts import SupplierAttemptLog
from suppliers.services.connection import provider_base_url, provider_for

logger = logging.getLogger(__name__)

CURRENT = (SourceAccountStatus.CONNECTED, SourceAccountStatus.RECONNECT)
MAX_CODE = 1000
MAX_STATE = 200
MAX_KEY = 200
BALANCE_PATH = "shopping/pay/getBalance"  # CJ's wallet (GET; data.amount in USD)


class ConnectError(Exception):
    """The account cannot be connected; the message says why and what to do, for the owner."""


class ConnectCanceled(ConnectError):
    """The owner declined on the supplier's page: nothing was asked of the supplier, nothing stored."""


def session_digest(session_key: str) -> str:
    return hashlib.sha256(f"zopi-supplier-auth:{session_key}".encode()).hexdigest()


def aliexpress_callback_url() -> str:
    return f"{settings.SITE_URL}{reverse('suppliers:aliexpress_callback')}"


# Connect ---------------------------------------------------------------------------------------


def source_account_connected(
    *,
    account: Account,
    provider: str,
    external_id: str,
    name: str,
    credentials: dict[str, str],
    grant: TokenGrant | None = None,
) -> SourceAccount:
    """Record a connected supplier account: update in place, switch, or a new row (see the module)."""
    now = timezone.now()
    external_id = external_id[:128]
    with transaction.atomic():
        # The tenant's row first: two connects at once (two tabs) take turns, the second switches.
        Account.objects.select_for_update().filter(pk=account.pk).first()
        rows = list(SourceAccount.objects.select_for_update().filter(account=account, provider=provider).order_by("pk"))
        current = next((row for row in rows if row.status in CURRENT), None)
        same = next((row for row in rows if external_id and row.external_id == external_id), None)
        if current is not None and current is not same:
            current.status = SourceAccountStatus.REPLACED
            current.replaced_at = now
            current.credentials = {}  # its tokens are not used again
            current.token_expires_at = None
            current.token_refreshing_until = None
            current.save(
                update_fields=[
                    "status",
                    "replaced_at",
                    "credentials_token",
                    "token_expires_at",
                    "token_refreshing_until",
                ]
            )
        target = same or SourceAccount(account=account, provider=provider, external_id=external_id)
        target.name = name[:200] or target.name or str(SupplierProvider(provider).label)
        target.credentials = credentials
        target.status = SourceAccountStatus.CONNECTED
        target.last_error = ""
        target.connected_at = now
        target.replaced_by = None
        target.replaced_at = None
        target.token_refreshing_until = None
        target.token_expires_at = grant.expires_at if grant else None
        target.refresh_expires_at = grant.refresh_expires_at if grant else None
        target.token_refreshed_at = now if grant else None
        target.save()
        if current is not None and current is not same:
            SourceAccount.objects.filter(pk=current.pk).update(replaced_by=target)
    if current is not None and current is not same:
        logger.info("account %s: %s account %s replaced by %s", account.pk, provider, current.pk, target.pk)
    return target


def aliexpress_authorize_url(*, account: Account, user_id: int, session_key: str) -> str:
    """Where to send the owner to authorize the operator's AliExpress app."""
    if not (settings.ALIEXPRESS_APP_KEY and settings.ALIEXPRESS_APP_SECRET and settings.ALIEXPRESS_AUTHORIZE_URL):
        raise ConnectError(_("AliExpress is not set up on this order center yet: ask its operator."))
    if not session_key:
        raise ConnectError(_("Your session has no key: sign in again, then connect."))
    state = new_state()
    SupplierAuthorization.objects.create(
        account=account,
        user_id=user_id,
        provider=SupplierProvider.ALIEXPRESS,
        state_digest=state_digest(state),
        session_digest=session_digest(session_key),
        expires_at=timezone.now() + settings.CHANNEL_AUTHORIZATION_TTL,
    )
    query = urlencode(
        {
            "response_type": "code",
            "force_auth": "true",
            "client_id": settings.ALIEXPRESS_APP_KEY,
            "redirect_uri": aliexpress_callback_url(),
            "state": state,
        }
    )
    return f"{settings.ALIEXPRESS_AUTHORIZE_URL}?{query}"


def authorization_claim(*, provider: str, state: str, session_key: str) -> SupplierAuthorization:
    """Spend ``state``: the pending authorization it belongs to, now marked used."""
    if not state or len(state) > MAX_STATE:
        raise ConnectError(_("The supplier sent you back without a valid approval: connect again."))
    now = timezone.now()
    with transaction.atomic():
        found = (
            SupplierAuthorization.objects.select_for_update(of=("self",))
            .select_related("account")
            .filter(state_digest=state_digest(state), provider=provider)
            .first()
        )
        if found is None:
            raise ConnectError(_("This approval is not one we asked for: connect again from the Suppliers page."))
        if found.session_digest != session_digest(session_key or ""):
            raise ConnectError(_("This approval was started in another browser session: connect again from here."))
        if found.used_at is not None:
            raise ConnectError(_("This approval was used already: connect again if the account is not connected."))
        if found.expires_at <= now:
            raise ConnectError(_("This approval took too long and expired: connect again."))
        found.used_at = now
        found.save(update_fields=["used_at"])
    return found


def _finish(authorization: SupplierAuthorization, outcome: str, error: str = "") -> None:
    authorization.outcome, authorization.error = outcome, sanitize(error, 500)
    authorization.save(update_fields=["outcome", "error"])


def aliexpress_callback(*, state: str, code: str, session_key: str, by_user_id: int | None = None) -> SourceAccount:
    """The owner is back from AliExpress's page. Raises ``ConnectError`` (``ConnectCanceled``).

    With ``by_user_id``: only the user who started the connect, still an owner of the account it
    connects (a role changed meanwhile, or another account switched to, does not carry it)."""
    authorization = authorization_claim(provider=SupplierProvider.ALIEXPRESS, state=state, session_key=session_key)
    if by_user_id is not None and (
        authorization.user_id != by_user_id
        or not Membership.objects.filter(
            user_id=by_user_id, account_id=authorization.account_id, role=Role.OWNER
        ).exists()
    ):
        _finish(authorization, "failed", "not an owner of the account any more")
        raise ConnectError(_("Only an owner of the account can connect its AliExpress account: nothing was connected."))
    if not code:
        _finish(authorization, "canceled", "declined on AliExpress")
        raise ConnectCanceled(_("AliExpress was not authorized: nothing was connected."))
    if len(code) > MAX_CODE:
        _finish(authorization, "failed", "code too long")
        raise ConnectError(_("AliExpress sent you back without a usable approval: connect again."))
    try:
        grant = AliExpressProvider.code_grant(
            base_url=provider_base_url(SupplierProvider.ALIEXPRESS),
            app_key=settings.ALIEXPRESS_APP_KEY,
            app_secret=settings.ALIEXPRESS_APP_SECRET,
            code=code,
            recorder=SupplierAttemptLog(source_account_id=None, provider=SupplierProvider.ALIEXPRESS),
        )
    except GrantRefused as error:
        _finish(authorization, "failed", str(error))
        raise ConnectError(
            _("AliExpress refused the approval (%(reason)s): connect again.") % {"reason": error}
        ) from error
    except (ProviderError, MalformedPayload) as error:
        _finish(authorization, "failed", str(error))
        raise ConnectError(
            _("AliExpress did not confirm the approval (%(reason)s): connect again in a few minutes.")
            % {"reason": error}
        ) from error
    user_id = str(grant.extra.get("user_id") or "")
    if not user_id:
        _finish(authorization, "failed", "no user_id")
        raise ConnectError(_("AliExpress did not say which account was authorized: connect again."))
    name = str(grant.extra.get("account") or "") or _("AliExpress buyer %(id)s") % {"id": user_id}
    source_account = source_account_connected(
        account=authorization.account,
        provider=SupplierProvider.ALIEXPRESS,
        external_id=user_id,
        name=name,
        credentials=grant.credentials(),
        grant=grant,
    )
    _finish(authorization, "connected")
    return source_account


def _checked_key(api_key: str, label: str) -> str:
    key = (api_key or "").strip()
    if not key:
        raise ConnectError(_("Enter the %(supplier)s API key.") % {"supplier": label})
    if len(key) > MAX_KEY or not key.isprintable() or any(c.isspace() for c in key):
        raise ConnectError(_("That is not a %(supplier)s API key: copy it again, whole.") % {"supplier": label})
    return key


def cj_connect(*, account: Account, api_key: str) -> SourceAccount:
    """Connect CJdropshipping with the merchant's API key, exchanged for an access token."""
    key = _checked_key(api_key, "CJdropshipping")
    recorder = SupplierAttemptLog(source_account_id=None, provider=SupplierProvider.CJ)
    try:
        grant = CjProvider.token_get(base_url=provider_base_url(SupplierProvider.CJ), api_key=key, recorder=recorder)
    except CredentialsError as error:  # GrantRefused included: CJ refused the key
        raise ConnectError(
            _("CJdropshipping refused this API key: check it in My CJ → Authorization → API, then try again.")
        ) from error
    except ProviderError as error:
        raise ConnectError(
            _("CJdropshipping could not be reached (%(reason)s): try again in a few minutes.") % {"reason": error}
        ) from error
    open_id = str(grant.extra.get("open_id") or "")
    source_account = source_account_connected(
        account=account,
        provider=SupplierProvider.CJ,
        external_id=open_id or hashlib.sha256(key.encode()).hexdigest()[:32],
        name=_("CJ account %(id)s") % {"id": open_id} if open_id else _("CJ account"),
        credentials={"api_key": key, **grant.credentials()},
        grant=grant,
    )
    source_account_balance_refresh(source_account_id=source_account.pk)
    return source_account


def temu_connect(*, account: Account, api_key: str) -> SourceAccount:
    """Connect the SIMULATED Temu with an API key of the sandbox's Temu."""
    key = _checked_key(api_key, "Temu (simulated)")
    provider = TemuProvider(
        base_url=provider_base_url(SupplierProvider.TEMU),
        credentials={"api_key": key},
        recorder=SupplierAttemptLog(source_account_id=None, provider=SupplierProvider.TEMU),
    )
    if not provider.base_url:
        raise ConnectError(_("Temu (simulated) is only available with the sandbox."))
    try:
        info = provider.account_info()
    except CredentialsError as error:
        raise ConnectError(_("Temu (simulated) refused this API key: check it, then try again.")) from error
    except ProviderError as error:
        raise ConnectError(
            _("Temu (simulated) could not be reached (%(reason)s): try again in a few minutes.") % {"reason": error}
        ) from error
    finally:
        provider.client.close()
    source_account = source_account_connected(
        account=account,
        provider=SupplierProvider.TEMU,
        external_id=info.external_id,
        name=info.name or _("Temu (simulated) account"),
        credentials={"api_key": key},
    )
    _balance_keep(source_account.pk, info.balance, info.currency)
    return source_account


def supplier_authorizations_prune(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Beat, daily: authorizations older than ``older_than`` go (they hold no secret; a used or
    expired one is only history). Returns how many went."""
    deleted, _ = SupplierAuthorization.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


# Manage ----------------------------------------------------------------------------------------


def source_account_get(*, account: Account, source_account_id: int) -> SourceAccount:
    """The tenant's supplier account (``SourceAccount.DoesNotExist`` for another tenant's id)."""
    return SourceAccount.objects.get(account=account, pk=source_account_id)


def source_account_disconnect(*, account: Account, source_account_id: int) -> SourceAccount:
    """Stop using the account: its secrets are dropped, its orders say they are no longer synced."""
    with transaction.atomic():
        row = SourceAccount.objects.select_for_update().get(account=account, pk=source_account_id)
        if row.status in CURRENT:
            row.status = SourceAccountStatus.DISCONNECTED
            row.credentials = {}
            row.token_expires_at = None
            row.refresh_expires_at = None
            row.token_refreshing_until = None
            row.save(
                update_fields=[
                    "status",
                    "credentials_token",
                    "token_expires_at",
                    "refresh_expires_at",
                    "token_refreshing_until",
                ]
            )
    return row


def source_account_payment_mode_set(*, account: Account, source_account_id: int, payment_mode: str) -> SourceAccount:
    if payment_mode not in PaymentMode.values:
        raise ConnectError(_("Choose how orders are paid."))
    updated = SourceAccount.objects.filter(account=account, pk=source_account_id).update(payment_mode=payment_mode)
    if not updated:
        raise SourceAccount.DoesNotExist
    return SourceAccount.objects.get(pk=source_account_id)


def _balance_keep(source_account_id: int, amount: Decimal | None, currency: str) -> None:
    SourceAccount.objects.filter(pk=source_account_id).update(
        balance=amount, balance_currency=currency[:3] if amount is not None else "", balance_checked_at=timezone.now()
    )


def source_account_balance_refresh(*, source_account_id: int) -> Decimal | None:
    """Ask the supplier for the account's balance (CJ: getBalance; Temu (simulated): its account);
    AliExpress gives none through its API. A failure leaves the last known balance (logged)."""
    row = SourceAccount.objects.filter(pk=source_account_id, status=SourceAccountStatus.CONNECTED).first()
    if row is None or row.provider == SupplierProvider.ALIEXPRESS:
        return None
    provider = provider_for(row)
    try:
        if isinstance(provider, TemuProvider):
            info = provider.account_info()
            amount, currency = info.balance, info.currency
        elif isinstance(provider, CjProvider):
            data, _said = provider.client.call("GET", BALANCE_PATH)
            amount, currency = _cj_amount(data), "USD"
        else:
            raise NotSupported(f"{row.provider} gives no balance")
    except ProviderError as error:
        logger.info("supplier account %s: balance not read: %s", row.pk, error)
        return row.balance
    _balance_keep(row.pk, amount, currency)
    return amount


def _cj_amount(data: object) -> Decimal | None:
    value = data.get("amount") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except ArithmeticError:
        return None
    return amount if amount.is_finite() and abs(amount) < Decimal("100000000") else None


@dataclass(frozen=True)
class SupplierCard:
    """One supplier on the suppliers page: its current account (None: not connected)."""

    provider: str
    label: str
    simulated: bool
    account: SourceAccount | None
    previous: list[SourceAccount]
    connect_kind: str  # "authorize" (AliExpress) or "api_key"
    gives_balance: bool


def supplier_cards(*, account: Account) -> list[SupplierCard]:
    """The suppliers page: one card per supplier, in the order of ``SupplierProvider``."""
    rows = list(SourceAccount.objects.filter(account=account).order_by("-connected_at", "-pk"))
    cards = []
    for provider in SupplierProvider:
        mine = [row for row in rows if row.provider == provider]
        current = next((row for row in mine if row.status in CURRENT), None)
        cards.append(
            SupplierCard(
                provider=provider.value,
                label=str(provider.label),
                simulated=provider == SupplierProvider.TEMU,
                account=current,
                previous=[row for row in mine if row is not current][:5],
                connect_kind="authorize" if provider == SupplierProvider.ALIEXPRESS else "api_key",
                gives_balance=provider != SupplierProvider.ALIEXPRESS,
            )
        )
    return cards
