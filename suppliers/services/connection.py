"""The provider object for a supplier account: its client, credentials, token source and recorder."""

from __future__ import annotations

from django.conf import settings

from suppliers.models import SourceAccount
from suppliers.providers.base import REGISTRY, SupplierProvider
from suppliers.ratelimit import supplier_pacer_for
from suppliers.services.attempts import SupplierAttemptLog
from suppliers.services.tokens import EXPIRING, SourceAccountTokens, operator_credentials


def provider_base_url(provider: str) -> str:
    """The operator's API address for a supplier (settings; the sandbox in development)."""
    return str(getattr(settings, "SUPPLIER_API_URLS", {}).get(provider, ""))


def provider_for(
    source_account: SourceAccount,
    *,
    timeout: float | None = None,
    paced: bool = True,
    recorder: SupplierAttemptLog | None = None,
    token_reuse: float = 0.0,
    pace_ahead: float = 0.0,
) -> SupplierProvider:
    """A provider ready to call for ``source_account`` (its own base URL, else the operator's):
    its attempts recorded (``SupplierAttempt``, the account's last call and error) and, for the
    suppliers whose tokens expire (AliExpress, CJ), its token from ``SourceAccountTokens``.

    ``paced``: its calls keep to the supplier's call rate limit (``suppliers.ratelimit``), shared
    with every other process calling the same supplier account. ``recorder``: a buffered
    ``SupplierAttemptLog`` the caller flushes; ``token_reuse``: seconds a token read is reused for
    (``SourceAccountTokens``); ``pace_ahead``: seconds of call slots reserved at once
    (``SupplierPacer``), for a run of calls on one provider."""
    cls = REGISTRY[source_account.provider]
    credentials = {**operator_credentials(source_account.provider), **source_account.credentials}
    options: dict[str, object] = {
        "recorder": recorder
        or SupplierAttemptLog(source_account_id=source_account.pk, provider=source_account.provider),
    }
    if source_account.provider in EXPIRING and source_account.pk is not None:
        options["token_source"] = SourceAccountTokens(source_account.pk, reuse_for=token_reuse)
    pacer = supplier_pacer_for(source_account, credentials=credentials, ahead=pace_ahead) if paced else None
    if pacer is not None:
        options["pacer"] = pacer
    timeout = timeout if timeout is not None else getattr(settings, "SUPPLIER_CALL_TIMEOUT", None)
    if timeout is not None:
        options["timeout"] = float(timeout)
    return cls(
        base_url=source_account.base_url or provider_base_url(source_account.provider),
        credentials=credentials,
        **options,  # type: ignore[arg-type]
    )
