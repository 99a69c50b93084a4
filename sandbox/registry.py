"""Which simulated providers exist and how each makes a new account's credentials and base URL.

Each provider package under ``sandbox/providers/`` registers one ``ProviderSpec`` here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class ProviderSpec:
    provider: str
    # Credentials with the provider's own names (e.g. Shopify access_token, webhook_secret).
    make_credentials: Callable[[str], dict[str, str]]
    # The base URL a real client is given for an account named ``name``.
    base_url: Callable[[HttpRequest, str], str]
    # Create N new paid customer orders (channels only); None for suppliers and trackers.
    create_orders: Callable[..., list[str]] | None = None
    # Move this provider's customers along (channels only), called by sim/channels.py with
    # keyword arguments now= (sim time) and rng=; returns counts of what happened.
    tick: Callable[..., dict[str, int]] | None = None
    # The shop refunds its customer (channels only): ``(order, {"lines": [{"line_id", "quantity"}],
    # "note"})``, the control API's refund; ValueError when it cannot. sim/channels.py calls it for
    # a shop's ``refund_rate`` share of fulfilled orders.
    customer_refund: Callable[..., object] | None = None


PROVIDERS: dict[str, ProviderSpec] = {}


def register(spec: ProviderSpec) -> ProviderSpec:
    PROVIDERS[spec.provider] = spec
    return spec
