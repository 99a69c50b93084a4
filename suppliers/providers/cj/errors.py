"""CJdropshipping's envelope codes, as the merchant reads them: a ``Refusal`` with the fix.

Sources: external-apis.md sections 7 and 9 (CJ developer docs "limit"): 1603101 order pay failed,
1604000 balance insufficient, 1600200 call limit exceeded, 1600000 system busy (retry at most 3
times), 1600001 invalid API key or token, 1600100 not found. The sandbox's own chosen codes
(docs/sandbox.md): 1600101 invalid parameter, 1602001 insufficient balance, 1602002 payment
declined, 1602003 cannot be paid, 1600500 internal error.
"""

from __future__ import annotations

from suppliers.providers.base import Refusal

SUCCESS = 200
SYSTEM_BUSY, INVALID_TOKEN, NOT_FOUND, INVALID_PARAM = 1600000, 1600001, 1600100, 1600101
TOO_MANY_REQUESTS, INTERNAL = 1600200, 1600500
PAY_FAILED, BALANCE_INSUFFICIENT = 1603101, 1604000  # documented by CJ
SIM_BALANCE_INSUFFICIENT, SIM_DECLINED, SIM_NOT_PAYABLE = 1602001, 1602002, 1602003  # the sandbox's

RETRYABLE = frozenset({SYSTEM_BUSY, TOO_MANY_REQUESTS, INTERNAL})

_BALANCE = (
    "CJ could not pay: the CJ wallet balance is too low",
    "Top up the CJ wallet (My CJ → Wallet), then retry the payment.",
)
PAYMENT_REFUSALS: dict[int, tuple[str, str]] = {
    BALANCE_INSUFFICIENT: _BALANCE,
    SIM_BALANCE_INSUFFICIENT: _BALANCE,
    PAY_FAILED: (
        "CJ could not pay the order",
        "Check the CJ wallet and payment settings at CJ, then retry the payment.",
    ),
    SIM_DECLINED: (
        "CJ declined the payment",
        "Check the payment method at CJ (card, risk control), then retry the payment.",
    ),
    SIM_NOT_PAYABLE: (
        "CJ says the order cannot be paid in its current status",
        "Open the order at CJ: it may be paid already or canceled; re-place it if it was canceled.",
    ),
}
PLACE_REFUSALS: dict[int, tuple[str, str]] = {
    INVALID_PARAM: (
        "CJ refused the order's details",
        "Correct the field CJ names (address, ZIP, phone, tax id, shipping method) on the order, then place it again.",
    ),
    NOT_FOUND: (
        "CJ does not know this order or product",
        "Check the product link's CJ variant (vid): the variant may be gone; link another one.",
    ),
}


def refusal_of(code: int, said: str, *, payment: bool) -> Refusal | None:
    """The merchant's refusal for a CJ envelope code (None: not a refusal we map)."""
    table = PAYMENT_REFUSALS if payment else {**PLACE_REFUSALS, **PAYMENT_REFUSALS}
    known = table.get(code)
    if known is None:
        return None
    message, fix = known
    return Refusal(
        code=str(code),
        message=f"{message}: {said}" if said else message,
        fix=fix,
        link_problem=not payment and code == NOT_FOUND,
    )


def unknown_refusal(code: int, said: str) -> Refusal:
    """A code CJ did not document for this call: refused knowingly (HTTP 200, result false)."""
    return Refusal(
        code=str(code),
        message=f"CJ refused it ({code}): {said}" if said else f"CJ refused it ({code})",
        fix="Open the order at CJ or contact CJ support with this code.",
    )
