"""Outbound host policy (SSRF): which addresses a provider client may call, checked before every
request, and the address that was checked is the one connected to (``Target.addresses``).

A URL is refused when it carries a query, a fragment or user info (a trailing ``?`` or ``#``
included: our API paths would become a query string), or anything but ``http(s)://host[:port]/path``.
Each provider has a ``HostRule``: Shopify only ``https://<shop>.myshopify.com``, TikTok Shop only
its API and auth hosts, WooCommerce (any self-hosted site) any name over https whose every
address is public. Every name is resolved and every address checked, for the named hosts too:
loopback, private, link-local, site-local (``fec0::/10``, deprecated but still routed inside some
networks), shared, multicast, reserved and unspecified addresses are refused,
IPv4 and IPv6 alike (an IPv4 address inside an IPv6 one — mapped, 6to4, Teredo, NAT64 — is
checked as IPv4).

``OUTBOUND_ALLOW_LOOPBACK`` (off unless set; the dev profile and the tests turn it on) allows a
host whose addresses are all loopback, over http or https, for any provider: the sandbox lives
there. ``OUTBOUND_RESOLVE`` (a mapping name → addresses, consulted before DNS, like curl's
``--resolve``) is the tests' seam for names that resolve where a test needs them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from integrations.errors import HostNotAllowed, ProviderError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2000
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True)
class HostRule:
    """Where one provider may be reached. ``allowed`` says it in words for error messages."""

    allowed: str
    hosts: frozenset[str] = frozenset()  # exact names
    pattern: re.Pattern[str] | None = None  # or a full match on the name
    path: bool = True  # whether the base URL may carry a path (a WordPress in a folder)

    def names(self, host: str) -> bool:
        if not self.hosts and self.pattern is None:
            return True  # any name: its addresses decide
        return host in self.hosts or (self.pattern is not None and self.pattern.fullmatch(host) is not None)


SHOPIFY_SHOP = HostRule(
    allowed="https://<shop>.myshopify.com", pattern=re.compile(r"[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com"), path=False
)
# TikTok Shop's Partner API hosts (production and sandbox) and its token hosts; see
# docs/operations.md ("Host policy and outbound calls") for the sources.
TIKTOK_SHOP_API = HostRule(
    allowed="https://open-api.tiktokglobalshop.com",
    hosts=frozenset(
        {
            "open-api.tiktokglobalshop.com",
            "open-api-sandbox.tiktokglobalshop.com",
            "auth.tiktok-shops.com",
            "auth-sandbox.tiktok-shops.com",
        }
    ),
    path=False,
)
# AliExpress Open Platform gateway (business "/sync" and system "/rest/auth/token/*" calls):
# external-apis.md section 4 (IOP SDK code, aliexpress-docs "Gateway"); suppliers only.
ALIEXPRESS_API = HostRule(
    allowed="https://api-sg.aliexpress.com", hosts=frozenset({"api-sg.aliexpress.com"}), path=False
)
# CJdropshipping API 2.0: one host, the API under /api2.0/v1 (suppliers/providers/cj/client.py;
# source: developers.cjdropshipping.cn/en/api/api2/api/shopping.html, external-apis.md section 7).
CJ_API = HostRule(
    allowed="https://developers.cjdropshipping.com/api2.0/v1", hosts=frozenset({"developers.cjdropshipping.com"})
)
PUBLIC_HTTPS = HostRule(allowed=_("an https address of a public site"))


@dataclass(frozen=True)
class Target:
    """A URL that passed the policy, with the addresses it may be connected to (in order)."""

    scheme: str
    host: str  # the name: TLS verifies it (SNI) and it is the Host header
    port: int
    path: str
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """The name's addresses: ``OUTBOUND_RESOLVE`` first, then DNS. Raises a retryable
    ``ProviderError`` when the name does not resolve (DNS may be passing trouble)."""
    pinned = getattr(settings, "OUTBOUND_RESOLVE", {}).get(host)
    if pinned:
        return [str(address) for address in pinned]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise ProviderError(_("%(host)s could not be resolved") % {"host": host}, retryable=True) from error
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]  # no IPv6 zone
        if address not in addresses:
            addresses.append(address)
    return addresses


def address_problem(address: IPAddress) -> str | None:
    """Why an address is not a public one (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded)
    checks = (
        (address.is_unspecified, _("an unspecified address")),
        (address.is_loopback, _("a loopback address")),
        (address.is_link_local, _("a link-local address")),
        # fec0::/10: deprecated (RFC 3879), yet Python counts it global; some networks still route it inside.
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, _("a site-local address")),
        (address.is_multicast, _("a multicast address")),
        (address.is_reserved, _("a reserved address")),
        (address.is_private, _("a private address")),
        (not address.is_global, _("not a public address")),
    )
    return next((reason for failed, reason in checks if failed), None)


