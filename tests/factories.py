"""factory_boy factories. Orders go through ``orders.services.order_create``, so every order a
test makes has its counters, search text and first event exactly as production writes them.

Fact factories (supplier orders, parcels, refunds) only write the fact: a test then calls
``order_recompute_status`` as the owning service would, or uses ``order_in_state`` which
does both.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.enums import Role
from accounts.models import Account, Membership
from channels_sync.models import Store
from orders.enums import Channel, RefundReason, RefundState, SubStatus, SupplierOrderState, TrackingStatus
from orders.models import Order, Refund
from orders.services import AddressData, LineData, OrderData, order_create, order_recompute_status
from suppliers.enums import SupplierProvider
from suppliers.models import SupplierOrder
from tracking.models import Shipment, TrackingEvent


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Account {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("secret-pw")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)
    role = Role.STAFF


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    account = factory.SubFactory(AccountFactory)
    channel = Channel.SHOPIFY
    name = factory.Sequence(lambda n: f"Store {n}")
    domain = factory.Sequence(lambda n: f"store-{n}.myshopify.com")


def line(title: str = "Wireless Earbuds", *, sku: str = "EB-1", price: str = "10.00", quantity: int = 1) -> LineData:
    return LineData(title=title, sku=sku, unit_price=Decimal(price), quantity=quantity)


class OrderFactory(factory.django.DjangoModelFactory):
    """``OrderFactory(store=s, number="#1001", lines=(line(...),))``; status follows from the facts."""

    class Meta:
        model = Order

    store = factory.SubFactory(StoreFactory)
    account = factory.LazyAttribute(lambda order: order.store.account)
    channel_order_id = factory.Sequence(lambda n: str(5_800_000_000 + n))
    number = factory.Sequence(lambda n: f"#{2000 + n}")
    placed_at = factory.LazyFunction(timezone.now)
    total = Decimal("14.99")
    currency = "USD"
    customer_name = factory.Sequence(lambda n: f"Customer {n}")
    customer_email = factory.Sequence(lambda n: f"customer{n}@example.com")
    lines = factory.LazyFunction(lambda: (line(),))
    paid = True
    canceled = False
    extra_search_terms: tuple[str, ...] = ()
    ship = AddressData()

    @classmethod
    def _create(cls, model_class: type[Order], *args: Any, **kwargs: Any) -> Order:
        store: Store = kwargs.pop("store")
        account: Account = kwargs.pop("account")
        if store.account_id != account.pk:
            raise ValueError("OrderFactory: the store must belong to the account (pass store=, not account=)")
        return order_create(
            account=account,
            store_id=store.pk,
            channel=store.channel,
            data=OrderData(
                channel_order_id=kwargs["channel_order_id"],
                number=kwargs["number"],
                placed_at=kwargs["placed_at"],
                total=kwargs["total"],
                lines=tuple(kwargs["lines"]),
                currency=kwargs["currency"],
                customer_name=kwargs["customer_name"],
                customer_email=kwargs["customer_email"],
                paid=kwargs["paid"],
                canceled=kwargs["canceled"],
                extra_search_terms=tuple(kwargs["extra_search_terms"]),
                ship=kwargs["ship"],
            ),
        )


class SupplierOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupplierOrder

    order = factory.SubFactory(OrderFactory)
    account = factory.SelfAttribute("order.account")
    provider = SupplierProvider.ALIEXPRESS
    state = SupplierOrderState.PAID
    idempotency_key = factory.Sequence(lambda n: f"test-so-{n}")
    external_order_id = factory.Sequence(lambda n: str(8_100_000_000_000 + n))
    cost = Decimal("5.00")


class ShipmentFactory(factory.django.DjangoModelFactory):
    """``created_at`` may be given (it is ``auto_now_add``): it is written after the insert."""

    class Meta:
        model = Shipment

    order = factory.SubFactory(OrderFactory)
    account = factory.SelfAttribute("order.account")
    supplier_order = None
    tracking_number = factory.Sequence(lambda n: f"LP{n:011d}CN")
    carrier = "YunExpress"
    tracking_status = TrackingStatus.IN_TRANSIT
    last_event_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class: type[Shipment], *args: Any, **kwargs: Any) -> Shipment:
        created_at = kwargs.pop("created_at", None)
        shipment = super()._create(model_class, *args, **kwargs)
        if created_at is not None:
            Shipment.objects.filter(pk=shipment.pk).update(created_at=created_at)
            shipment.created_at = created_at
        return shipment


class TrackingEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrackingEvent

    shipment = factory.SubFactory(ShipmentFactory)
    occurred_at = factory.LazyFunction(timezone.now)
    description = factory.Sequence(lambda n: f"Departed sorting center {n}")
    description_hash = factory.Sequence(lambda n: f"hash-{n}")
    location = "Shenzhen, CN"
    status = TrackingStatus.IN_TRANSIT


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    order = factory.SubFactory(OrderFactory)
    account = factory.SelfAttribute("order.account")
    supplier_order = None
    state = RefundState.IN_REVIEW
    reason = RefundReason.OTHER
    note = "Customer canceled after payment"
    amount = Decimal("5.00")
    requested_at = factory.LazyFunction(timezone.now)
    review_due_at = factory.LazyAttribute(lambda refund: refund.requested_at + timedelta(days=1))


# --- Orders in a given state, the way production gets them there -----------------------

# (status, sub_status) of every tab and pill, as the URL spells them.
ALL_STATES: tuple[tuple[str, str], ...] = (
    ("new", ""),
    ("payment", SubStatus.PAYMENT_FAILED),
    ("payment", SubStatus.AWAITING_FULFILLMENT),
    ("shipment", SubStatus.AWAITING_SHIPMENT),
    ("shipment", SubStatus.IN_TRANSIT),
    ("shipment", SubStatus.PICKUP),
    ("shipment", SubStatus.DELIVERED),
    ("shipment", SubStatus.EXPIRED),
    ("shipment", SubStatus.FAILED),
    ("canceled", SubStatus.CHANNEL_CANCELED),
    ("canceled", SubStatus.SOURCE_CANCELED),
    ("refund", SubStatus.REFUND_IN_REVIEW),
    ("refund", SubStatus.REFUND_APPROVED),
    ("refund", SubStatus.REFUNDED),
    ("refund", SubStatus.REFUND_REJECTED),
)

_PARCEL_STATUS = {
    SubStatus.AWAITING_SHIPMENT: TrackingStatus.INFO_RECEIVED,
    SubStatus.IN_TRANSIT: TrackingStatus.IN_TRANSIT,
    SubStatus.PICKUP: TrackingStatus.AVAILABLE_FOR_PICKUP,
    SubStatus.DELIVERED: TrackingStatus.DELIVERED,
    SubStatus.EXPIRED: TrackingStatus.IN_TRANSIT,
    SubStatus.FAILED: TrackingStatus.DELIVERY_FAILURE,
}
_REFUND_STATE = {
    SubStatus.REFUND_IN_REVIEW: RefundState.IN_REVIEW,
    SubStatus.REFUND_APPROVED: RefundState.APPROVED,
    SubStatus.REFUNDED: RefundState.REFUNDED,
    SubStatus.REFUND_REJECTED: RefundState.REJECTED,
}


def order_in_state(sub_status: str, *, store: Store, **order_fields: Any) -> Order:
    """An order of ``store`` whose facts derive ``sub_status`` ("" for New), recomputed and stored."""
    sub = SubStatus(sub_status)
    canceled = sub == SubStatus.CHANNEL_CANCELED
    order = OrderFactory(store=store, canceled=canceled, **order_fields)
    if sub in (SubStatus.NONE, SubStatus.CHANNEL_CANCELED):
        return order
    state = {
        SubStatus.PAYMENT_FAILED: SupplierOrderState.PAYMENT_FAILED,
        SubStatus.SOURCE_CANCELED: SupplierOrderState.CANCELED,
    }.get(sub, SupplierOrderState.PAID)
    supplier_order = SupplierOrderFactory(order=order, state=state)
    if sub in _PARCEL_STATUS:
        silent_since = timezone.now() - timedelta(days=45 if sub == SubStatus.EXPIRED else 0, hours=1)
        ShipmentFactory(
            order=order,
            supplier_order=supplier_order,
            tracking_status=_PARCEL_STATUS[sub],
            last_event_at=silent_since,
            created_at=silent_since,
        )
    if sub in _REFUND_STATE:
        RefundFactory(order=order, supplier_order=supplier_order, state=_REFUND_STATE[sub])
    order = order_recompute_status(order_id=order.pk)
    assert (order.status, order.sub_status) == (_status_of(sub), sub), "order_in_state: facts did not derive it"
    return order


def _status_of(sub: SubStatus) -> str:
    return next(status for status, pill in ALL_STATES if pill == sub)
