"""Demo world for `make run`: sandbox shops, supplier and tracking accounts that move on their own.

Idempotent: accounts are created once (with a first batch of orders); later runs only make
sure the clock runs at the demo speed. The demo account's stores (from ``seed_demo``) are
connected to the sandbox shops — base URL, credentials, webhook subscriptions — so the world
tick (beat, every 10 s) brings new orders that reach the order center by webhook and pull.
The demo Shopify store is connected as the dev profile's Shopify app (``sandbox.oauth_apps``):
an expiring offline token and its refresh token, refreshed by beat like any installed shop's.
The connection is written directly rather than through ``store_connect``: that checks the
credentials live, and the sandbox is not serving yet when this runs. The demo account's
supplier accounts (AliExpress as the dev profile's AliExpress app, CJ and Temu (simulated) by
API key) are connected the same way, through ``suppliers.services.accounts.source_account_connected``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from channels_sync.enums import AuthKind
from channels_sync.models import Store
from channels_sync.services.stores import webhook_url_for
from integrations.oauth import TokenGrant
from orders.models import Order
from sandbox import grants as shopify_grants
from sandbox.clock import clock_set, sim_now
from sandbox.models import SimAccount, SimApp, WebhookSubscription
from sandbox.oauth_apps import dev_apps_ensure
from sandbox.providers._state import options_update
from sandbox.providers.cj.views import _token_data as cj_token_data
from sandbox.providers.tiktok.sellers import grant_issue, seller_shops, tiktok_app_ensure, token_data
from sandbox.registry import PROVIDERS
from sandbox.sim.purchases import CATALOG
from suppliers.enums import SourceAccountStatus
from suppliers.models import AutoOrderRule, ExchangeRate, ProductLink, RuleDecision, SourceAccount
from suppliers.services.accounts import source_account_connected
from zopi.management.commands.seed_demo import ACCOUNT_NAME as DEMO_ACCOUNT_NAME
from zopi.management.commands.seed_demo import PRODUCTS as DEMO_PRODUCTS

DEMO_PACE = 240  # a 12-day journey in an hour; a shipment within 6 to 30 minutes of payment
DEMO_REFUND_RATE = 0.2
# (provider, name, first orders, options)
DEMO_ACCOUNTS: list[tuple[str, str, int, dict[str, Any]]] = [
    # A fifth of the fulfilled orders has its customer refunded a few minutes later (one unit of
    # the first line); the demo merchant then asks the supplier (sandbox/demo.py).
    ("shopify", "demo-shopify", 12, {"orders_per_hour": 40, "refund_rate": DEMO_REFUND_RATE}),
    ("woocommerce", "demo-woo", 8, {"orders_per_hour": 20, "refund_rate": DEMO_REFUND_RATE}),
    ("tiktok", "demo-tiktok", 8, {"orders_per_hour": 30, "refund_rate": DEMO_REFUND_RATE}),
    # The demo's suppliers ship and their parcels travel DEMO_PACE times quicker than real ones,
    # so make run shows parcels moving through every stage within the hour.
    ("aliexpress", "demo-aliexpress", 0, {"balance": "500.00", "demo_pace": DEMO_PACE}),
    ("cj", "demo-cj", 0, {"balance": "300.00", "demo_pace": DEMO_PACE}),
    ("temu", "demo-temu", 0, {"demo_pace": DEMO_PACE}),
    ("17track", "demo-17track", 0, {}),
]


def _merge(current: dict[str, Any], *, extra: dict[str, Any]) -> None:
    current.update(extra)


class Command(BaseCommand):
    help = "Create the sandbox's demo shops, suppliers and tracking account (idempotent) and set the demo clock speed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--speed", type=float, default=1.0, help="Sim seconds per real second (default 1: order dates stay real)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        created = []
        for provider, name, first_orders, account_options in DEMO_ACCOUNTS:
            spec = PROVIDERS[provider]
            credentials = spec.make_credentials(name)
            if provider == "17track" and settings.TRACK17_API_KEY:
                # The order center calls the demo tracking account with the dev profile's key.
                credentials = {"token": settings.TRACK17_API_KEY}
            account, is_new = SimAccount.objects.get_or_create(
                provider=provider, name=name, defaults={"credentials": credentials}
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
        dev_apps_ensure()  # the dev profile's operator apps, known to the install pages and token endpoints
        connected = _connect_demo_stores() + _connect_demo_suppliers()
        _demo_tracking_pushes()
        _demo_links_and_rules()
        self.stdout.write(json.dumps({"created": created, "connected": connected, "clock_speed": options["speed"]}))


def _demo_tracking_pushes() -> None:
    """The demo tracking account pushes its parcels' updates to the order center's webhook (a
    17TRACK dashboard setting there: no API)."""
    account = SimAccount.objects.filter(provider="17track", name="demo-17track").first()
    url = f"{settings.SITE_URL}{reverse('track17_webhook')}"
    if account is not None and account.options.get("webhook_url") != url:
        options_update(account, partial(_merge, extra={"webhook_url": url}))


# The demo account's stores and the sandbox shops they are connected to.
DEMO_STORES = [
    (
        "Demo Shopify",
        "shopify",
        "demo-shopify",
        ("orders/create", "orders/updated", "orders/paid", "orders/cancelled", "refunds/create"),
    ),
    ("Demo WooCommerce", "woocommerce", "demo-woo", ("order.created", "order.updated")),
    ("Demo TikTok Shop", "tiktok", "demo-tiktok", ()),
]


def _connect_demo_stores() -> list[str]:
    account = Account.objects.filter(name=DEMO_ACCOUNT_NAME).first()
    if account is None:
        return []
    connected = []
    for store_name, provider, shop_name, topics in DEMO_STORES:
        shop = SimAccount.objects.get(provider=provider, name=shop_name)
        base_url = f"{settings.SITE_URL}/sandbox/{provider}" + ("" if provider == "tiktok" else f"/{shop_name}")
        store, _ = Store.objects.get_or_create(
            account=account, name=store_name, defaults={"channel": provider, "domain": shop_name}
        )
        store.base_url = base_url
        if not (provider == "shopify" and _as_installed_app(store, shop)):
            credentials = dict(shop.credentials)
            store.webhook_secret = credentials.pop("webhook_secret", "")
            store.credentials = credentials
        if provider == "tiktok" and settings.TIKTOK_APP_KEY:
            _as_tiktok_app(store, shop)
        store.save()
        address = webhook_url_for(channel=provider, public_id=store.public_id)
        for topic in topics:
            WebhookSubscription.objects.get_or_create(account=shop, topic=topic, address=address)
        if provider == "tiktok":
            extra = {"webhook_url": address, "webhook_app_key": settings.TIKTOK_APP_KEY or None}
            options_update(shop, partial(_merge, extra=extra))
        connected.append(f"{store_name} → {base_url}")
    return connected


def _as_tiktok_app(store: Store, shop: SimAccount) -> None:
    """The demo TikTok store connected as the operator's app (the dev profile's, from settings), as
    if the seller had authorized it: a grant of the sandbox's app for the shop, no app key kept on
    the store; beat refreshes its token. (``sandbox.oauth_apps.dev_apps_ensure``, when it lands,
    makes the same app row: either may run first.)"""
    app = tiktok_app_ensure(
        app_key=settings.TIKTOK_APP_KEY,
        app_secret=settings.TIKTOK_APP_SECRET,
        service_id=settings.TIKTOK_SERVICE_ID,
        redirect_uri=f"{settings.SITE_URL}/stores/tiktok/callback/",
    )
    grant = grant_issue(app, seller_shops(shop)[0])
    data = token_data(grant)
    store.credentials = {
        "access_token": data["access_token"],
        "refresh_token": data["refresh_token"],
        "shop_cipher": shop.credentials["shop_cipher"],
    }
    store.auth_kind = AuthKind.APP
    store.token_expires_at = datetime.fromtimestamp(data["access_token_expire_in"], tz=UTC)
    store.refresh_expires_at = datetime.fromtimestamp(data["refresh_token_expire_in"], tz=UTC)


def _as_installed_app(store: Store, shop: SimAccount) -> bool:
    """The demo Shopify store connected as the dev profile's app: an expiring offline token and its
    refresh token, as an install gives (beat refreshes them from then on); one connected so at an
    earlier run keeps its tokens. False without the dev app (its settings empty): the shop's
    custom-app token is used instead."""
    app = SimApp.objects.filter(provider="shopify", client_id=settings.SHOPIFY_CLIENT_ID).first()
    if app is None or not settings.SHOPIFY_CLIENT_ID:
        return False
    store.domain = f"{shop.name}.myshopify.com"
    store.webhook_secret = ""  # an app's webhooks are signed with the app's secret (the settings')
    if store.auth_kind == AuthKind.APP and store.credentials.get("refresh_token"):
        return True
    grant = shopify_grants.grant_issue(app=app, account=shop, scope=settings.SHOPIFY_SCOPES)
    now, sim = timezone.now(), sim_now()
    store.auth_kind = AuthKind.APP
    store.credentials = {"access_token": grant.access_token, "refresh_token": grant.refresh_token or ""}
    store.token_expires_at = now + (grant.access_expires_at - sim) if grant.access_expires_at else None
    store.refresh_expires_at = now + (grant.refresh_expires_at - sim) if grant.refresh_expires_at else None
    return True


def _connect_demo_suppliers() -> list[str]:
    """The demo account's AliExpress, CJ and Temu (simulated) accounts, connected to the sandbox's
    demo suppliers; one connected at an earlier run keeps its tokens (beat refreshes them)."""
    account = Account.objects.filter(name=DEMO_ACCOUNT_NAME).first()
    if account is None:
        return []
    connected = []
    now = timezone.now()
    for provider in ("aliexpress", "cj", "temu"):
        sim = SimAccount.objects.get(provider=provider, name=f"demo-{provider}")
        if SourceAccount.objects.filter(
            account=account, provider=provider, status=SourceAccountStatus.CONNECTED
        ).exists():
            continue
        grant = None
        if provider == "aliexpress":
            if not settings.ALIEXPRESS_APP_KEY:
                continue
            credentials = {
                "access_token": sim.credentials["access_token"],
                "refresh_token": sim.credentials["refresh_token"],
            }
            external_id, name = str(sim.credentials["buyer_id"]), f"{sim.name}@example.com"
            expires = (now + timedelta(seconds=int(sim.options.get("token_lifetime", 86400))), now + timedelta(days=30))
        elif provider == "cj":
            data = cj_token_data(sim)
            credentials = {
                "api_key": sim.credentials["api_key"],
                "access_token": data["accessToken"],
                "refresh_token": data["refreshToken"],
            }
            external_id, name = str(data["openId"]), f"CJ account {data['openId']}"
            expires = (
                datetime.fromisoformat(data["accessTokenExpiryDate"]),
                datetime.fromisoformat(data["refreshTokenExpiryDate"]),
            )
        else:
            credentials = {"api_key": sim.credentials["api_key"]}
            external_id, name, expires = f"acct_{sim.pk}", sim.name, None
        if expires is not None:
            grant = TokenGrant(
                access_token=credentials["access_token"],
                refresh_token=credentials["refresh_token"],
                expires_at=expires[0],
                refresh_expires_at=expires[1],
            )
        source = source_account_connected(
            account=account, provider=provider, external_id=external_id, name=name, credentials=credentials, grant=grant
        )
        balance = sim.options.get("balance")
        if balance is not None and provider != "aliexpress":
            SourceAccount.objects.filter(pk=source.pk).update(
                balance=Decimal(str(balance)), balance_currency="USD", balance_checked_at=now
            )
        connected.append(f"{source.name} ({provider})")
    return connected


# The demo catalogue's suppliers, in turn: AliExpress (product id + sku_attr), CJ (the vid), Temu.
DEMO_SUPPLIERS = ("aliexpress", "cj", "temu")
# Rates the demo's margins use (support keeps real ones in admin).
DEMO_RATES = (("USD", "EUR", "0.92"), ("USD", "GBP", "0.79"), ("CNY", "USD", "0.14"))


def _demo_links_and_rules() -> None:
    """Every product the sandbox's customers buy is linked to a demo supplier (a few left unlinked
    so the demo shows "Link product"); the demo Shopify store places and pays by itself after a
    10-minute hold, so orders are seen moving from New to Payment without a click."""
    account = Account.objects.filter(name=DEMO_ACCOUNT_NAME).first()
    if account is None:
        return
    products = [(product_id, sku, title, price) for product_id, _v, sku, title, _t, price, _g in CATALOG]
    products += [
        (7_990_000_000 + n, sku, title, str(price)) for n, (title, sku, _v, price, _c) in enumerate(DEMO_PRODUCTS)
    ]
    for index, (product_id, sku, title, price) in enumerate(products):
        if index % 7 == 6:  # left for the merchant to link from the order row
            continue
        provider = DEMO_SUPPLIERS[index % len(DEMO_SUPPLIERS)]
        supplier_product, supplier_sku = {
            "aliexpress": (f"100500{product_id}", "14:193#Default"),
            "cj": (f"VID-{product_id}", ""),
            "temu": (f"60{product_id}", ""),
        }[provider]
        ProductLink.objects.get_or_create(
            account=account,
            sku=sku,
            channel_variant_id="",
            channel_product_id="",
            defaults={
                "title": title,
                "provider": provider,
                "supplier_product_id": supplier_product,
                "supplier_sku": supplier_sku,
                "unit_cost": (Decimal(price) * Decimal("0.35")).quantize(Decimal("0.01")),
            },
        )
    for from_currency, to_currency, rate in DEMO_RATES:
        ExchangeRate.objects.get_or_create(
            from_currency=from_currency,
            to_currency=to_currency,
            defaults={"rate": Decimal(rate), "source": "demo rates", "as_of": timezone.now()},
        )
    store = Store.objects.filter(account=account, name="Demo Shopify").first()
    if store is not None:
        rule, made = AutoOrderRule.objects.get_or_create(
            account=account, store=store, defaults={"enabled": True, "place": True, "pay": True, "hold_minutes": 10}
        )
        if made:
            # seed_demo's made-up orders are not in the sandbox shop: the rule leaves them alone
            # (a placed one would ship, and its push would fail: the shop has no such order).
            # The merchant can still place them by hand to try placement.
            RuleDecision.objects.bulk_create(
                [
                    RuleDecision(
                        rule=rule,
                        order_id=order_id,
                        reason="Demo data: not in the sandbox shop",
                        decided_at=rule.updated_at,
                    )
                    for order_id in Order.objects.filter(store=store).values_list("pk", flat=True)
                ],
                ignore_conflicts=True,
            )
