"""Simulated Shopify Admin REST API (2024-10): orders, fulfillments, webhooks, the leaky bucket.

Base URL of a shop named ``name``: ``http://<host>/sandbox/shopify/<name>`` (the shop URL;
the API lives under ``/admin/api/2024-10/``). Registers its ``ProviderSpec`` on import.
"""

from __future__ import annotations

from sandbox.providers.shopify.spec import SPEC

__all__ = ["SPEC"]
