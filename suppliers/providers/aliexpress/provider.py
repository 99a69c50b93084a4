"""AliExpress Dropshipping (DS) as a supplier: place (and pay) with ``aliexpress.ds.order.create``,
read with ``aliexpress.trade.ds.order.get``, refresh the account's token with ``/auth/token/refresh``.

Never twice, the AliExpress way: the DS API has no lookup by ``out_order_id`` (the order query
takes AliExpress's order id only), but ``aliexpress.ds.order.create`` deduplicates an
``out_order_id`` for 24 hours, answering a repeat with the order it already made. So ``find`` is
not supported, and an unknown outcome (a timeout, a lost answer, a 5xx) is resolved by placing
the same request again under the same key within ``repeat_answers_existing_for``. Paying is the
same call: a repeat with ``try_to_pay`` pays the existing order if it is still unpaid (the DS API
has no separate pay call for an order id), so ``pay`` is not supported either.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django.utils import timezone

from integrations.errors import CredentialsError, MalformedPayload, NotSupported, OutcomeUnknown, ProviderError
from integrations.http import AttemptRecorder, sanitize
from integrations.oauth import GrantRefused, TokenGrant, required_text, seconds_from
from suppliers.providers.aliexpress.client import AliExpressClient
from suppliers.providers.aliexpress.refusals import auto_pay_failed, refusal_for
from suppliers.providers.aliexpress.tracking import LANGUAGE, TRACKING_GET, SupplierParcelTracking, parcels_of
from suppliers.providers.base import (
    Placed,
    PlaceLine,
    PlaceRequest,
    Refusal,
    ShipTo,
    SupplierOrderInfo,
    SupplierProvider,
    SupplierRefused,
    register,
)

CREATE, ORDER_GET, REFRESH_PATH = "aliexpress.ds.order.create", "aliexpress.trade.ds.order.get", "/auth/token/refresh"
CODE_PATH = "/auth/token/create"  # the authorization code → the account's first tokens
PLACE_PARAM = "param_place_order_request4_open_api_d_t_o"
AUTO_PAY_FAILED_MARK = "autopay fail"  # in "OrderCreated, autoPay fail:APIPayFail", any case
REPEATED_ORDER = "REPEATED_ORDER_ERROR"
PLATFORM_TZ = ZoneInfo("America/Los_Angeles")  # gmt_* strings are the platform's local time
UNPAID, PAYING = "PLACE_ORDER_SUCCESS", "PAYMENT_PROCESSING"
NOT_PAID_STATUSES = frozenset({UNPAID, "WAIT_GROUP", "WAIT_COMPLETE_ADDRESS"})
MAX_ID_DIGITS = 20
KEY_LENGTH = 64  # out_order_id
MAX_PARTS = 10  # parts of one split order read back (AliExpress splits by store)


def _digits(value: Any, what: str) -> int:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
        raise ProviderError(f"AliExpress sent {what} that is not an order number")
    return int(text)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _money(value: Any) -> tuple[Decimal | None, str]:
    """An ``{"amount", "currency_code"}`` object: (amount, currency), (None, "") when absent."""
    if value is None:
        return None, ""
    if not isinstance(value, dict):
        raise ProviderError("AliExpress sent an amount that is not an object")
    raw, currency = value.get("amount"), value.get("currency_code")
    try:
        amount = Decimal(str(raw)) if isinstance(raw, str | int) and not isinstance(raw, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        raise ProviderError("AliExpress sent an amount that is not a number")
    code = currency if isinstance(currency, str) and currency.isalpha() and len(currency) == 3 else ""
    return amount, code.upper()


def _platform_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=PLATFORM_TZ)
    except ValueError:
        raise ProviderError("AliExpress sent a date that is not a date") from None


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProviderError(f"AliExpress sent {what} that is not a list")
    return value


def address_of(ship_to: ShipTo) -> dict[str, str]:
    """``logistics_address``: the tax id goes where the country needs it (Brazil: ``cpf``)."""
    address = {
        "full_name": ship_to.name,
        "contact_person": ship_to.name,
        "mobile_no": ship_to.phone,
        "address": ship_to.address1,
        "address2": ship_to.address2,
        "city": ship_to.city,
        "province": ship_to.province,
        "zip": ship_to.zip,
        "country": ship_to.country_code.upper(),
        "locale": "en_US",
    }
    if ship_to.tax_id:
        address["cpf" if ship_to.country_code.upper() == "BR" else "tax_number"] = ship_to.tax_id
    return address


def item_of(line: PlaceLine) -> dict[str, Any]:
    if not line.product_id.isascii() or not line.product_id.isdigit() or len(line.product_id) > MAX_ID_DIGITS:
        refusal = Refusal(
            code="INVALID_PRODUCT_ID",
            message=f"“{sanitize(line.product_id, 40)}” is not an AliExpress product id (a number).",
            fix="Correct the product link, then place the order again.",
        )
        raise SupplierRefused(refusal)
    item: dict[str, Any] = {"product_id": int(line.product_id), "product_count": line.quantity, "sku_attr": line.sku}
    if line.shipping_method:
        item["logistics_service_name"] = line.shipping_method
    return item


DISPUTE_PAGE = "https://www.aliexpress.com/p/order/detail.html?orderId="


@register
class AliExpressProvider(SupplierProvider):
    provider = "aliexpress"
    repeat_answers_existing_for: ClassVar[timedelta | None] = timedelta(hours=24)
    # No buyer-side dispute API (docs/suppliers.md, "Refunds (disputes)"): the merchant opens the
    # dispute on the order's page at AliExpress ("Open Dispute") and records the outcome with us.
    refund_api: ClassVar[bool] = False

    @classmethod
    def dispute_url(cls, external_id: str) -> str:
        """The buyer's order page, where AliExpress shows "Open Dispute" (the first order id when
        AliExpress split the order; "" for an id that is not AliExpress's numeric one)."""
        first = external_id.split(",")[0].strip()
        return f"{DISPUTE_PAGE}{first}" if first.isdigit() and len(first) <= 30 else ""

    def client(self) -> AliExpressClient:
        credentials = self.credentials
        return AliExpressClient(
            self.base_url,
            app_key=str(credentials.get("app_key", "")),
            app_secret=str(credentials.get("app_secret", "")),
            access_token=str(credentials.get("access_token", "")),
            **self.client_options,
        )

    def _call(self, method: str, business: Mapping[str, Any], *, idempotent: bool) -> Any:
        client = self.client()
        try:
            return client.call(method, business, idempotent=idempotent).get("result")
        finally:
            client.close()

    # Place ------------------------------------------------------------------------------------

    def place(self, request: PlaceRequest) -> Placed:
        if not request.idempotency_key or len(request.idempotency_key) > KEY_LENGTH or not request.lines:
            raise ValueError("a place request needs a key of 1-64 characters and at least one line")
        order = {
            "out_order_id": request.idempotency_key,
            "logistics_address": address_of(request.ship_to),
            "product_items": [item_of(line) for line in request.lines],
        }
        payment = {"pay_currency": "USD", "try_to_pay": "true" if request.pay else "false"}
        business = {PLACE_PARAM: order, "ds_extend_request": {"payment": payment}}
        # Not repeated inside the call: an unknown outcome goes back to the caller (OutcomeUnknown),
        # who places again under the same key, within the 24 h AliExpress deduplicates it.
        result = self._call(CREATE, business, idempotent=False)
        return self._placed(result, paying=request.pay)

    def _placed(self, result: Any, *, paying: bool) -> Placed:
        if not isinstance(result, dict) or not isinstance(result.get("is_success"), bool | str):
            raise ProviderError("AliExpress answered the order without saying whether it was made")
        succeeded = str(result["is_success"]).lower() == "true"
        said = _text(result.get("error_msg"))
        if not succeeded:
            code = _text(result.get("error_code"))
            if code == REPEATED_ORDER:  # made before, under this key, but AliExpress did not say which
                raise OutcomeUnknown(
                    "AliExpress already has an order under this key but did not say which: "
                    "find it in the AliExpress order list"
                )
            raise SupplierRefused(refusal_for(code, said))
        numbers = result.get("order_list")
        numbers = numbers.get("number") if isinstance(numbers, dict) else None
        ids = [str(_digits(n, "an order id")) for n in _list(numbers, "the order list")]
        if not ids:
            raise ProviderError("AliExpress said the order was made but sent no order number")
        failed = paying and AUTO_PAY_FAILED_MARK in said.lower().replace("-", "")
        paid = paying and not failed
        info = SupplierOrderInfo(external_id=",".join(ids), status=PAYING if paid else UNPAID, paid=paid)
        return Placed(order=info, payment_failure=auto_pay_failed() if failed else None)

    def find(self, idempotency_key: str) -> SupplierOrderInfo | None:
        raise NotSupported(
            "AliExpress cannot look an order up by out_order_id: place the same request again under "
            "the same key within 24 hours, and AliExpress answers the order it already made"
        )

    def pay(self, external_id: str) -> SupplierOrderInfo:
        raise NotSupported(
            "AliExpress pays through the order call: place the same request again under the same key "
            "with payment on, and AliExpress pays the existing order if it is still unpaid"
        )

    # Read ---------------------------------------------------------------------------------------

    def get(self, external_id: str) -> SupplierOrderInfo:
        """One order, or the parts of an order AliExpress split by store (ids comma-separated):
        paid or canceled only when every part is, amounts summed, parcels of all parts."""
        ids = [part.strip() for part in external_id.split(",") if part.strip()]
        if len(ids) > 1:
            return combined(external_id, [self._get_one(order_id) for order_id in ids[:MAX_PARTS]])
        return self._get_one(external_id)

    def _get_one(self, external_id: str) -> SupplierOrderInfo:
        order_id = _digits(external_id, "an order id")
        result = self._call(ORDER_GET, {"single_order_query": {"order_id": order_id}}, idempotent=True)
        if not isinstance(result, dict):
            raise ProviderError("AliExpress answered the order query without an order")
        return order_info(str(order_id), result)

    def tracking(self, external_id: str) -> list[SupplierParcelTracking]:
        """AliExpress's own tracking of an order (every part of a split one): its parcels with
        their scans (``aliexpress.ds.order.tracking.get``; tracking.py). A read: repeated safely."""
        parcels: list[SupplierParcelTracking] = []
        for part in [part.strip() for part in external_id.split(",") if part.strip()][:MAX_PARTS]:
            order_id = _digits(part, "an order id")
            business = {"ae_order_id": str(order_id), "language": LANGUAGE}
            parcels += parcels_of(self._call(TRACKING_GET, business, idempotent=True))
        return parcels

    # Tokens -----------------------------------------------------------------------------------

    @classmethod
    def refresh_grant(
        cls, *, base_url: str, credentials: Mapping[str, str], recorder: AttemptRecorder | None = None
    ) -> TokenGrant:
        """A new access and refresh token for ``credentials["refresh_token"]`` (the old ones stop
        working); ``GrantRefused`` when AliExpress refuses it for good (the merchant connects again)."""
        refresh_token = str(credentials.get("refresh_token", ""))
        if not refresh_token:
            raise GrantRefused("this AliExpress account has no refresh token: connect it again")
        client = AliExpressClient(
            base_url, app_key=str(credentials.get("app_key", "")), app_secret=str(credentials.get("app_secret", ""))
        )
        client.recorder = recorder
        try:
            body = client.system_call(REFRESH_PATH, {"refresh_token": refresh_token})
        except CredentialsError as error:
            raise GrantRefused(str(error), status=error.status) from error
        finally:
            client.close()
        return grant_of(body)

    @classmethod
    def code_grant(
        cls,
        *,
        base_url: str,
        app_key: str,
        app_secret: str,
        code: str,
        uuid: str = "",
        recorder: AttemptRecorder | None = None,
    ) -> TokenGrant:
        """The tokens for the ``code`` AliExpress's authorize page gave (``/auth/token/create``, a
        system call signed with its path); ``GrantRefused`` when AliExpress refuses the code."""
        if not code:
            raise GrantRefused("AliExpress sent no authorization code: connect again")
        client = AliExpressClient(base_url, app_key=app_key, app_secret=app_secret)
        client.recorder = recorder
        params = {"code": code, **({"uuid": uuid} if uuid else {})}
        try:
            body = client.system_call(CODE_PATH, params)
        except CredentialsError as error:
            raise GrantRefused(str(error), status=error.status) from error
        except ProviderError as error:
            if error.retryable:
                raise
            raise GrantRefused(str(error), status=error.status) from error  # an unknown or used code
        finally:
            client.close()
        return grant_of(body)


