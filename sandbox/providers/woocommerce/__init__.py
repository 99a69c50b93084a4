"""Simulated WooCommerce REST API v3 (plus the Shipment Tracking extension's v3 endpoints).

Base URL of a site named ``name``: ``http://<host>/sandbox/woocommerce/<name>`` (the site URL;
the API lives under ``/wp-json/wc/v3/``). Registers its ``ProviderSpec`` on import.
"""

from __future__ import annotations

from sandbox.providers.woocommerce.spec import SPEC

__all__ = ["SPEC"]
