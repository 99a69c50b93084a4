"""AliExpress's refusals of ``aliexpress.ds.order.create`` (``is_success: false`` + ``error_code``)
in the merchant's words, with what to do. Codes: external-apis.md section 4 ("Error codes",
aliexpress-docs "Place order error" FAQ) and the ones the sandbox gives; see docs/suppliers.md.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from integrations.http import sanitize
from suppliers.providers.base import Refusal

ADDRESS_FIX = _("Correct the shipping address on the order, then place it again.")
LINK_FIX = _("Check the product link (product, SKU and shipping method), or use the backup supplier.")
SUPPORT_FIX = _("Contact AliExpress support about the buyer account, then place the order again.")

# code → (message, fix). A message None: AliExpress's own text says what is wrong (the address checks).
REFUSALS: dict[str, tuple[object | None, object]] = {
    "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL": (None, ADDRESS_FIX),
    "B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_CN_INVALID": (
        _("The recipient's CPF is missing or not valid (Brazil needs an 11-digit CPF with its check digits)."),
        _("Enter the buyer's CPF on the order, then place it again."),
    ),
    "B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_NOT_MATCH": (
        _("The CPF does not belong to the recipient's name."),
        _("Make the recipient's name and CPF on the order match, then place it again."),
    ),
    "BLACKLIST_BUYER_IN_LIST": (_("AliExpress has blacklisted the buyer account."), SUPPORT_FIX),
    "USER_ACCOUNT_DISABLED": (_("The AliExpress buyer account is disabled."), SUPPORT_FIX),
    "A003_SUSPICIOUS_BUYER": (_("AliExpress's risk control stopped the order (suspicious buyer)."), SUPPORT_FIX),
    "A006_INVALID_ACCOUNT_INFO": (_("The AliExpress account's details are incomplete or invalid."), SUPPORT_FIX),
    "PRICE_PAY_CURRENCY_ERROR": (
        _("AliExpress only takes payment in USD through its API."),
        _("Set the AliExpress account's payment currency to USD, then place the order again."),
    ),
    "DELIVERY_METHOD_NOT_EXIST": (
        _("The shipping method is not available to this country for this product."),
        _("Choose another shipping method on the product link, then place the order again."),
    ),
    "A005_INVALID_COUNTRIES": (_("The product cannot be shipped to this country."), LINK_FIX),
    "A002_INVALID_ZONE": (_("The product cannot be shipped to this region."), ADDRESS_FIX),
    "INVENTORY_HOLD_ERROR": (_("The product or its SKU is out of stock or no longer sold."), LINK_FIX),
    "ERROR_WHEN_BUILD_FOR_PLACE_ORDER": (
        _("AliExpress could not build the order: the SKU or the shipping method has usually changed."),
        LINK_FIX,
    ),
    "A001_ORDER_CANNOT_BE_PLACED": (_("AliExpress says this order cannot be placed."), LINK_FIX),
    "A004_CANNOT_USER_COUPON": (
        _("A coupon on the order cannot be used."),
        _("Place the order again without the coupon."),
    ),
}
# Codes that say a product link is wrong (the link is flagged; the affected orders say why).
LINK_CODES = frozenset({"INVENTORY_HOLD_ERROR", "ERROR_WHEN_BUILD_FOR_PLACE_ORDER", "DELIVERY_METHOD_NOT_EXIST"})


def refusal_for(code: str, said: str) -> Refusal:
    """The merchant's ``Refusal`` for a create error; an unknown code keeps AliExpress's own words."""
    code, said = sanitize(code, 80), sanitize(said)
    message, fix = REFUSALS.get(code, (None, _("Check the order and its product links; if it persists, ask support.")))
    if message is None:  # an address check, or a code not known yet: AliExpress's own words
        message = said or _("AliExpress refused the order without saying why.")
    return Refusal(code=code or "UNKNOWN", message=str(message), fix=str(fix), link_problem=code in LINK_CODES)


def auto_pay_failed() -> Refusal:
    """Created, but the automatic payment failed ("OrderCreated, autoPay fail:APIPayFail"): the
    answer gives no reason, nor does the order query or the paymentFailedEvent message."""
    return Refusal(
        code="APIPayFail",
        message=str(
            _(
                "The order was created at AliExpress, but its automatic payment failed "
                "(AliExpress does not say why: balance, card, risk control or verification)."
            )
        ),
        fix=str(_("Check the payment method and balance in your AliExpress account, then retry the payment.")),
    )
