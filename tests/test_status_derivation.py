"""``orders.derivation.derive_status``: every row of the status table, the documented precedence,
and properties over generated facts (pure function: no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.derivation import STAGE_RANK, OrderFacts, ShipmentFact, SupplierOrderFact, derive_status
from orders.enums import SUB_STATUSES_BY_STATUS, OrderStatus, RefundState, SubStatus, SupplierOrderState, TrackingStatus

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EXPIRE = timedelta(days=30)
RECENT = NOW - timedelta(hours=3)

PAID, PLACED, PLACING = SupplierOrderState.PAID, SupplierOrderState.PLACED, SupplierOrderState.PLACING
CANCELED = SupplierOrderState.CANCELED


def so(id_: int, state: SupplierOrderState) -> SupplierOrderFact:
    return SupplierOrderFact(id=id_, state=state)


def parcel(
    status: TrackingStatus, *, of: int | None = 1, silent_for: timedelta | None = None, last_event: bool = True
) -> ShipmentFact:
    at = NOW - silent_for if silent_for is not None else RECENT
    return ShipmentFact(
        tracking_status=status, created_at=at, last_event_at=at if last_event else None, supplier_order_id=of
    )


def facts(**kwargs: object) -> OrderFacts:
    kwargs.setdefault("channel_paid", True)
    return OrderFacts(**kwargs)  # type: ignore[arg-type]


def derive(order_facts: OrderFacts) -> tuple[OrderStatus, SubStatus]:
    return derive_status(order_facts, now=NOW, expire_after=EXPIRE)


S = SubStatus
EXAMPLES: list[tuple[str, OrderFacts, tuple[OrderStatus, SubStatus]]] = [
    # New: paid in the channel, nothing placed (or the create call still in flight).
    ("new: nothing placed", facts(), (OrderStatus.NEW, S.NONE)),
    ("new: create call in flight", facts(supplier_orders=(so(1, PLACING),)), (OrderStatus.NEW, S.NONE)),
    # Unpaid: in no tab.
    ("unpaid", facts(channel_paid=False), (OrderStatus.UNPAID, S.NONE)),
    # Payment.
    (
        "payment failed: placed, not tried",
        facts(supplier_orders=(so(1, PLACED),)),
        (OrderStatus.PAYMENT, S.PAYMENT_FAILED),
    ),
    (
        "payment failed: paying",
        facts(supplier_orders=(so(1, SupplierOrderState.PAYING),)),
        (OrderStatus.PAYMENT, S.PAYMENT_FAILED),
    ),
    (
        "payment failed: refused",
        facts(supplier_orders=(so(1, SupplierOrderState.PAYMENT_FAILED),)),
        (OrderStatus.PAYMENT, S.PAYMENT_FAILED),
    ),
    ("paid, no parcel", facts(supplier_orders=(so(1, PAID),)), (OrderStatus.PAYMENT, S.AWAITING_FULFILLMENT)),
    # Shipment, one row per tracking status.
    (
        "awaiting shipment: not found",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.NOT_FOUND, last_event=False),)),
        (OrderStatus.SHIPMENT, S.AWAITING_SHIPMENT),
    ),
    (
        "awaiting shipment: info received",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.INFO_RECEIVED),)),
        (OrderStatus.SHIPMENT, S.AWAITING_SHIPMENT),
    ),
    (
        "in transit",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.IN_TRANSIT),)),
        (OrderStatus.SHIPMENT, S.IN_TRANSIT),
    ),
    (
        "in transit: out for delivery",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.OUT_FOR_DELIVERY),)),
        (OrderStatus.SHIPMENT, S.IN_TRANSIT),
    ),
    (
        "pickup",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.AVAILABLE_FOR_PICKUP),)),
        (OrderStatus.SHIPMENT, S.PICKUP),
    ),
    (
        "delivered",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.DELIVERED),)),
        (OrderStatus.SHIPMENT, S.DELIVERED),
    ),
    (
        "expired: the tracker gave up",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.EXPIRED),)),
        (OrderStatus.SHIPMENT, S.EXPIRED),
    ),
    (
        "expired: in transit, silent 31 days",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.IN_TRANSIT, silent_for=timedelta(days=31)),),
        ),
        (OrderStatus.SHIPMENT, S.EXPIRED),
    ),
    (
        "expired: never scanned, created 31 days ago",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.NOT_FOUND, silent_for=timedelta(days=31), last_event=False),),
        ),
        (OrderStatus.SHIPMENT, S.EXPIRED),
    ),
    (
        "failed: delivery failure",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.DELIVERY_FAILURE),)),
        (OrderStatus.SHIPMENT, S.FAILED),
    ),
    (
        "failed: exception",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.EXCEPTION),)),
        (OrderStatus.SHIPMENT, S.FAILED),
    ),
    (
        "in transit: a provider status we do not know",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.UNKNOWN),)),
        (OrderStatus.SHIPMENT, S.IN_TRANSIT),
    ),
    (
        "expired: a provider status we do not know, silent too long",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.UNKNOWN, silent_for=timedelta(days=31)),),
        ),
        (OrderStatus.SHIPMENT, S.EXPIRED),
    ),
    # Canceled.
    ("channel canceled", facts(channel_canceled=True), (OrderStatus.CANCELED, S.CHANNEL_CANCELED)),
    (
        "source canceled: every supplier order canceled",
        facts(supplier_orders=(so(1, CANCELED), so(2, CANCELED))),
        (OrderStatus.CANCELED, S.SOURCE_CANCELED),
    ),
    # Refund, one row per state.
    ("refund in review", facts(refunds=(RefundState.IN_REVIEW,)), (OrderStatus.REFUND, S.REFUND_IN_REVIEW)),
    ("refund approved", facts(refunds=(RefundState.APPROVED,)), (OrderStatus.REFUND, S.REFUND_APPROVED)),
    ("refunded", facts(refunds=(RefundState.REFUNDED,)), (OrderStatus.REFUND, S.REFUNDED)),
    ("refund rejected", facts(refunds=(RefundState.REJECTED,)), (OrderStatus.REFUND, S.REFUND_REJECTED)),
    # Precedence between the rules.
    (
        "refund beats channel cancel",
        facts(channel_canceled=True, refunds=(RefundState.APPROVED,)),
        (OrderStatus.REFUND, S.REFUND_APPROVED),
    ),
    (
        "refund beats unpaid",
        facts(channel_paid=False, refunds=(RefundState.REFUNDED,)),
        (OrderStatus.REFUND, S.REFUNDED),
    ),
    (
        "channel cancel beats unpaid",
        facts(channel_paid=False, channel_canceled=True),
        (OrderStatus.CANCELED, S.CHANNEL_CANCELED),
    ),
    (
        "channel cancel beats a delivered parcel",
        facts(channel_canceled=True, supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.DELIVERED),)),
        (OrderStatus.CANCELED, S.CHANNEL_CANCELED),
    ),
    (
        "unpaid beats source canceled",
        facts(channel_paid=False, supplier_orders=(so(1, CANCELED),)),
        (OrderStatus.UNPAID, S.NONE),
    ),
    # Several refunds: the least settled shows, In Review > Approved > Rejected > Refunded.
    (
        "refunds: in review over approved",
        facts(refunds=(RefundState.REFUNDED, RefundState.APPROVED, RefundState.IN_REVIEW)),
        (OrderStatus.REFUND, S.REFUND_IN_REVIEW),
    ),
    (
        "refunds: approved over rejected",
        facts(refunds=(RefundState.REJECTED, RefundState.APPROVED)),
        (OrderStatus.REFUND, S.REFUND_APPROVED),
    ),
    (
        "refunds: rejected over refunded",
        facts(refunds=(RefundState.REFUNDED, RefundState.REJECTED)),
        (OrderStatus.REFUND, S.REFUND_REJECTED),
    ),
    # Several parts: the lowest stage shows.
    (
        "a canceled supplier order is ignored while another goes on",
        facts(supplier_orders=(so(1, CANCELED), so(2, PAID))),
        (OrderStatus.PAYMENT, S.AWAITING_FULFILLMENT),
    ),
    (
        "the parcel of a canceled supplier order is ignored",
        facts(
            supplier_orders=(so(1, CANCELED), so(2, PAID)),
            shipments=(parcel(TrackingStatus.DELIVERY_FAILURE, of=1), parcel(TrackingStatus.DELIVERED, of=2)),
        ),
        (OrderStatus.SHIPMENT, S.DELIVERED),
    ),
    (
        "one parcel delivered, one in transit: in transit",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.DELIVERED), parcel(TrackingStatus.IN_TRANSIT)),
        ),
        (OrderStatus.SHIPMENT, S.IN_TRANSIT),
    ),
    (
        "one parcel delivered, one failed: failed",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.DELIVERED), parcel(TrackingStatus.EXCEPTION)),
        ),
        (OrderStatus.SHIPMENT, S.FAILED),
    ),
    (
        "failed ranks below expired",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.EXPIRED), parcel(TrackingStatus.DELIVERY_FAILURE)),
        ),
        (OrderStatus.SHIPMENT, S.FAILED),
    ),
    (
        "expired ranks below awaiting shipment",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.INFO_RECEIVED), parcel(TrackingStatus.EXPIRED)),
        ),
        (OrderStatus.SHIPMENT, S.EXPIRED),
    ),
    (
        "pickup ranks below delivered",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.DELIVERED), parcel(TrackingStatus.AVAILABLE_FOR_PICKUP)),
        ),
        (OrderStatus.SHIPMENT, S.PICKUP),
    ),
    (
        "a delivered supplier order and an unpaid one: payment failed",
        facts(supplier_orders=(so(1, PAID), so(2, PLACED)), shipments=(parcel(TrackingStatus.DELIVERED, of=1),)),
        (OrderStatus.PAYMENT, S.PAYMENT_FAILED),
    ),
    (
        "a shipped supplier order and a paid one without parcel: awaiting fulfillment",
        facts(supplier_orders=(so(1, PAID), so(2, PAID)), shipments=(parcel(TrackingStatus.IN_TRANSIT, of=1),)),
        (OrderStatus.PAYMENT, S.AWAITING_FULFILLMENT),
    ),
    (
        "one supplier order still being created: new",
        facts(supplier_orders=(so(1, PAID), so(2, PLACING)), shipments=(parcel(TrackingStatus.DELIVERED, of=1),)),
        (OrderStatus.NEW, S.NONE),
    ),
    (
        "a parcel on an unpaid supplier order does not count",
        facts(supplier_orders=(so(1, PLACED),), shipments=(parcel(TrackingStatus.DELIVERED),)),
        (OrderStatus.PAYMENT, S.PAYMENT_FAILED),
    ),
    (
        "a parcel added by hand counts on its own",
        facts(shipments=(parcel(TrackingStatus.IN_TRANSIT, of=None),)),
        (OrderStatus.SHIPMENT, S.IN_TRANSIT),
    ),
    (
        "a parcel added by hand is one more part",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.DELIVERED, of=1), parcel(TrackingStatus.AVAILABLE_FOR_PICKUP, of=None)),
        ),
        (OrderStatus.SHIPMENT, S.PICKUP),
    ),
    (
        "supplier orders all canceled but a parcel by hand: the parcel shows",
        facts(supplier_orders=(so(1, CANCELED),), shipments=(parcel(TrackingStatus.DELIVERED, of=None),)),
        (OrderStatus.SHIPMENT, S.DELIVERED),
    ),
    # Expiry boundaries: strictly longer than expire_after, and only for non-final parcels.
    (
        "silent exactly expire_after: not expired",
        facts(supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.IN_TRANSIT, silent_for=EXPIRE),)),
        (OrderStatus.SHIPMENT, S.IN_TRANSIT),
    ),
    (
        "pickup silent too long: expired",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.AVAILABLE_FOR_PICKUP, silent_for=timedelta(days=40)),),
        ),
        (OrderStatus.SHIPMENT, S.EXPIRED),
    ),
    (
        "delivered long ago stays delivered",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.DELIVERED, silent_for=timedelta(days=400)),),
        ),
        (OrderStatus.SHIPMENT, S.DELIVERED),
    ),
    (
        "failed long ago stays failed",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(parcel(TrackingStatus.DELIVERY_FAILURE, silent_for=timedelta(days=400)),),
        ),
        (OrderStatus.SHIPMENT, S.FAILED),
    ),
    (
        "a recent event saves an old parcel",
        facts(
            supplier_orders=(so(1, PAID),),
            shipments=(
                ShipmentFact(
                    tracking_status=TrackingStatus.IN_TRANSIT,
                    created_at=NOW - timedelta(days=90),
                    last_event_at=NOW - timedelta(days=2),
                    supplier_order_id=1,
                ),
            ),
        ),
        (OrderStatus.SHIPMENT, S.IN_TRANSIT),
    ),
]


@pytest.mark.parametrize(("order_facts", "expected"), [(f, e) for _, f, e in EXAMPLES], ids=[n for n, _, _ in EXAMPLES])
def test_derive_status_examples(order_facts: OrderFacts, expected: tuple[OrderStatus, SubStatus]) -> None:
    # given the facts / when derived / then
    assert derive(order_facts) == expected


def test_examples_cover_every_tab_and_sub_status() -> None:
    # given every (status, sub-status) the order center can show, plus Unpaid
    wanted = {(OrderStatus.NEW, S.NONE), (OrderStatus.UNPAID, S.NONE)} | {
        (status, sub) for status, subs in SUB_STATUSES_BY_STATUS.items() for sub in subs
    }
    # when / then: the table above shows each of them at least once
    assert {expected for _, _, expected in EXAMPLES} == wanted


def test_expire_after_is_the_accounts_setting() -> None:
    # given a parcel silent for 10 days
    order_facts = facts(
        supplier_orders=(so(1, PAID),), shipments=(parcel(TrackingStatus.IN_TRANSIT, silent_for=timedelta(days=10)),)
    )
    # when derived under a 7-day and a 30-day account setting / then
    assert derive_status(order_facts, now=NOW, expire_after=timedelta(days=7)) == (OrderStatus.SHIPMENT, S.EXPIRED)
    assert derive_status(order_facts, now=NOW, expire_after=timedelta(days=30)) == (OrderStatus.SHIPMENT, S.IN_TRANSIT)


# --- Properties ---------------------------------------------------------------------------

NON_FINAL = (
    TrackingStatus.NOT_FOUND,
    TrackingStatus.INFO_RECEIVED,
    TrackingStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY,
    TrackingStatus.AVAILABLE_FOR_PICKUP,
    TrackingStatus.UNKNOWN,
)
FINAL = (TrackingStatus.DELIVERED, TrackingStatus.DELIVERY_FAILURE, TrackingStatus.EXCEPTION)

silences = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=90))


@st.composite
def shipment_facts(draw: st.DrawFn, supplier_order_ids: list[int]) -> ShipmentFact:
    created_silence = draw(silences)
    created_at = NOW - created_silence
    last_event_at = draw(
        st.none() | st.timedeltas(min_value=timedelta(0), max_value=created_silence).map(lambda d: NOW - d)
    )
    # A parcel of one of the supplier orders, one added by hand, or one of an unknown supplier order.
    owner = draw(st.sampled_from([*supplier_order_ids, None, 999]))
    return ShipmentFact(
        tracking_status=draw(st.sampled_from(TrackingStatus)),
        created_at=created_at,
        last_event_at=last_event_at,
        supplier_order_id=owner,
    )


@st.composite
def order_facts(draw: st.DrawFn, *, refunds: bool = True) -> OrderFacts:
    ids = draw(st.lists(st.integers(min_value=1, max_value=50), unique=True, max_size=4))
    supplier_orders = tuple(so(id_, draw(st.sampled_from(SupplierOrderState))) for id_ in ids)
    shipments = tuple(draw(st.lists(shipment_facts(ids), max_size=5)))
    return OrderFacts(
        channel_paid=draw(st.booleans()),
        channel_canceled=draw(st.booleans()),
        supplier_orders=supplier_orders,
        shipments=shipments,
        refunds=tuple(draw(st.lists(st.sampled_from(RefundState), max_size=3))) if refunds else (),
    )


expire_afters = st.integers(min_value=1, max_value=60).map(lambda days: timedelta(days=days))
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


@PROPERTY_SETTINGS
@given(order_facts(), expire_afters)
def test_derive_status_is_total(order_facts: OrderFacts, expire_after: timedelta) -> None:
    # when any facts are derived
    status, sub_status = derive_status(order_facts, now=NOW, expire_after=expire_after)
    # then the pair is one the order center knows
    assert isinstance(status, OrderStatus)
    assert isinstance(sub_status, SubStatus)
    if status in (OrderStatus.NEW, OrderStatus.UNPAID):
        assert sub_status == S.NONE
    else:
        assert sub_status in SUB_STATUSES_BY_STATUS[status]


@PROPERTY_SETTINGS
@given(order_facts(), st.randoms(use_true_random=False))
def test_the_order_of_facts_does_not_matter(order_facts: OrderFacts, random: object) -> None:
    # given the same facts in another order
    shuffled = OrderFacts(
        channel_paid=order_facts.channel_paid,
        channel_canceled=order_facts.channel_canceled,
        supplier_orders=tuple(random.sample(order_facts.supplier_orders, len(order_facts.supplier_orders))),  # type: ignore[attr-defined]
        shipments=tuple(random.sample(order_facts.shipments, len(order_facts.shipments))),  # type: ignore[attr-defined]
        refunds=tuple(random.sample(order_facts.refunds, len(order_facts.refunds))),  # type: ignore[attr-defined]
    )
    # when / then
    assert derive(shuffled) == derive(order_facts)


REFUND_ORDER = (RefundState.IN_REVIEW, RefundState.APPROVED, RefundState.REJECTED, RefundState.REFUNDED)
REFUND_SUB = {
    RefundState.IN_REVIEW: S.REFUND_IN_REVIEW,
    RefundState.APPROVED: S.REFUND_APPROVED,
    RefundState.REJECTED: S.REFUND_REJECTED,
    RefundState.REFUNDED: S.REFUNDED,
}


@PROPERTY_SETTINGS
@given(order_facts(), st.lists(st.sampled_from(RefundState), min_size=1, max_size=4))
def test_refunds_dominate(order_facts: OrderFacts, refunds: list[RefundState]) -> None:
    # given any facts with at least one refund
    with_refunds = OrderFacts(
        channel_paid=order_facts.channel_paid,
        channel_canceled=order_facts.channel_canceled,
        supplier_orders=order_facts.supplier_orders,
        shipments=order_facts.shipments,
        refunds=tuple(refunds),
    )
    # when / then: Refund, showing the least settled refund
    least_settled = min(refunds, key=REFUND_ORDER.index)
    assert derive(with_refunds) == (OrderStatus.REFUND, REFUND_SUB[least_settled])


@PROPERTY_SETTINGS
@given(order_facts(refunds=False))
def test_channel_canceled_without_refunds_is_always_channel_canceled(order_facts: OrderFacts) -> None:
    # given any facts of an order canceled in the channel, no refund
    canceled = OrderFacts(
        channel_paid=order_facts.channel_paid,
        channel_canceled=True,
        supplier_orders=order_facts.supplier_orders,
        shipments=order_facts.shipments,
    )
    # when / then
    assert derive(canceled) == (OrderStatus.CANCELED, S.CHANNEL_CANCELED)


@PROPERTY_SETTINGS
@given(order_facts(refunds=False), expire_afters)
def test_the_order_shows_the_lowest_stage_of_its_parts(order_facts: OrderFacts, expire_after: timedelta) -> None:
    # given a paid, live order and its parts: each live supplier order with its parcels, each parcel by hand
    order = OrderFacts(channel_paid=True, supplier_orders=order_facts.supplier_orders, shipments=order_facts.shipments)
    current = [part for part in order.supplier_orders if part.state != SupplierOrderState.REPLACED]
    live = [part for part in current if part.state != CANCELED]
    parts = [
        OrderFacts(
            channel_paid=True,
            supplier_orders=(supplier_order,),
            shipments=tuple(s for s in order.shipments if s.supplier_order_id == supplier_order.id),
        )
        for supplier_order in live
    ] + [OrderFacts(channel_paid=True, shipments=(s,)) for s in order.shipments if s.supplier_order_id is None]
    # when
    whole = derive_status(order, now=NOW, expire_after=expire_after)
    # then
    if parts:
        each = [derive_status(part, now=NOW, expire_after=expire_after) for part in parts]
        assert whole == min(each, key=STAGE_RANK.index)
    elif current:  # replaced supplier orders are history: neither a part nor a cancellation
        assert whole == (OrderStatus.CANCELED, S.SOURCE_CANCELED)
    else:
        assert whole == (OrderStatus.NEW, S.NONE)


@PROPERTY_SETTINGS
@given(
    st.sampled_from(NON_FINAL + FINAL),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=120)),
    expire_afters,
    st.booleans(),
)
def test_a_non_final_parcel_silent_too_long_is_expired_and_not_otherwise(
    tracking_status: TrackingStatus, silence: timedelta, expire_after: timedelta, scanned: bool
) -> None:
    # given one paid supplier order with one parcel, silent for `silence`
    order = facts(
        supplier_orders=(so(1, PAID),),
        shipments=(parcel(tracking_status, silent_for=silence, last_event=scanned),),
    )
    # when
    status, sub_status = derive_status(order, now=NOW, expire_after=expire_after)
    # then
    assert status == OrderStatus.SHIPMENT
    assert (sub_status == S.EXPIRED) == (tracking_status in NON_FINAL and silence > expire_after)
