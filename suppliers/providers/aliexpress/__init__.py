"""AliExpress Dropshipping: the IOP gateway client and the supplier provider (registered on import)."""

from suppliers.providers.aliexpress.provider import AliExpressProvider

__all__ = ["AliExpressProvider"]
