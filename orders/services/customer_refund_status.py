"""Whether a channel's refund to the customer is done (``CustomerRefund.status``).

One rule for everything that reads customer refunds: the margin subtracts only the final ones and
the drawer offers "Ask the supplier for a refund" only for them (a pending one is labelled as
such); the channel ingestion may use it too. The channel's own word is stored as it came.

Final: an empty status (a refund recorded without one: Shopify's and WooCommerce's refund
objects exist once the money is sent), "success" (Shopify's refund transaction), "completed",
"refunded", "succeeded", and TikTok Shop's completion words for a return or refund
("RETURN_OR_REFUND_REQUEST_COMPLETE", "REFUND_SUCCESS"; unconfirmed against TikTok's reference,
see docs/refunds.md). Anything else (pending, processing, failed, cancelled, an unknown word)
is not final: counting money that may never move would be wrong.
"""

from __future__ import annotations

FINAL_STATUSES = frozenset(
    {
        "",
        "success",
        "completed",
        "refunded",
        "succeeded",
        # TikTok Shop (Return & Refund API), compared in lower case.
        "return_or_refund_request_complete",
        "refund_success",
    }
)


def customer_refund_is_final(status: str) -> bool:
    """True when the channel's status says the money went back to the customer."""
    return (status or "").strip().lower() in FINAL_STATUSES
