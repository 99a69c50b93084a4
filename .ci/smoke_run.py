"""Smoke test of a running `make run`: log in as demo / demo and check every tab has orders.

Usage: python .ci/smoke_run.py http://127.0.0.1:8765
Exits non-zero with the reason on the first failed check.
"""

from __future__ import annotations

import re
import sys
from typing import NoReturn
from urllib.parse import urljoin

import requests

TABS = ("new", "payment", "shipment", "canceled", "refund", "archive")
TAB_COUNT = re.compile(r'data-tab="([a-z_]+)"\s+data-count="(\d+)"')


def say(message: str) -> None:
    sys.stdout.write(f"smoke: {message}\n")
    sys.stdout.flush()


def fail(message: str) -> NoReturn:
    sys.stderr.write(f"smoke: FAIL: {message}\n")
    sys.exit(1)


def main(base_url: str) -> None:
    session = requests.Session()
    login_url = urljoin(base_url, "/accounts/login/")

    page = session.get(login_url, timeout=30)
    if page.status_code != 200:
        fail(f"GET {login_url} answered {page.status_code}")
    token = session.cookies.get("csrftoken")
    if not token:
        fail("the login page set no csrftoken cookie")

    response = session.post(
        login_url,
        data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": token, "next": "/orders/"},
        headers={"Referer": login_url},
        timeout=30,
    )
    if response.status_code != 200 or not response.url.rstrip("/").endswith("/orders"):
        fail(f"login as demo / demo ended at {response.url} with {response.status_code}")
    say(f"logged in as demo, landed on {response.url}")

    center = session.get(urljoin(base_url, "/orders/"), timeout=30)
    if center.status_code != 200:
        fail(f"GET /orders/ answered {center.status_code}")
    counts = {tab: int(n) for tab, n in TAB_COUNT.findall(center.text)}
    say(f"tab counts {counts}")
    missing = [tab for tab in TABS if tab not in counts]
    if missing:
        fail(f"tabs missing from /orders/: {missing}")
    empty = [tab for tab in TABS if counts[tab] <= 0]
    if empty:
        fail(f"tabs with no orders after seed_demo: {empty}")

    health = session.get(urljoin(base_url, "/healthz"), timeout=30)
    if health.status_code != 200:
        fail(f"GET /healthz answered {health.status_code}")
    sandbox = session.get(urljoin(base_url, "/sandbox/"), timeout=30)
    if sandbox.status_code != 200 or "demo-shopify" not in sandbox.text:
        fail(f"GET /sandbox/ answered {sandbox.status_code} without the demo shop")
    say("login, order center, /healthz and the sandbox status page OK")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: smoke_run.py BASE_URL")
    main(sys.argv[1])
