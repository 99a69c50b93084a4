"""Demo data: the account "Demo Store Co" (login demo / demo), two stores, orders in every tab.

Idempotent: a second run changes nothing. Orders reach their statuses through the same
services production uses (facts first, then ``order_recompute_status``).

The login demo / demo is a known password: under the production profile (``DEBUG`` off) the
command refuses unless ``--with-demo-login`` says that is wanted (a trial install, the tests).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.enums import Role
from accounts.models import Account, Membership
from channels_sync.models import Store
from orders.enums import Channel, RefundReason, RefundSend, RefundState, RefundVia, SupplierOrderState, TrackingStatus
from orders.models import Order, Refund
from orders.services import (
    AddressData,
    LineData,
    OrderData,
    order_add_search_terms,
    order_create,
    order_recompute_status,
    orders_archive,
)
from suppliers.enums import SupplierProvider
from suppliers.models import SupplierOrder
from tracking.enums import RegistrationState
from tracking.models import Shipment, TrackingEvent

ACCOUNT_NAME = "Demo Store Co"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 - the documented demo login
# A staff member of the demo account: what someone who works orders (but does not manage stores
# or members) sees.
DEMO_STAFF_USERNAME = "staff"
DEMO_STAFF_PASSWORD = "staff"  # noqa: S105 - the documented demo login
# Support's admin login (webhook deliveries, provider attempts, stores), in the dev profile only:
# never made under the production profile, not even with --with-demo-login.
DEMO_SUPPORT_USERNAME = "support"
DEMO_SUPPORT_PASSWORD = "support"  # noqa: S105 - the documented demo login

PRODUCTS = [
    ("Wireless Earbuds Pro", "EB-PRO-BLK", "Black", Decimal("29.90"), Decimal("11.20")),
    ("LED Strip 5m", "LED-5M-RGB", "RGB", Decimal("19.50"), Decimal("6.40")),
    ("Yoga Mat", "YM-183-PUR", "Purple / 6 mm", Decimal("34.00"), Decimal("12.75")),
    ("Phone Case", "PC-IP15-CLR", "iPhone 15 / Clear", Decimal("12.99"), Decimal("2.10")),
    ("Smart Watch S8", "SW-S8-SLV", "Silver", Decimal("59.00"), Decimal("24.60")),
    ("Pet Hair Remover", "PHR-01", "", Decimal("15.95"), Decimal("3.80")),
]
CUSTOMERS = [
    ("Olivia Martin", "olivia.martin@example.com"),
    ("Liam Johnson", "liam.j@example.com"),
    ("Sofia Rossi", "sofia.rossi@example.it"),
    ("Lucas Silva", "lucas.silva@example.com.br"),
    ("Emma Müller", "emma.mueller@example.de"),
    ("Noah Williams", "noah.w@example.com"),
    ("Chloé Dubois", "chloe.dubois@example.fr"),
    ("Wei Zhang", "wei.zhang@example.cn"),
]

# Where each customer's parcels go. Lucas Silva's lacks the CPF Brazil's customs ask for: his
# orders show what stops a placement, fixed with Edit address on the order.
ADDRESSES = {
    "Olivia Martin": AddressData(
        name="Olivia Martin", phone="+1 512 555 0143", address1="4821 Oak Avenue", city="Austin",
        province="Texas", province_code="TX", zip="78701", country_code="US",
    ),
    "Liam Johnson": AddressData(
        name="Liam Johnson", phone="+1 503 555 0178", address1="1514 Cedar Lane", address2="Apt 15",
        city="Portland", province="Oregon", province_code="OR", zip="97222", country_code="US",
    ),
    "Sofia Rossi": AddressData(
        name="Sofia Rossi", phone="+39 06 6982 1234", address1="Via del Corso 12", city="Roma",
        province="Roma", province_code="RM", zip="00186", country_code="IT",
    ),
    "Lucas Silva": AddressData(
        name="Lucas Silva", phone="+55 11 91234 5678", address1="Avenida Paulista 1578", address2="Bela Vista",
        city="São Paulo", province="São Paulo", province_code="SP", zip="01310-200", country_code="BR",
    ),
    "Emma Müller": AddressData(
        name="Emma Müller", phone="+49 30 9018 2210", address1="Unter den Linden 5", city="Berlin",
        zip="10117", country_code="DE",
    ),
    "Noah Williams": AddressData(
        name="Noah Williams", phone="+1 614 555 0112", address1="220 Maple Drive", city="Columbus",
        province="Ohio", province_code="OH", zip="43215", country_code="US",
    ),
    "Chloé Dubois": AddressData(
        name="Chloé Dubois", phone="+33 1 42 68 53 00", address1="5 Rue de Rivoli", city="Paris",
        zip="75001", country_code="FR",
    ),
    "Wei Zhang": AddressData(
        name="Wei Zhang", phone="+86 139 1234 5678", address1="88 Nanjing Road", city="Shanghai",
        province="Shanghai", zip="200001", country_code="CN",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    """How one demo order gets to its tab: the facts to create after the order."""

    key: str
    count: int


# Every tab and sub-status, a few orders each.
SCENARIOS = [
    Scenario("new", 6),
    Scenario("payment_failed", 3),
    Scenario("awaiting_fulfillment", 3),
    Scenario("awaiting_shipment", 3),
    Scenario("in_transit", 4),
    Scenario("pickup", 2),
    Scenario("delivered", 4),
    Scenario("expired", 2),
    Scenario("failed", 2),
    Scenario("channel_canceled", 2),
    Scenario("source_canceled", 2),
    Scenario("refund_in_review", 2),
    Scenario("refund_approved", 1),
    Scenario("refunded", 1),
    Scenario("refund_rejected", 1),
    Scenario("archived", 2),
]


class Command(BaseCommand):
    help = "Create the demo account, user, stores and orders in every tab (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--with-demo-login",
            action="store_true",
            help="Create the demo / demo login even under the production profile (DEBUG off).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["with_demo_login"]:
            raise CommandError(
                f"seed_demo creates the login {DEMO_USERNAME} / {DEMO_PASSWORD}, whose password everyone knows; "
                "the production profile (DEBUG off) refuses. Pass --with-demo-login to create it anyway "
                "(a trial install), or run with DEBUG=1."
            )
        with transaction.atomic():
            account, created = Account.objects.get_or_create(name=ACCOUNT_NAME)
            user = self._demo_user(DEMO_USERNAME, DEMO_PASSWORD)
            Membership.objects.get_or_create(user=user, account=account, defaults={"role": Role.OWNER})
            staff = self._demo_user(DEMO_STAFF_USERNAME, DEMO_STAFF_PASSWORD)
            Membership.objects.get_or_create(user=staff, account=account, defaults={"role": Role.STAFF})
            if settings.DEBUG:
                support = self._demo_user(DEMO_SUPPORT_USERNAME, DEMO_SUPPORT_PASSWORD)
                if not support.is_superuser:
                    support.is_staff = support.is_superuser = True
                    support.save(update_fields=["is_staff", "is_superuser"])
            if not created and Order.objects.filter(account=account).exists():
                self.stdout.write(f"Demo data already present ({account.orders.count()} orders).")
                return
            shopify, _ = Store.objects.get_or_create(
                account=account,
                name="Demo Shopify",
                defaults={"channel": Channel.SHOPIFY, "domain": "demo-store-co.myshopify.com"},
            )
            tiktok, _ = Store.objects.get_or_create(
                account=account,
                name="Demo TikTok Shop",
                defaults={"channel": Channel.TIKTOK, "domain": "7494012345678901234"},
            )
            self._orders(account=account, stores=[shopify, tiktok])
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {account.orders.count()} orders."))

    def _demo_user(self, username: str, password: str) -> Any:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        if created:
            user.set_password(password)
            user.save()
        return user

    def _orders(self, *, account: Account, stores: list[Store]) -> None:
        rng = random.Random(1001)
        now = timezone.now()
        number = 1001
        for scenario in SCENARIOS:
            for _ in range(scenario.count):
                store = stores[number % 2]
                placed_at = now - timedelta(hours=rng.randint(2, 24 * 20), minutes=rng.randint(0, 59))
                order = self._order(account=account, store=store, number=number, placed_at=placed_at, rng=rng)
                self._apply(scenario.key, order=order, now=now, rng=rng)
                number += 1

    def _order(self, *, account: Account, store: Store, number: int, placed_at: datetime, rng: random.Random) -> Order:
        name, email = CUSTOMERS[number % len(CUSTOMERS)]
        picks = rng.sample(PRODUCTS, k=rng.choice([1, 1, 2, 3]))
        lines = tuple(
            LineData(
                title=title,
                sku=sku,
                variant_title=variant,
                unit_price=price,
                quantity=rng.choice([1, 1, 2]),
                channel_line_id=f"{number}{index}",
            )
            for index, (title, sku, variant, price, _cost) in enumerate(picks)
        )
        display = f"#{number}" if store.channel == Channel.SHOPIFY else str(576460000000000000 + number)
        return order_create(
            account=account,
            store_id=store.pk,
            channel=store.channel,
            data=OrderData(
                channel_order_id=str(5_800_000_000 + number),
                number=display,
                placed_at=placed_at,
                total=sum((line.unit_price * line.quantity for line in lines), Decimal("0")) + Decimal("4.99"),
                lines=lines,
                customer_name=name,
                customer_email=email,
                ship=ADDRESSES[name],
            ),
        )

    def _apply(self, key: str, *, order: Order, now: datetime, rng: random.Random) -> None:
        if key == "new":
            return
        if key == "archived":
            orders_archive(account=order.account, order_ids=[order.pk])
            return
        if key == "channel_canceled":
            Order.objects.filter(pk=order.pk).update(channel_canceled=True)
            order_recompute_status(order_id=order.pk)
            return
        cost = sum((line.unit_price * line.quantity for line in order.lines.all()), Decimal("0")) * Decimal("0.4")
        state = {
            "payment_failed": SupplierOrderState.PAYMENT_FAILED,
            "source_canceled": SupplierOrderState.CANCELED,
        }.get(key, SupplierOrderState.PAID)
        supplier_order = SupplierOrder.objects.create(
            account=order.account,
            order=order,
            provider=rng.choice([SupplierProvider.ALIEXPRESS, SupplierProvider.CJ]),
            state=state,
            idempotency_key=f"demo-{order.pk}",
            external_order_id=str(8_100_000_000_000 + order.pk),
            cost=cost.quantize(Decimal("0.01")),
            failure_reason="Insufficient balance in your supplier wallet." if key == "payment_failed" else "",
            placed_at=order.placed_at + timedelta(minutes=20),
            paid_at=order.placed_at + timedelta(minutes=21) if state == SupplierOrderState.PAID else None,
            canceled_at=now - timedelta(days=1) if state == SupplierOrderState.CANCELED else None,
        )
        Order.objects.filter(pk=order.pk).update(supplier_cost=supplier_order.cost)
        tracking = {
            "awaiting_shipment": TrackingStatus.INFO_RECEIVED,
            "in_transit": TrackingStatus.IN_TRANSIT,
            "pickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
            "delivered": TrackingStatus.DELIVERED,
            "expired": TrackingStatus.IN_TRANSIT,
            "failed": TrackingStatus.DELIVERY_FAILURE,
        }.get(key)
        if tracking is not None:
            self._shipment(order=order, supplier_order=supplier_order, status=tracking, key=key, now=now)
        refund = {
            "refund_in_review": RefundState.IN_REVIEW,
            "refund_approved": RefundState.APPROVED,
            "refunded": RefundState.REFUNDED,
            "refund_rejected": RefundState.REJECTED,
        }.get(key)
        if refund is not None:
            requested = now - timedelta(hours=6)
            Refund.objects.create(
                account_id=order.account_id,
                order=order,
                supplier_order=supplier_order,
                state=refund,
                reason=RefundReason.NOT_RECEIVED,
                note="Customer canceled after payment",
                via=RefundVia.MERCHANT,
                send_state=RefundSend.NOT_NEEDED,
                amount=supplier_order.cost,
                requested_at=requested,
                review_due_at=requested + timedelta(days=1),
                refund_due_at=requested + timedelta(days=2) if refund != RefundState.IN_REVIEW else None,
            )
        order_recompute_status(order_id=order.pk)

    def _shipment(
        self, *, order: Order, supplier_order: SupplierOrder, status: TrackingStatus, key: str, now: datetime
    ) -> None:
        tracking_number = f"LP00{order.pk:09d}CN"
        silent_since = now - timedelta(days=45) if key == "expired" else now - timedelta(hours=5)
        shipment = Shipment.objects.create(
            account=order.account,
            order=order,
            supplier_order=supplier_order,
            tracking_number=tracking_number,
            carrier="YunExpress" if order.pk % 2 else "Cainiao",
            tracking_status=status,
            last_event_at=silent_since if status != TrackingStatus.INFO_RECEIVED else None,
            # A made-up history, not followed with the tracking provider (the sandbox's own parcels
            # of make run are: placed, shipped, registered and polled like a merchant's).
            registration_state=RegistrationState.STOPPED,
            next_poll_at=None,
        )
        if key == "expired":
            Shipment.objects.filter(pk=shipment.pk).update(created_at=silent_since)
        if status != TrackingStatus.INFO_RECEIVED:
            TrackingEvent.objects.create(
                shipment=shipment,
                occurred_at=silent_since,
                description=str(status.label),
                description_hash=f"demo-{shipment.pk}",
                location="Shenzhen, CN" if status == TrackingStatus.IN_TRANSIT else "Los Angeles, US",
                status=status,
            )
        order_add_search_terms(order=order, terms=[tracking_number])
