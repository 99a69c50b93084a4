"""Request faults rendered in each provider's own shape: one decorator every provider view wears.

    FAULTS = FaultShape(server_error=..., rate_limited=...)

    @with_faults(Provider.SHOPIFY, FAULTS)
    def orders_list(request, ...): ...

Per request ``sandbox.faults.fault_for(provider)`` picks at most one fault:
- ``http_5xx``: ``shape.server_error(request, status)`` with status 502 or 503 (a seeded coin);
- ``http_429``: ``shape.rate_limited(request)`` (a 429 carrying the provider's Retry-After);
- ``timeout``: stall ``faults.TIMEOUT_STALL_SECONDS``, then answer normally (the client gave up);
- ``malformed``: the normal answer with its body cut in half and status 200.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from sandbox import faults

View = Callable[..., HttpResponse]


@dataclass(frozen=True)
class FaultShape:
    server_error: Callable[[HttpRequest, int], HttpResponse]
    rate_limited: Callable[[HttpRequest], HttpResponse]


def response_truncated(response: HttpResponse) -> HttpResponse:
    """The same response with half its body: JSON that no parser accepts."""
    content = response.content
    truncated = HttpResponse(content[: max(1, len(content) // 2)], status=200)
    for header, value in response.items():
        if header.lower() != "content-length":
            truncated[header] = value
    return truncated


def fault_response(
    provider: str, shape: FaultShape, request: HttpRequest, view: Callable[[], HttpResponse]
) -> HttpResponse:
    """Answer ``request`` through ``view`` unless a fault is drawn for ``provider``."""
    fault = faults.fault_for(provider)
    if fault == "http_5xx":
        return shape.server_error(request, 502 if faults.draw(0.5) else 503)
    if fault == "http_429":
        return shape.rate_limited(request)
    if fault == "timeout":
        time.sleep(faults.TIMEOUT_STALL_SECONDS)  # the simulated server is slow; the client times out
    response = view()
    if fault == "malformed":
        return response_truncated(response)
    return response


def with_faults(provider: str, shape: FaultShape) -> Callable[[View], View]:
    """Decorate a provider view so it renders the provider's faults (see the module docstring)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return fault_response(provider, shape, request, lambda: view(request, *args, **kwargs))

        return wrapped

    return decorate
