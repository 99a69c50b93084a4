"""Simulated 17TRACK v2.2 over real HTTP: 17token, the 40-number limit, accepted/rejected, signed pushes."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import timedelta
from typing import Any

import pytest
import requests

from sandbox.clock import sim_now
from sandbox.providers.track17.render import webhook_sign
from sandbox.sim import carriers
from sandbox.webhooks import deliveries_send_due
from sandbox.world import world_tick


def test_webhook_sign_matches_the_fixed_vector() -> None:
    body = b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}}'

    assert webhook_sign(body, "ABC123") == "7753cbc3f4b682fa9fd41b1ae00375230131d2f7ee3df64ebc9a28d474281ba6"


class Track17:
    def __init__(self, account: dict[str, Any]) -> None:
        self.base, self.token = account["base_url"], account["credentials"]["token"]

    def post(self, path: str, items: Any, token: str | None = None) -> requests.Response:
        headers = {"17token": token or self.token}
        return requests.post(f"{self.base}/{path}", json=items, headers=headers, timeout=10)


@pytest.fixture
def track(control: Any) -> Track17:
    return Track17(control.account("17track", "tracker"))


def test_bad_key_is_a_401_and_41_numbers_are_refused(track: Track17) -> None:
    bad = track.post("register", [{"number": "RR123456789CN"}], token="NOPE")
    too_many = track.post("register", [{"number": f"RR{n:09d}CN"} for n in range(41)])

    assert bad.status_code == 401
    assert bad.json() == {
        "code": -18010002,
        "data": {"errors": [{"code": -18010002, "message": "Security key is invalid."}]},
    }
    assert too_many.json()["code"] == -18010014
    assert too_many.json()["data"]["errors"][0]["code"] == -18010014
    assert track.post("gettrackinfo", [{"number": "RR000000001CN"}]).json()["data"]["rejected"][0]["error"]["code"] == (
        -18019902
    )


def test_register_accepts_rejects_and_reports(track: Track17) -> None:
    first = track.post("register", [{"number": "RR123456789CN", "tag": "order-1001"}, {"number": "ZZ-12345-?"}]).json()
    again = track.post("register", [{"number": "RR123456789CN"}]).json()
    info = track.post("gettrackinfo", [{"number": "RR123456789CN"}]).json()
    malformed = requests.post(f"{track.base}/register", data="[{", headers={"17token": track.token}, timeout=10)

    assert first["code"] == 0
    assert first["data"]["accepted"] == [{"origin": 1, "number": "RR123456789CN", "carrier": 3011, "tag": "order-1001"}]
    assert first["data"]["rejected"][0]["error"]["code"] == -18019903
    assert again["data"]["rejected"] == [
        {
            "number": "RR123456789CN",
            "error": {"code": -18019901, "message": "The tracking number is already registered."},
        }
    ]
    (item,) = info["data"]["accepted"]
    assert (item["number"], item["carrier"], item["tag"]) == ("RR123456789CN", 3011, "order-1001")
    assert item["track_info"]["latest_status"]["status"] == "NotFound"
    assert item["track_info"]["tracking"]["providers"][0]["provider"]["name"] == "China Post"
    assert malformed.status_code == 200
    assert malformed.json()["code"] == -18010012


def test_moving_parcels_push_signed_tracking_updated_until_stopped(
    control: Any, track: Track17, webhook_receiver: Any
) -> None:
    start = sim_now()
    parcel = carriers.parcel_create(
        carrier=carriers.CARRIERS["yunexpress"], country_code="US", now=start, rng=random.Random(4)
    )
    track.post("register", [{"number": parcel.number}])
    control._call("POST", "17track/tracker/webhook", (200,), {"url": webhook_receiver.url + "/17track"})

    world_tick(now=start + timedelta(days=2))
    deliveries_send_due()
    received = webhook_receiver.wait_for(1)
    track.post("stoptrack", [{"number": parcel.number}])
    world_tick(now=start + timedelta(days=20))
    deliveries_send_due()

    (push,) = received
    assert push.headers["sign"] == hashlib.sha256(push.body + b"/" + track.token.encode()).hexdigest()
    payload = json.loads(push.body)
    assert payload["event"] == "TRACKING_UPDATED"
    assert payload["data"]["number"] == parcel.number
    parcel.refresh_from_db()
    info = payload["data"]["track_info"]
    assert info["latest_status"]["status"] != "NotFound"
    assert len(info["tracking"]["providers"][0]["events"]) < len(parcel.events)  # moved on after the stop
    assert len(webhook_receiver.received) == 1
