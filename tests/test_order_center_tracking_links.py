"""Links to a parcel's tracking page (``integrations.carrier_links``), as the order center and the
channel pushes use them."""

from __future__ import annotations

import pytest

from channels_sync import carriers
from integrations import carrier_links
from integrations.carrier_links import tracking_link, tracking_url_for


def test_the_push_keeps_its_names_from_channels_sync() -> None:
    # the URL part moved; channels_sync.carriers still offers it, the same objects
    assert carriers.tracking_url_for is carrier_links.tracking_url_for
    assert carriers.TRACKING_URLS is carrier_links.TRACKING_URLS
    assert carriers.carrier_key is carrier_links.carrier_key
    assert carriers.carrier_for("shopify", "AliExpress Standard Shipping", {}) == carriers.CarrierChoice(
        "Cainiao", url_needed=True
    )


def test_tracking_url_for_knows_only_the_canonical_names() -> None:
    # what the push sends: "" for a name it must not guess
    assert tracking_url_for("YunExpress", "YT1") == "https://www.yuntrack.com/parcelTracking?id=YT1"
    assert [tracking_url_for("yunexpress", "YT1"), tracking_url_for(None, "YT1"), tracking_url_for("UPS", "")] == [
        "",
        "",
        "",
    ]


@pytest.mark.parametrize(
    ("number", "names", "code", "expected"),
    [
        # the provider's name first, any spelling
        (
            "LP001",
            ("Cainiao", "AliExpress Standard Shipping"),
            "",
            "https://global.cainiao.com/newDetail.htm?mailNoList=LP001",
        ),
        ("YT1", ("yun-express",), "", "https://www.yuntrack.com/parcelTracking?id=YT1"),
        ("1Z9", (" u.p.s ",), "", "https://www.ups.com/track?tracknum=1Z9"),
        # no name of ours: the next one
        ("RR1CN", ("", "China Post"), "", "https://track.chinapost.com.cn/?trackNumber=RR1CN"),
        # no page we know: 17TRACK's universal page, with its carrier code when there is one
        ("SP1", ("Speedy Parcels",), "", "https://t.17track.net/en#nums=SP1"),
        ("SP1", ("Speedy Parcels",), "190008", "https://t.17track.net/en#nums=SP1&fc=190008"),
        ("SP1", (), "", "https://t.17track.net/en#nums=SP1"),
        # a code that is not 17TRACK's number, or a number with what a URL would read: quoted, dropped
        ("SP1", (), "190008&x=1", "https://t.17track.net/en#nums=SP1"),
        ("A B/#?&fc=9", (), "", "https://t.17track.net/en#nums=A%20B%2F%23%3F%26fc%3D9"),
        ("  LP2  ", ("Cainiao",), "", "https://global.cainiao.com/newDetail.htm?mailNoList=LP2"),
        # nothing to link
        ("", ("Cainiao",), "190271", ""),
        ("   ", (), "", ""),
    ],
)
def test_tracking_link(number: str, names: tuple[str, ...], code: str, expected: str) -> None:
    assert tracking_link(number, carriers=names, carrier_code=code) == expected
