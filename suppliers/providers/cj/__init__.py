"""CJdropshipping API 2.0 (see ``provider``)."""

from suppliers.providers.cj.provider import CjProvider

__all__ = ["CjProvider"]
