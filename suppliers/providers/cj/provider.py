"""CJdropshipping (API 2.0) as a ``SupplierProvider``: tokens from the merchant's API key, orders
placed under ``orderNumber`` (our idempotency key) and paid from the CJ wallet.

- Tokens: ``POST authentication/getAccessToken {"apiKey"}`` → access token (15 days) and refresh
  token (180 days); ``POST authentication/refreshAccessToken {"refreshToken"}``. CJ allows a NEW
  token at most once per 5 minutes and a refresh 5 times a minute (``NEW_TOKEN_INTERVAL``,
  ``REFRESHES_PER_MINUTE``): the account that keeps the token refreshes it, and asks for a new
  one with the API key only when the refresh token is refused.
- ``place``: ``POST shopping/order/createOrderV2`` with ``payType`` 2 (pay from the wallet at
  once) or 3 (create only). CJ creates the order even when the wallet payment fails: that is a
  ``Placed`` with a ``payment_failure``. The write is not repeated blindly: a timeout or 5xx is
  ``OutcomeUnknown``, and ``find`` asks CJ under the orderNumber.
- ``find``: ``GET shopping/order/getOrderDetail?orderId=<orderNumber>`` (CJ looks an order up by
  its own id or by the orderNumber; 1600100 = none under it).
- ``pay``: ``POST shopping/pay/payBalance {"orderId"}``, then the order read back.
- ``cancel``: ``DELETE shopping/order/deleteOrder?orderId=<CJ's order id>`` (an order not paid
  yet; CJ refuses one it has been paid for). ``data`` is the deleted order's id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from integrations.errors import CredentialsError, MalformedPayload, ProviderError
from integrations.http import AttemptRecorder
from integrations.oauth import GrantRefused, TokenGrant, required_text
from orders.enums import RefundState
from suppliers.providers.base import (
    PaymentFailed,
    Placed,
    PlaceRequest,
    RefundAsk,
    RefundInfo,
    Refusal,
    SupplierOrderInfo,
    SupplierProvider,
    SupplierRefused,
    register,
)
from suppliers.providers.cj import disputes, errors
from suppliers.providers.cj.client import CjClient, CjRefusal

TOKEN_PATH = "authentication/getAccessToken"  # noqa: S105 - a path, not a secret
REFRESH_PATH = "authentication/refreshAccessToken"  # noqa: S105
CREATE_PATH, PAY_PATH, DETAIL_PATH, DELETE_PATH = (
    "shopping/order/createOrderV2",
    "shopping/pay/payBalance",
    "shopping/order/getOrderDetail",
    "shopping/order/deleteOrder",
)
NEW_TOKEN_INTERVAL = timedelta(minutes=5)
REFRESHES_PER_MINUTE = 5
PAY_FROM_WALLET, CREATE_ONLY = 2, 3
DEFAULT_LOGISTIC, DEFAULT_FROM_COUNTRY = "CJPacket Ordinary", "CN"
UNPAID_STATUSES = frozenset({"CREATED", "IN_CART", "UNPAID"})
PAID_STATUSES = frozenset({"UNSHIPPED", "SHIPPED", "DELIVERED"})
CANCELED = "CANCELLED"
MAX_KEY_LENGTH = 100  # CJ's orderNumber
MONEY_LIMIT = Decimal("1000000")

logger = logging.getLogger(__name__)


def _expiry(data: Mapping[str, Any], key: str, *, now: datetime) -> datetime | None:
    """A CJ expiry date (ISO 8601 with its offset, e.g. ``2026-12-16T20:31:44+08:00``)."""
    value = data.get(key)
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment <= now:
        raise ProviderError(f"CJdropshipping sent an unusable {key}")
    return moment


def grant_from(data: Any, *, now: datetime) -> TokenGrant:
    """The tokens of a getAccessToken / refreshAccessToken ``data``, read defensively."""
    if not isinstance(data, dict):
        raise ProviderError("CJdropshipping's token answer has no data")
    try:
        access, refresh = required_text(data, "accessToken"), required_text(data, "refreshToken")
    except MalformedPayload as error:
        raise ProviderError(str(error)) from None
    open_id = data.get("openId")
    return TokenGrant(
        access_token=access,
        refresh_token=refresh,
        expires_at=_expiry(data, "accessTokenExpiryDate", now=now),
        refresh_expires_at=_expiry(data, "refreshTokenExpiryDate", now=now),
        extra={"open_id": str(open_id)[:40]}
        if isinstance(open_id, int | str) and not isinstance(open_id, bool)
        else {},
    )


def _money(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ProviderError(f"CJdropshipping sent a {key} that is not an amount")
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ProviderError(f"CJdropshipping sent a {key} that is not an amount") from None
    if not amount.is_finite() or not 0 <= amount < MONEY_LIMIT:
        raise ProviderError(f"CJdropshipping sent a {key} out of range")
    return amount


def _text(data: Mapping[str, Any], key: str, limit: int = 100) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ProviderError(f"CJdropshipping sent a {key} that is not text")
    return str(value).strip()[:limit]


def order_info(data: Any) -> SupplierOrderInfo:
    """What CJ says of one order (createOrderV2 or getOrderDetail ``data``), read defensively."""
    if not isinstance(data, dict):
        raise ProviderError("CJdropshipping sent an order answer without its order")
    external_id = _text(data, "orderId")
    if not external_id:
        raise ProviderError("CJdropshipping sent an order without its orderId")
    status = _text(data, "orderStatus", 40).upper()
    return SupplierOrderInfo(
        external_id=external_id,
        status=status,
        paid=status in PAID_STATUSES,
        payment_known=status in PAID_STATUSES or status in UNPAID_STATUSES or status == CANCELED,
        items_total=_money(data, "productAmount"),
        shipping_total=_money(data, "postageAmount"),
        total=_money(data, "orderAmount"),
        currency="USD",  # CJ prices and charges in USD
        tracking_number=_text(data, "trackNumber"),
        carrier=_text(data, "logisticName", 64) if _text(data, "trackNumber") else "",
        canceled=status == CANCELED,
    )


def _refused(refusal: CjRefusal, *, payment: bool) -> SupplierRefused:
    found = errors.refusal_of(refusal.code, refusal.said, payment=payment)
    if payment:
        return PaymentFailed(found or errors.unknown_refusal(refusal.code, refusal.said))
    if found is not None and refusal.code in errors.PAYMENT_REFUSALS:
        return PaymentFailed(found)
    return SupplierRefused(found or errors.unknown_refusal(refusal.code, refusal.said))


@register
class CjProvider(SupplierProvider):
    provider = "cj"
    refund_api = True  # CJ's dispute API (``disputes``)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # ``token_source`` goes to the client with the other options
        self.client = CjClient(
            self.base_url, access_token=self.credentials.get("access_token", ""), **self.client_options
        )

    # Tokens -----------------------------------------------------------------------------------

    @classmethod
    def _token_call(
        cls, base_url: str, path: str, body: dict[str, str], recorder: AttemptRecorder | None
    ) -> TokenGrant:
        client = CjClient(base_url, recorder=recorder)
        try:
            data, _ = client.call("POST", path, json_body=body, idempotent=True)
        except CredentialsError as error:
            raise GrantRefused(str(error)) from error
        except CjRefusal as refusal:
            raise ProviderError(str(refusal)) from None
        finally:
            client.close()
        return grant_from(data, now=timezone.now())

    @classmethod
    def token_get(cls, *, base_url: str, api_key: str, recorder: AttemptRecorder | None = None) -> TokenGrant:
        """A new token for the merchant's API key (CJ: at most once per ``NEW_TOKEN_INTERVAL``)."""
        return cls._token_call(base_url, TOKEN_PATH, {"apiKey": api_key}, recorder)

    @classmethod
    def refresh_grant(
        cls, *, base_url: str, credentials: Mapping[str, str], recorder: AttemptRecorder | None = None
    ) -> TokenGrant:
        """The refreshed token; ``GrantRefused`` when CJ refuses the refresh token (then a new
        token from the API key, no sooner than ``NEW_TOKEN_INTERVAL`` after the last one)."""
        refresh = credentials.get("refresh_token", "")
        if not refresh:
            raise GrantRefused("the CJ account has no refresh token: connect it again with its API key")
        return cls._token_call(base_url, REFRESH_PATH, {"refreshToken": refresh}, recorder)

    # Orders -----------------------------------------------------------------------------------

    def order_body(self, request: PlaceRequest) -> dict[str, Any]:
        """createOrderV2's body; ``ValueError`` (nothing sent) for what CJ cannot take."""
        key = request.idempotency_key
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"the orderNumber must be 1 to {MAX_KEY_LENGTH} characters")
        if not request.lines:
            raise ValueError("an order needs at least one line")
        methods = {line.shipping_method for line in request.lines if line.shipping_method}
        if len(methods) > 1:
            raise ValueError("CJ takes one shipping method per order: these lines name several")
        to = request.ship_to
        return {
            "orderNumber": key,
            "shippingCountryCode": to.country_code.upper(),
            "shippingCountry": to.country_code.upper(),
            "shippingProvince": to.province,
            "shippingCity": to.city,
            "shippingZip": to.zip,
            "shippingAddress": to.address1,
            "shippingAddress2": to.address2,
            "shippingCustomerName": to.name,
            "shippingPhone": to.phone,
            "email": to.email,
            "taxId": to.tax_id,
            "logisticName": next(iter(methods), DEFAULT_LOGISTIC),
            "fromCountryCode": self.credentials.get("from_country_code") or DEFAULT_FROM_COUNTRY,
            "payType": PAY_FROM_WALLET if request.pay else CREATE_ONLY,
            "products": [{"vid": line.product_id, "quantity": line.quantity} for line in request.lines],
        }

    def place(self, request: PlaceRequest) -> Placed:
        body = self.order_body(request)
        try:
            data, said = self.client.call("POST", CREATE_PATH, json_body=body, idempotent=False)
        except CjRefusal as refusal:
            raise _refused(refusal, payment=False) from None
        order = order_info(data)
        failure = None
        if request.pay and not order.paid:
            failure = Refusal(
                code="balance_payment_failed",
                message=said or "CJ created the order, but the wallet payment failed",
                fix="Top up the CJ wallet or check the payment at CJ, then retry the payment.",
            )
        return Placed(order=order, payment_failure=failure)

    def _detail(self, order_id: str) -> Any:
        """getOrderDetail's ``data``; None when CJ has no such order (1600100)."""
        try:
            data, _ = self.client.call("GET", DETAIL_PATH, params={"orderId": order_id})
        except CjRefusal as refusal:
            if refusal.code == errors.NOT_FOUND:
                return None
            raise ProviderError(str(refusal)) from None
        return data

    def find(self, idempotency_key: str) -> SupplierOrderInfo | None:
        if not idempotency_key:
            raise ValueError("an idempotency key is required")
        data = self._detail(idempotency_key)
        if data is None:
            return None
        info = order_info(data)
        number = _text(data, "orderNum")
        if number and number != idempotency_key:  # CJ matched it as its own order id: not ours
            raise ProviderError("CJdropshipping answered another order than the one asked for")
        return info

    def get(self, external_id: str) -> SupplierOrderInfo:
        data = self._detail(external_id) if external_id else None
        info = order_info(data) if data is not None else None
        if info is None:
            raise ProviderError(f"CJdropshipping has no order {external_id[:40]!r}")
        return info

    def pay(self, external_id: str) -> SupplierOrderInfo:
        if not external_id:
            raise ValueError("a CJ order id is required")
        try:
            self.client.call("POST", PAY_PATH, json_body={"orderId": external_id}, idempotent=False)
        except CjRefusal as refusal:
            raise _refused(refusal, payment=True) from None
        return self.get(external_id)

    def cancel(self, external_id: str) -> None:
        """Delete an unpaid order at CJ (``SupplierRefused`` when CJ will not, e.g. it is paid).

        A second delete of a deleted order may find nothing under the id (1600100): the order is
        gone at CJ, which is what was asked (the id is the one CJ gave at create, never a guess).
        """
        if not external_id:
            raise ValueError("a CJ order id is required")
        try:
            self.client.call("DELETE", DELETE_PATH, params={"orderId": external_id}, idempotent=True)
        except CjRefusal as refusal:
            if refusal.code == errors.NOT_FOUND:
                return
            raise SupplierRefused(
                Refusal(
                    code=str(refusal.code),
                    message=f"CJ did not cancel the order: {refusal.said or refusal.code}",
                    fix="Open the order at CJ: if it was paid, ask CJ for a refund instead.",
                )
            ) from None

    # Refunds (CJ disputes, see ``disputes``) --------------------------------------------------

    def refund_create(self, request: RefundAsk) -> RefundInfo:
        """Open the dispute under ``businessDisputeId`` = our key, then read it back by that key
        (CJ's create answers no id). Not found right after: in review, its id read on the next sync."""
        key = request.idempotency_key
        if not key or len(key) > MAX_KEY_LENGTH or not request.external_order_id or not request.items:
            raise ValueError("a refund request needs a key, the CJ order id and at least one line")
        message = request.note or f"Refund requested: {request.reason.replace('_', ' ')}"
        disputes.dispute_create(self.client, request, message)
        made = RefundInfo(external_id="", status="", state=RefundState.IN_REVIEW, idempotency_key=key)
        try:  # CJ said yes: the dispute is made, whatever this read-back does
            found = next(
                (
                    info
                    for info in disputes.disputes_read(self.client, request.external_order_id)
                    if info.idempotency_key == key
                ),
                None,
            )
        except ProviderError as error:
            logger.info("CJ dispute %s made; not read back yet: %s", key, error)
            return made
        return found or made

    def refunds_get(self, external_id: str) -> list[RefundInfo]:
        """The order's disputes; when some echo no key, their lines are named by CJ variant
        (disputeProducts) so our request can be told by its lines."""
        infos = disputes.disputes_read(self.client, external_id)
        if any(info.lines and not info.idempotency_key for info in infos):
            infos = disputes.with_variants(infos, disputes.line_variants(self.client, external_id))
        return infos
