"""What the order center's search matches: ``Order.search_text``, lower-case terms joined by spaces.

Built once when an order arrives and only ever appended to afterwards (a tracking number, a
supplier order id, a new customer e-mail): terms added by other apps are never lost to a
rebuild. So it also keeps every name and e-mail the customer had before: erasing the customer
(``orders.services.redact``) is the one rebuild, from the order's own identifiers only (its
number, SKUs, purchase ids and the ids other apps keep of it in their rows). An app that appends
a term keeps it in a row of its own too, or an erased order is no longer found by it.
"""

from __future__ import annotations

from collections.abc import Iterable


def search_text_for(*, number: str, customer_name: str, customer_email: str, terms: Iterable[str]) -> str:
    """The search text of a new order: every term, in this order (the number first)."""
    return " ".join(part.lower() for part in (number, customer_name, customer_email, *terms) if part)


def search_text_with(search_text: str, terms: Iterable[str]) -> str:
    """``search_text`` with each term it does not contain yet appended (lower-cased, in order)."""
    new_terms: list[str] = []
    for term in terms:
        lowered = term.lower()
        if lowered and lowered not in search_text and lowered not in new_terms:
            new_terms.append(lowered)
    return " ".join([search_text, *new_terms]).strip() if new_terms else search_text


def search_text_of_ids(*, number: str, ids: Iterable[str]) -> str:
    """The search text of an order without its customer: the number, then each of its other
    identifiers once (lower-cased, in order)."""
    return search_text_with(number.lower(), ids)
