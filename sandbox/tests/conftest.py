"""Shared fixtures for the sandbox's tests: the sandbox over real HTTP, its control API, a webhook receiver.

- ``sandbox_url``: ``<live_server>/sandbox`` (pytest-django's live_server; tests using it get a
  transactional database, so the server thread sees what the test writes and vice versa;
  mark such modules ``pytestmark = SANDBOX_LIVE_DB`` to keep the per-test flush cheap).
- ``control``: a ``Control`` client for /sandbox/_control/… over HTTP (accounts, orders, options,
  faults, clock, fulfillments, ledger, buyer cancel / merchant update).
- ``webhook_receiver``: a plain HTTP server on 127.0.0.1 recording every POST it gets; set
  ``.status`` to make it fail. Tests send due deliveries with sandbox.webhooks.deliveries_send_due().
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

HTTP_TIMEOUT = 10

# For live-server test modules: ``pytestmark = SANDBOX_LIVE_DB``. Such tests flush the database
# after each test; limiting the flush to the apps a sandbox request touches (auth and
# contenttypes for the middleware, sandbox for the state) makes it several times cheaper.
SANDBOX_LIVE_DB = pytest.mark.django_db(
    transaction=True, available_apps=["django.contrib.contenttypes", "django.contrib.auth", "sandbox"]
)


class Control:
    """The sandbox control API over HTTP; every call asserts the status it expects."""

    def __init__(self, base: str) -> None:
        self.base = f"{base}/_control"
        self.http = requests.Session()

    def _call(self, method: str, path: str, expect: tuple[int, ...], json: Any = None) -> Any:
        response = self.http.request(method, f"{self.base}/{path}", json=json, timeout=HTTP_TIMEOUT)
        assert response.status_code in expect, f"{method} {path} → {response.status_code}: {response.text}"
        return response.json()

    def account(self, provider: str, name: str) -> dict[str, Any]:
        """Create (or fetch) an account: {"provider", "name", "base_url", "credentials"}."""
        return self._call("POST", "accounts", (200, 201), {"provider": provider, "name": name})

    def create_orders(self, provider: str, name: str, count: int = 1, seed: int = 1, **fields: Any) -> list[str]:
        body = {"count": count, "seed": seed, **fields}
        return self._call("POST", f"{provider}/{name}/orders", (201,), body)["created"]

    def options(self, provider: str, name: str, **options: Any) -> dict[str, Any]:
        return self._call("PUT", f"{provider}/{name}/options", (200,), options)["options"]

    def faults(self, rates: dict[str, dict[str, float]]) -> dict[str, Any]:
        return self._call("PUT", "faults", (200,), rates)["faults"]

    def clock(self, advance_seconds: float = 0, **more: Any) -> str:
        return self._call("POST", "clock", (200,), {"advance_seconds": advance_seconds, **more})["now"]

    def fulfillments(self) -> list[dict[str, Any]]:
        return self._call("GET", "fulfillments", (200,))["fulfillments"]

    def ledger(self) -> list[dict[str, Any]]:
        return self._call("GET", "ledger", (200,))["charges"]

    def credits(self) -> list[dict[str, Any]]:
        """Refunds the simulated suppliers paid back (one per refund, ever)."""
        return self._call("GET", "ledger", (200,))["credits"]

    def cancel_order(self, provider: str, name: str, order_id: str, **body: Any) -> dict[str, Any]:
        return self._call("POST", f"{provider}/{name}/orders/{order_id}/cancel", (200,), body)["order"]

    def update_order(self, provider: str, name: str, order_id: str, **body: Any) -> dict[str, Any]:
        return self._call("POST", f"{provider}/{name}/orders/{order_id}/update", (200,), body)["order"]

    def refund_order(self, provider: str, name: str, order_id: str, **body: Any) -> dict[str, Any]:
        """The merchant refunds lines of an order in the channel: the order, its refund ids last."""
        return self._call("POST", f"{provider}/{name}/orders/{order_id}/refund", (200,), body)["order"]

    def supplier_cancel(self, provider: str, name: str, order_id: str, **body: Any) -> dict[str, Any]:
        """The supplier cancels one of its orders now (refunding a charge): {"id", "status", …}."""
        return self._call("POST", f"{provider}/{name}/supplier-orders/{order_id}/cancel", (200,), body)["order"]

    def supplier_ship(self, provider: str, name: str, order_id: str) -> dict[str, Any]:
        """A paid supplier order's parcel goes to its carrier now: {"tracking_number", …}."""
        return self._call("POST", f"{provider}/{name}/supplier-orders/{order_id}/ship", (200,))["order"]

    def webhook(self, provider: str, name: str, url: str | None) -> dict[str, Any]:
        """The account's webhook address (AliExpress, TikTok Shop, 17TRACK); None unsubscribes."""
        return self._call("POST", f"{provider}/{name}/webhook", (200,), {"url": url})

    def shopify_uninstall(self, name: str, **body: Any) -> dict[str, Any]:
        """Uninstall the Shopify app from the shop: {"revoked", "queued"}."""
        return self._call("POST", f"shopify/{name}/uninstall", (200,), body)

    def shopify_compliance(self, name: str, topic: str, **body: Any) -> dict[str, Any]:
        """Send a compliance webhook to the app's compliance address: {"queued", "payload"}."""
        return self._call("POST", f"shopify/{name}/compliance", (200,), {"topic": topic, **body})


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


class WebhookReceiver:
    """Records POSTs; answers ``status`` (200 unless a test sets it)."""

    def __init__(self) -> None:
        self.received: list[ReceivedRequest] = []
        self.status = 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.received.append(
                        ReceivedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received) < count:
            time.sleep(0.02)
        return list(self.received)


@pytest.fixture
def sandbox_url(live_server: Any) -> str:
    return f"{live_server.url}/sandbox"


@pytest.fixture
def control(sandbox_url: str) -> Iterator[Control]:
    client = Control(sandbox_url)
    yield client
    client.http.close()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
