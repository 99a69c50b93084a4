"""The contract every supplier provider fulfils (AliExpress, CJdropshipping; Temu simulated).

A provider folder ``suppliers/providers/<name>/`` holds the HTTP client (on
``integrations.http.ProviderHttpClient``: host policy, deadlines, size cap, a retry policy per
call, attempts for support) and the ``SupplierProvider`` subclass, registered in ``REGISTRY``.

Money moves here, so every write says what it knows (architecture rule 4):
- ``place`` sends the order under the caller's idempotency key (AliExpress ``out_order_id``, CJ
  ``orderNumber``): a success is a ``Placed`` (paid or not, with the supplier's own reason when a
  pay asked for with it failed); a refusal the supplier made knowingly is ``SupplierRefused``
  (final: a bad address, a SKU gone, …, with a code, a message and what to do); a call whose
  outcome is not known (a timeout, a lost answer) raises ``integrations.errors.OutcomeUnknown``,
  and the caller asks ``find`` before anything is sent again.
- ``find`` looks an order up by that idempotency key (None: the supplier has none under it).
- ``pay`` pays a placed order; the same three outcomes (a ``PaymentFailed`` reason is a refusal).
- ``refund_create`` asks for a refund (``refund_api``: the supplier has an API for it) under the
  caller's idempotency key; the same three outcomes (a refusal is final: the refund is Rejected
  with the supplier's words). ``refunds_get`` reads the refunds of one supplier order back
  (decisions and payments). Without an API (AliExpress) ``dispute_url`` is the supplier's page
  where the merchant opens the dispute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from integrations.errors import NotSupported
from integrations.http import CONNECT_TIMEOUT, MAX_ATTEMPTS, AttemptRecorder, Pacer
from integrations.oauth import TokenSource


@dataclass(frozen=True)
class ShipTo:
    """Where the parcel goes, as the supplier needs it (checked before anything is sent)."""

    name: str
    phone: str
    address1: str
    city: str
    country_code: str  # ISO 3166-1 alpha-2
    zip: str = ""
    province: str = ""
    address2: str = ""
    email: str = ""
    tax_id: str = ""  # Brazil's CPF, Chile's RUT, Korea's PCCC, a VAT number, … per country


@dataclass(frozen=True)
class PlaceLine:
    product_id: str  # AliExpress product_id; CJ: the variant id (vid)
    sku: str  # AliExpress sku_attr; CJ: "" (the vid says it)
    quantity: int
    shipping_method: str = ""  # the link's logistics service; "" = the supplier's default


@dataclass(frozen=True)
class PlaceRequest:
    idempotency_key: str  # sent to the supplier; the same key never makes a second order
    lines: tuple[PlaceLine, ...]
    ship_to: ShipTo
    pay: bool = True  # pay with the order when the account pays automatically


@dataclass(frozen=True)
class SupplierOrderInfo:
    """What the supplier says of one of its orders."""

    external_id: str  # the supplier's order id(s), comma-separated when it split the order
    status: str  # the supplier's own status word
    paid: bool
    items_total: Decimal | None = None
    shipping_total: Decimal | None = None
    total: Decimal | None = None
    currency: str = ""
    pay_by: datetime | None = None  # payment deadline, where the supplier has one
    tracking_number: str = ""
    carrier: str = ""  # the carrier (or shipping service) the supplier names for the parcel
    canceled: bool = False
    cancel_reason: str = ""
    # False: the supplier's status does not say whether it was paid (a status we do not know):
    # ``paid`` is then no answer, and nothing pays it again on the strength of it.
    payment_known: bool = True


@dataclass(frozen=True)
class Refusal:
    """A refusal the supplier made knowingly: final for this request, shown to the merchant."""

    code: str  # the supplier's code (kept for support)
    message: str  # short, sanitised, in the merchant's words
    fix: str = ""  # what to do next
    # The product link is what is wrong (SKU gone, out of stock, delivery method not offered): the
    # link is flagged and the orders using it say why.
    link_problem: bool = False
    # The supplier refused the request as malformed (a parameter error: our bug, not its
    # decision): shown to support, never recorded as the supplier's rejection.
    request_error: bool = False


@dataclass(frozen=True)
class Placed:
    order: SupplierOrderInfo
    # Asked to pay with the order, and the supplier created it but could not pay (AliExpress's
    # "created, but auto-pay failed"): the order is placed, unpaid, and this says why.
    payment_failure: Refusal | None = None


@dataclass(frozen=True)
class RefundAskItem:
    """Units of one supplier order line in a refund request."""

    supplier_product_id: str
    supplier_sku: str
    quantity: int
    # The supplier's own id of the order line where it has one (CJ's lineItemId), else "".
    supplier_line_id: str = ""


@dataclass(frozen=True)
class RefundAsk:
    idempotency_key: str  # ours; the same request sent twice is one refund (CJ businessDisputeId)
    external_order_id: str
    reason: str  # orders.enums.RefundReason
    note: str
    evidence: tuple[str, ...]
    amount: Decimal
    currency: str
    items: tuple[RefundAskItem, ...]


@dataclass(frozen=True)
class RefundInfo:
    """What the supplier says of one refund request."""

    external_id: str
    status: str  # the supplier's own word
    # Ours (orders.enums.RefundState value), or "" when the supplier's word is not one we know:
    # kept as received and shown, never a move.
    state: str
    idempotency_key: str = ""  # ours, where the supplier echoes it
    amount: Decimal | None = None
    refunded_amount: Decimal | None = None
    decided_at: datetime | None = None
    refunded_at: datetime | None = None
    rejection_reason: str = ""
    # The lines it names, as (supplier_product_id, quantity), where the supplier lists them; and
    # when the supplier made it (None: not said). Used to match a request that echoes no key.
    lines: tuple[tuple[str, int], ...] = ()
    created_at: datetime | None = None


class SupplierRefused(Exception):
    """The supplier refused knowingly (``Refusal``): nothing was made, do not send it again as is."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class PaymentFailed(SupplierRefused):
    """The supplier refused the payment (balance, card, risk control, verification)."""


