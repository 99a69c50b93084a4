"""A 17TRACK stand-in over real HTTP whose answers each test writes (``scripted17`` fixture): for
what the sandbox cannot be made to say (a per-item quota refusal, a year-1 timestamp, a refusal
code). Our real client, parser and services talk to it as to 17TRACK."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Answer = Callable[[list[Any]], tuple[int, Any]]


def ok(data: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"code": 0, "data": data}


def accept_all(items: list[Any]) -> tuple[int, Any]:
    return ok({"accepted": [{"number": item["number"], "carrier": 190271} for item in items], "rejected": []})


def nothing_known(items: list[Any]) -> tuple[int, Any]:
    return ok({"accepted": [{"number": item["number"], "track_info": None} for item in items], "rejected": []})


def rejected(code: int, message: str = "refused") -> Answer:
    def answer(items: list[Any]) -> tuple[int, Any]:
        errors = [{"number": item["number"], "error": {"code": code, "message": message}} for item in items]
        return ok({"accepted": [], "rejected": errors})

    return answer


def track_info(
    number: str, *events: dict[str, Any], status: str = "InTransit", carrier: int = 190271
) -> dict[str, Any]:
    """A ``gettrackinfo`` accepted item with ``events`` (newest first)."""
    return {
        "number": number,
        "carrier": carrier,
        "track_info": {
            "latest_status": {"status": status, "sub_status": f"{status}_Other"},
            "tracking": {"providers": [{"provider": {"key": carrier, "name": "Cainiao"}, "events": list(events)}]},
        },
    }


def event(time_utc: Any, description: str = "Scanned", sub_status: str = "InTransit_Other") -> dict[str, Any]:
    return {"time_utc": time_utc, "description": description, "location": "SZ", "sub_status": sub_status}


class Scripted17:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {
            "register": accept_all,
            "gettrackinfo": nothing_known,
            "stoptrack": accept_all,
        }
        self.calls: list[tuple[str, list[Any]]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                items = json.loads(self.rfile.read(length) or b"[]")
                endpoint = self.path.rstrip("/").rsplit("/", 1)[-1]
                with owner.lock:
                    owner.calls.append((endpoint, items))
                    answer = owner.answers[endpoint]
                status, body = answer(items)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/track/v2.2"

    def called(self, endpoint: str) -> list[list[Any]]:
        with self.lock:
            return [items for name, items in self.calls if name == endpoint]


@pytest.fixture
def scripted17(settings: Any) -> Iterator[Scripted17]:
    scripted = Scripted17()
    thread = threading.Thread(target=scripted.server.serve_forever, daemon=True)
    thread.start()
    settings.TRACK17_API_URL = scripted.url
    settings.TRACK17_API_KEY = "scripted-key"
    settings.TRACK17_CALLS_PER_SECOND = 0
    try:
        yield scripted
    finally:
        scripted.server.shutdown()
        scripted.server.server_close()
