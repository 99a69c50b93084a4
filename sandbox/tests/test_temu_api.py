"""The SIMULATED Temu buyer API over real HTTP: Idempotency-Key, pay at most once, error shapes."""

from __future__ import annotations

from typing import Any

import pytest
import requests

ORDER = {
    "merchant_reference": "#1001",
    "recipient": {
        "name": "Alan Turing",
        "address_line1": "1 Main Street",
        "city": "Austin",
        "state": "TX",
        "postal_code": "78701",
        "country_code": "US",
    },
    "items": [{"sku_id": "SKU-601099512345", "quantity": 1}],
}


class Temu:
    def __init__(self, account: dict[str, Any]) -> None:
        self.base, self.key = account["base_url"], account["credentials"]["api_key"]

    def post(self, path: str, body: Any = None, idempotency_key: str | None = None, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {kw.pop('api_key', self.key)}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return requests.post(f"{self.base}/{path}", json=body, headers=headers, timeout=10, **kw)


@pytest.fixture
def temu(control: Any) -> Temu:
    return Temu(control.account("temu", "temu-buyer"))


def test_idempotency_key_returns_the_same_order_and_pay_charges_once(control: Any, temu: Temu) -> None:
    first = temu.post("orders", ORDER, idempotency_key="ZOPI-3001")
    replay = temu.post("orders", ORDER, idempotency_key="ZOPI-3001")
    reused = temu.post("orders", {**ORDER, "merchant_reference": "#1002"}, idempotency_key="ZOPI-3001")
    order_id = first.json()["order"]["id"]

    paid = temu.post(f"orders/{order_id}/pay")
    paid_again = temu.post(f"orders/{order_id}/pay")

    assert (first.status_code, replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, 200, "true")
    assert replay.json()["order"]["id"] == order_id
    assert first.json()["order"]["status"] == "pending_payment"
    assert (reused.status_code, reused.json()["error"]["code"]) == (409, "idempotency_key_reused")
    assert (paid.status_code, paid_again.status_code) == (200, 200)
    assert paid.json()["order"]["payment"]["status"] == "paid"
    assert [c["idempotency_key"] for c in control.ledger()] == ["ZOPI-3001"]


def test_a_declined_payment_is_a_402_and_takes_nothing(control: Any, temu: Temu) -> None:
    control.options("temu", "temu-buyer", payment_failure="card_declined")
    order_id = temu.post("orders", ORDER, idempotency_key="ZOPI-3002").json()["order"]["id"]

    declined = temu.post(f"orders/{order_id}/pay")
    detail = requests.get(f"{temu.base}/orders/{order_id}", headers={"Authorization": f"Bearer {temu.key}"}, timeout=10)

    assert declined.status_code == 402
    assert declined.json()["error"]["type"] == "payment_error"
    assert declined.json()["error"]["code"] == "card_declined"
    assert detail.json()["order"]["payment"]["status"] == "failed"
    assert control.ledger() == []


def test_bad_requests_get_temus_error_shape(temu: Temu) -> None:
    no_auth = temu.post("orders", ORDER, idempotency_key="ZOPI-3003", api_key="tk_live_nope")
    no_key = temu.post("orders", ORDER)
    malformed = temu.post("orders", data="{", idempotency_key="ZOPI-3004")
    no_state = temu.post(
        "orders", {**ORDER, "recipient": {**ORDER["recipient"], "state": ""}}, idempotency_key="ZOPI-3005"
    )

    assert (no_auth.status_code, no_auth.json()["error"]["type"]) == (401, "authentication_error")
    assert (no_key.status_code, no_key.json()["error"]["param"]) == (400, "Idempotency-Key")
    assert (malformed.status_code, malformed.json()["error"]["type"]) == (400, "invalid_request_error")
    assert (no_state.status_code, no_state.json()["error"]["param"]) == (400, "recipient.state")