class SupplierProvider:
    """Base class: every method raises ``NotSupported`` unless the provider implements it."""

    provider: ClassVar[str]
    # A supplier with no lookup by idempotency key (AliExpress) but that answers a repeat of the
    # same key with the order it already made, for this long: ``find`` is not supported, and an
    # unknown outcome is resolved by placing the same request again, under the same key, within
    # this window (never after it: the repeat would make a second order).
    repeat_answers_existing_for: ClassVar[timedelta | None] = None
    # The supplier takes refund requests through its API; False: the merchant opens the dispute
    # on the supplier's site (``dispute_url``) and records the outcome.
    refund_api: ClassVar[bool] = False

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Mapping[str, str],
        timeout: float = 20.0,
        max_attempts: int = MAX_ATTEMPTS,
        recorder: AttemptRecorder | None = None,
        token_source: TokenSource | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        # Our own limit on the account's call rate, shared across processes (None: not paced).
        self.pacer = pacer
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.recorder = recorder
        # The account's expiring access token (refreshed ahead and after a refusal), when the
        # supplier's tokens expire; None: ``credentials["access_token"]`` as it is.
        self.token_source = token_source

    @property
    def client_options(self) -> dict[str, object]:
        return {
            "timeout": (min(CONNECT_TIMEOUT, self.timeout), self.timeout),
            "max_attempts": self.max_attempts,
            "recorder": self.recorder,
            "token_source": self.token_source,
            "pacer": self.pacer,
        }

    def place(self, request: PlaceRequest) -> Placed:
        raise NotSupported(f"{self.provider} cannot place orders")

    def find(self, idempotency_key: str) -> SupplierOrderInfo | None:
        raise NotSupported(f"{self.provider} cannot look orders up by key")

    def get(self, external_id: str) -> SupplierOrderInfo:
        raise NotSupported(f"{self.provider} cannot read orders")

    def pay(self, external_id: str) -> SupplierOrderInfo:
        raise NotSupported(f"{self.provider} cannot pay orders through its API")

    def cancel(self, external_id: str) -> None:
        """Cancel an unpaid order at the supplier (``NotSupported``: the merchant is told how)."""
        raise NotSupported(f"{self.provider} cannot cancel orders through its API")

    def refund_create(self, request: RefundAsk) -> RefundInfo:
        """Ask for a refund (see the module docstring)."""
        raise NotSupported(f"{self.provider} takes no refund requests through its API")

    def refunds_get(self, external_id: str) -> list[RefundInfo]:
        """The refund requests of one supplier order, as the supplier has them."""
        raise NotSupported(f"{self.provider} reports no refunds through its API")

    @classmethod
    def dispute_url(cls, external_id: str) -> str:
        """The supplier's page where the merchant opens a dispute for the order ("": none)."""
        return ""


REGISTRY: dict[str, type[SupplierProvider]] = {}


def register(provider: type[SupplierProvider]) -> type[SupplierProvider]:
    REGISTRY[provider.provider] = provider
    return provider
