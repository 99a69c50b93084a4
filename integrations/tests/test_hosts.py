"""The outbound host policy on its own: which addresses each provider may be called at."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from integrations.errors import HostNotAllowed, ProviderError
from integrations.hosts import PUBLIC_HTTPS, SHOPIFY_SHOP, TIKTOK_SHOP_API, HostRule, Target, check_url

PUBLIC = "93.184.215.14"
NAMES = {
    "shop.example.com": [PUBLIC],
    "acme.myshopify.com": ["23.227.38.65"],
    "open-api.tiktokglobalshop.com": ["23.50.52.1"],
    "intranet.example.com": ["10.0.0.7"],
    "metadata.example.com": ["169.254.169.254"],
    "mixed.example.com": [PUBLIC, "192.168.1.2"],
    "v6.example.com": ["2606:4700::1111", "fd00::1"],
    "local.example.com": ["127.0.0.1", "::1"],
}


def resolver(host: str, port: int) -> Sequence[str]:
    return NAMES[host]


def check(url: str, rule: HostRule = PUBLIC_HTTPS, *, loopback: bool = False) -> Target:
    return check_url(url, rule, allow_loopback=loopback, resolver=resolver)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8000/", "loopback"),
        ("https://127.0.0.1/", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://[64:ff9b::a00:1]/", "private"),
        ("https://[2002:a00:1::]/", "private"),
        ("http://169.254.169.254/", "link-local"),
        ("https://metadata.example.com/", "link-local"),
        ("https://10.1.2.3/", "private"),
        ("https://intranet.example.com/wp", "intranet.example.com → 10.0.0.7: a private address"),
        ("https://mixed.example.com/", "192.168.1.2: a private address"),
        ("https://v6.example.com/", "fd00::1: a private address"),
        ("https://[fec0::1]/", "fec0::1: a site-local address"),
        ("https://[feff:ffff::1]/", "site-local"),
        ("https://100.64.0.1/", "not a public address"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://224.0.0.1/", "multicast"),
        ("https://240.0.0.1/", "reserved"),
        ("https://local.example.com/", "loopback"),
        ("http://shop.example.com/", "only https"),
        ("https://shop.example.com/?", "query or fragment"),
        ("https://shop.example.com/#", "query or fragment"),
        ("https://shop.example.com/wp?x=/", "query or fragment"),
        ("https://user:pw@shop.example.com/", "user name or password"),
        ("https://shop.example.com /", "spaces"),
        ("https://shop.example.com\\@evil/", "backslash"),
        ("ftp://shop.example.com/", "only http(s)"),
        ("https://shop.example.com:99999/", "port"),
        ("https://bücher.example/", "xn--"),
    ],
)
def test_woocommerce_sites_must_be_public_https(url: str, reason: str) -> None:
    with pytest.raises(HostNotAllowed, match="is refused") as caught:
        check(url)
    assert reason in str(caught.value)
    assert str(caught.value).endswith("Allowed: an https address of a public site.")


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com",
        "http://acme.myshopify.com",
        "https://acme.myshopify.com:8443",
        "https://acme.myshopify.com/admin",
        "https://acme.myshopify.com.shop.example.com/",
        "https://-x.myshopify.com",
    ],
)
def test_shopify_only_on_its_shop_hosts(url: str) -> None:
    NAMES.setdefault("acme.myshopify.com.shop.example.com", [PUBLIC])
    NAMES.setdefault("-x.myshopify.com", [PUBLIC])
    with pytest.raises(HostNotAllowed, match=r"Allowed: https://<shop>\.myshopify\.com\."):
        check(url, SHOPIFY_SHOP)


@pytest.mark.parametrize("url", ["https://shop.example.com", "https://open-api.tiktokglobalshop.com/api"])
def test_tiktok_only_on_its_api_hosts(url: str) -> None:
    with pytest.raises(HostNotAllowed):
        check(url, TIKTOK_SHOP_API)


def test_allowed_addresses_are_pinned_to_what_was_checked() -> None:
    assert check("https://shop.example.com/wp") == Target("https", "shop.example.com", 443, "/wp", (PUBLIC,))
    assert check("https://acme.myshopify.com", SHOPIFY_SHOP).addresses == ("23.227.38.65",)
    assert check("https://open-api.tiktokglobalshop.com", TIKTOK_SHOP_API).host == "open-api.tiktokglobalshop.com"
    # The client checks each request under the base: the API path is not the store's address.
    assert check_url("https://acme.myshopify.com/admin/api/x.json", SHOPIFY_SHOP, base=False, resolver=resolver)


def test_loopback_is_allowed_only_by_the_setting_and_only_loopback() -> None:
    target = check("http://127.0.0.1:8000/sandbox/shopify/s", SHOPIFY_SHOP, loopback=True)
    assert (target.scheme, target.port, target.addresses) == ("http", 8000, ("127.0.0.1",))
    assert check("http://local.example.com:8000/", loopback=True).addresses == ("127.0.0.1", "::1")
    with pytest.raises(HostNotAllowed, match="private"):
        check("http://10.0.0.1/", loopback=True)
    with pytest.raises(HostNotAllowed, match="query"):
        check("http://127.0.0.1:8000/?", loopback=True)


def test_the_setting_decides_by_default(settings: object) -> None:
    settings.OUTBOUND_ALLOW_LOOPBACK = False  # type: ignore[attr-defined]
    with pytest.raises(HostNotAllowed):
        check_url("http://127.0.0.1:8000/", PUBLIC_HTTPS)
    settings.OUTBOUND_ALLOW_LOOPBACK = True  # type: ignore[attr-defined]
    assert check_url("http://127.0.0.1:8000/", PUBLIC_HTTPS).addresses == ("127.0.0.1",)


def test_a_name_that_does_not_resolve_is_a_passing_error(settings: object) -> None:
    with pytest.raises(ProviderError, match="could not be resolved") as caught:
        check_url("https://no-such-name.invalid/", PUBLIC_HTTPS)
    assert caught.value.retryable is True
    assert not isinstance(caught.value, HostNotAllowed)


def test_a_refused_addresss_query_is_not_repeated_in_the_message() -> None:
    with pytest.raises(HostNotAllowed) as caught:
        check("https://shop.example.com/wp?token=s3cret#frag")
    assert "https://shop.example.com/wp”" in str(caught.value)
    assert "s3cret" not in str(caught.value)