def grant_of(body: dict[str, Any]) -> TokenGrant:
    now = timezone.now()
    try:
        grant = TokenGrant(
            access_token=required_text(body, "access_token"),
            refresh_token=required_text(body, "refresh_token"),
            expires_at=seconds_from(body, "expires_in", now=now),
            refresh_expires_at=seconds_from(body, "refresh_expires_in", now=now),
            extra={
                k: str(body[k])[:100] for k in ("user_id", "seller_id", "account") if isinstance(body.get(k), str | int)
            },
        )
    except MalformedPayload as error:
        raise ProviderError(f"AliExpress sent a token answer that cannot be used: {error}") from None
    return grant


def order_info(external_id: str, result: dict[str, Any]) -> SupplierOrderInfo:
    """What ``aliexpress.trade.ds.order.get`` says of one order, read defensively."""
    status = result.get("order_status")
    if not isinstance(status, str) or not status:
        raise ProviderError("AliExpress answered the order query without an order status")
    total, currency = _money(result.get("order_amount"))
    children = [c for c in _list(result.get("child_order_list"), "the order's lines") if isinstance(c, dict)]
    items_total = _items_total(children)
    shipped = [p for p in _list(result.get("logistics_info_list"), "the parcels") if isinstance(p, dict)]
    numbers = [sanitize(n, 60) for n in (p.get("logistics_no") for p in shipped) if isinstance(n, str) and n]
    services = [s for s in (p.get("logistics_service") for p in shipped) if isinstance(s, str) and s.strip()]
    canceled = bool(children) and all(c.get("end_reason") == "CANCELED" for c in children) and status == "FINISH"
    paid = bool(result.get("order_paidtime_string")) or status not in NOT_PAID_STATUSES
    return SupplierOrderInfo(
        external_id=external_id,
        status=sanitize(status, 40),
        paid=paid,
        items_total=items_total,
        shipping_total=total - items_total if total is not None and items_total is not None else None,
        total=total,
        currency=currency,
        pay_by=None if paid else _pay_by(result),
        tracking_number=",".join(numbers),
        carrier=sanitize(services[0], 64) if numbers and services else "",
        canceled=canceled,
        cancel_reason="",  # AliExpress gives no cancel reason through its API
    )


