"""The provider object for a supplier account: its client, credentials, token source and recorder."""

from __future__ import annotations

from django.conf import settings

from suppliers.models import SourceAccount
from suppliers.providers.base import REGISTRY, SupplierProvider


def provider_base_url(provider: str) -> str:
    """The operator's API address for a supplier (settings; the sandbox in development)."""
    return str(getattr(settings, "SUPPLIER_API_URLS", {}).get(provider, ""))


def provider_for(source_account: SourceAccount, *, timeout: float | None = None) -> SupplierProvider:
    """A provider ready to call for ``source_account`` (its own base URL, else the operator's)."""
    cls = REGISTRY[source_account.provider]
    options: dict[str, object] = {}
    timeout = timeout if timeout is not None else getattr(settings, "SUPPLIER_CALL_TIMEOUT", None)
    if timeout is not None:
        options["timeout"] = float(timeout)
    return cls(
        base_url=source_account.base_url or provider_base_url(source_account.provider),
        credentials=source_account.credentials,
        **options,  # type: ignore[arg-type]
    )
