"""Demo world for `make run`: sandbox shops, supplier and tracking accounts that move on their own.

Idempotent: accounts are created once (with a first batch of orders); later runs only make
sure the clock runs at the demo speed. The world tick (beat, every 10 s) then brings new
orders, payments, parcels and refunds.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sandbox.clock import clock_set
from sandbox.models import SimAccount
from sandbox.providers._state import options_update
from sandbox.registry import PROVIDERS

# (provider, name, first orders, options)
DEMO_ACCOUNTS: list[tuple[str, str, int, dict[str, Any]]] = [
    ("shopify", "demo-shopify", 12, {"orders_per_hour": 6}),
    ("woocommerce", "demo-woo", 8, {"orders_per_hour": 3}),
    ("tiktok", "demo-tiktok", 8, {"orders_per_hour": 4}),
    ("aliexpress", "demo-aliexpress", 0, {"balance": "500.00"}),
    ("cj", "demo-cj", 0, {"balance": "300.00"}),
    ("temu", "demo-temu", 0, {}),
    ("17track", "demo-17track", 0, {}),
]


def _merge(current: dict[str, Any], *, extra: dict[str, Any]) -> None:
    current.update(extra)


class Command(BaseCommand):
    help = "Create the sandbox's demo shops, suppliers and tracking account (idempotent) and set the demo clock speed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--speed", type=float, default=60.0, help="Sim seconds per real second (default 60).")

    def handle(self, *args: Any, **options: Any) -> None:
        created = []
        for provider, name, first_orders, account_options in DEMO_ACCOUNTS:
            spec = PROVIDERS[provider]
            account, is_new = SimAccount.objects.get_or_create(
                provider=provider, name=name, defaults={"credentials": spec.make_credentials(name)}
            )
            if not is_new:
                continue
            options_update(account, partial(_merge, extra=account_options))
            if first_orders and spec.create_orders is not None:
                extra = (
                    {"also_in_shopify": "demo-shopify", "also_in_shopify_ratio": 0.25} if provider == "tiktok" else {}
                )
                spec.create_orders(account, count=first_orders, seed=7, **extra)
            created.append(f"{provider}:{name}")
        clock_set(speed=options["speed"])
        self.stdout.write(json.dumps({"created": created, "clock_speed": options["speed"]}))
