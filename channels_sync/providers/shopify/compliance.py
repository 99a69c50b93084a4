"""Shopify's mandatory compliance webhooks, read defensively (pure: no database, no network).

Payloads (shopify.dev, "Privacy law compliance"; see docs/channels.md):

- ``customers/data_request``: ``shop_id``, ``shop_domain``, ``orders_requested`` (order ids),
  ``customer`` {``id``, ``email``, ``phone``}, ``data_request`` {``id``}.
- ``customers/redact``: ``shop_id``, ``shop_domain``, ``customer`` {``id``, ``email``, ``phone``},
  ``orders_to_redact`` (order ids).
- ``shop/redact``: ``shop_id``, ``shop_domain``.

Decisions: ids are read as digit strings whether the JSON has numbers or strings (Shopify's own
examples use both); a GraphQL global id (``gid://shopify/Order/1``) is read as its number.
``shop_domain`` must be a ``<name>.myshopify.com`` domain (lower-cased): it is how stores are
found. E-mail and phone may be null. Every other shape is a ``MalformedPayload`` naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from integrations.errors import MalformedPayload
from integrations.fields import json_object

TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_GID = re.compile(r"^gid://shopify/[A-Za-z]+/(\d+)$")
MAX_TEXT = 254  # an e-mail address is at most 254 characters; a phone number far less


@dataclass(frozen=True)
class ComplianceCustomer:
    id: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class CompliancePayload:
    topic: str
    shop_domain: str
    shop_id: str = ""
    customer: ComplianceCustomer = ComplianceCustomer()
    order_ids: tuple[str, ...] = ()  # orders_to_redact / orders_requested
    data_request_id: str = ""


def compliance_payload(*, topic: str, body: bytes) -> CompliancePayload:
    """The request a compliance webhook body makes; ``MalformedPayload`` says what is wrong."""
    if topic not in TOPICS:
        raise MalformedPayload(f"unknown compliance topic {topic!r}")
    data = json_object(body, f"{topic} body")
    domain = data.get("shop_domain")
    if not isinstance(domain, str) or not SHOP_DOMAIN.match(domain.strip().lower()):
        raise MalformedPayload("'shop_domain' is not a <name>.myshopify.com domain")
    shop_id = _id(data.get("shop_id"), "shop_id", required=False)
    if topic == "shop/redact":
        return CompliancePayload(topic=topic, shop_domain=domain.strip().lower(), shop_id=shop_id)
    orders_key = "orders_to_redact" if topic == "customers/redact" else "orders_requested"
    data_request = data.get("data_request")
    if topic == "customers/data_request" and data_request is not None and not isinstance(data_request, dict):
        raise MalformedPayload("'data_request' is not an object")
    return CompliancePayload(
        topic=topic,
        shop_domain=domain.strip().lower(),
        shop_id=shop_id,
        customer=_customer(data.get("customer")),
        order_ids=_ids(data.get(orders_key), orders_key),
        data_request_id=_id((data_request or {}).get("id"), "data_request.id", required=False),
    )


def _customer(value: Any) -> ComplianceCustomer:
    if not isinstance(value, dict):
        raise MalformedPayload("'customer' is missing or not an object")
    return ComplianceCustomer(
        id=_id(value.get("id"), "customer.id", required=False),
        email=_text(value.get("email"), "customer.email"),
        phone=_text(value.get("phone"), "customer.phone"),
    )


def _ids(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedPayload(f"'{key}' is not a list of order ids")
    return tuple(dict.fromkeys(_id(item, f"{key}[{index}]", required=True) for index, item in enumerate(value)))


def _id(value: Any, where: str, *, required: bool) -> str:
    """A numeric id (a JSON number, a digit string or a GraphQL global id) as digits."""
    if value is None or value == "":
        if required:
            raise MalformedPayload(f"'{where}' is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedPayload(f"'{where}' is not an id: {type(value).__name__}")
    digits = str(value).strip()
    if match := _GID.match(digits):
        digits = match.group(1)
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 20:
        raise MalformedPayload(f"'{where}' is not an id")
    return digits


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise MalformedPayload(f"'{where}' is not a string of at most {MAX_TEXT} characters")
    return value.strip()