def is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def without_query(url: str) -> str:
    """``url`` up to its query or fragment: what of a URL may reach a message or an attempt record
    (a query may carry signatures or tokens)."""
    return re.split("[?#]", url, maxsplit=1)[0]


def _refuse(url: str, reason: str, rule: HostRule) -> HostNotAllowed:
    return HostNotAllowed(
        _("The address “%(url)s” is refused: %(reason)s. Allowed: %(allowed)s.")
        % {"url": without_query(url)[:200], "reason": reason, "allowed": rule.allowed}
    )


def _split(url: str, rule: HostRule) -> tuple[SplitResult, str, int]:
    if len(url) > MAX_URL_LENGTH or _UNSAFE_CHARACTERS.search(url):
        raise _refuse(url, _("it contains spaces, control characters or a backslash"), rule)
    if "?" in url or "#" in url:
        raise _refuse(url, _("a query or fragment (“?”, “#”) is not allowed"), rule)
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        raise _refuse(url, _("only http(s)://name/path addresses are allowed"), rule)
    if "@" in parts.netloc:
        raise _refuse(url, _("a user name or password in the address is not allowed"), rule)
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise _refuse(url, _("the port is not a number"), rule) from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise _refuse(url, _("it names no host"), rule)
    if not host.isascii():
        raise _refuse(url, _("write an international name in its xn-- form"), rule)
    return parts, host, port


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(
    url: str,
    rule: HostRule,
    *,
    base: bool = True,
    allow_loopback: bool | None = None,
    resolver: Resolver | None = None,
) -> Target:
    """The ``Target`` of ``url`` if the policy allows it; else ``HostNotAllowed`` (nothing is sent).

    ``base``: ``url`` is a store's address as typed (the rule's path restriction applies); the
    client checks each request's URL (its API path under the base) with ``base=False``. A name
    that does not resolve raises a retryable ``ProviderError``.
    """
    parts, host, port = _split(url, rule)
    allow_loopback = settings.OUTBOUND_ALLOW_LOOPBACK if allow_loopback is None else allow_loopback
    literal = _literal(host)
    addresses = [host] if literal is not None else list((resolver or resolve)(host, port))
    parsed: list[IPAddress] = []
    for answer in addresses:
        value = _literal(answer)
        if value is None:
            said = _("%(host)s resolves to “%(address)s”, not an address") % {"host": host, "address": answer}
            raise _refuse(url, said, rule)
        parsed.append(value)
    if not parsed:
        raise ProviderError(_("%(host)s could not be resolved") % {"host": host}, retryable=True)
    target = Target(parts.scheme, host, port, parts.path, tuple(str(value) for value in parsed))
    if allow_loopback and all(is_loopback(address) for address in parsed):
        return target  # the sandbox, allowed by the dev profile and the tests only
    for address in parsed:
        problem = address_problem(address)
        if problem is not None:
            where = str(address) if literal is not None else f"{host} → {address}"
            raise _refuse(url, f"{where}: {problem}", rule)
    if parts.scheme != "https":
        raise _refuse(url, _("only https is allowed"), rule)
    if not rule.names(host.lower()):
        raise _refuse(url, _("%(host)s is not this provider's host") % {"host": host}, rule)
    if (rule.hosts or rule.pattern is not None) and port != DEFAULT_PORTS["https"]:
        raise _refuse(url, _("only the standard https port is allowed"), rule)
    if base and not rule.path and parts.path not in ("", "/"):
        raise _refuse(url, _("the address must not have a path"), rule)
    return target