def _sum(values: list[Decimal | None]) -> Decimal | None:
    return None if any(value is None for value in values) else sum((v for v in values if v is not None), Decimal(0))


def combined(external_id: str, parts: list[SupplierOrderInfo]) -> SupplierOrderInfo:
    """The parts of a split order read as one (the least advanced part's status shows)."""
    return SupplierOrderInfo(
        external_id=external_id,
        status=next((part.status for part in parts if not part.paid), parts[0].status),
        paid=all(part.paid for part in parts),
        items_total=_sum([part.items_total for part in parts]),
        shipping_total=_sum([part.shipping_total for part in parts]),
        total=_sum([part.total for part in parts]),
        currency=parts[0].currency,
        pay_by=min((part.pay_by for part in parts if part.pay_by is not None), default=None),
        tracking_number=",".join(part.tracking_number for part in parts if part.tracking_number),
        carrier=next((part.carrier for part in parts if part.carrier), ""),
        canceled=all(part.canceled for part in parts),
        cancel_reason="",
    )


def _items_total(children: list[dict[str, Any]]) -> Decimal | None:
    total = Decimal("0")
    for child in children:
        price, _ = _money(child.get("product_price"))
        count = child.get("product_count")
        if price is None or not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return None
        total += price * count
    return total if children else None


def _pay_by(result: dict[str, Any]) -> datetime | None:
    """``pay_timeout_second`` counts from the order's creation (the DS API reference)."""
    created, seconds = _platform_time(result.get("gmt_create")), result.get("pay_timeout_second")
    if created is None or not isinstance(seconds, str | int) or not str(seconds).isdigit():
        return None
    return created + timedelta(seconds=min(int(seconds), 365 * 86400))
