"""What the order center's search matches: ``Order.search_text``, lower-case terms joined by spaces.

Built once when an order arrives and only ever appended to afterwards (a tracking number, a
supplier order id, a new customer e-mail): terms added by other apps are never lost to a
rebuild.
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


def search_text_without(search_text: str, *, words: Iterable[str], keep: Iterable[str]) -> str:
    """``search_text`` without the given words (the customer's name words, e-mail, phone) nor any
    e-mail address (a term with "@": an e-mail the customer had before a change is in there too),
    then with ``keep`` appended again (the number, the SKUs: a name word that is also a SKU stays
    findable). Terms are compared whole, lower-cased."""
    dropped = {word.lower() for word in words if word}
    remaining = [term for term in search_text.split(" ") if term and term not in dropped and "@" not in term]
    return search_text_with(" ".join(remaining), keep)
