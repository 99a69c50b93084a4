"""Simulated 17TRACK Tracking API v2.2 over the sandbox carrier network, with TRACKING_UPDATED pushes."""

from __future__ import annotations

import secrets

from django.http import HttpRequest
from django.urls import reverse

from sandbox.enums import Provider
from sandbox.providers.track17.render import push_tracking_updated
from sandbox.registry import ProviderSpec, register
from sandbox.sim import carriers


def make_credentials(name: str) -> dict[str, str]:
    return {"token": secrets.token_hex(16).upper()}


def base_url(request: HttpRequest, name: str) -> str:
    return request.build_absolute_uri(reverse("track17-register")[: -len("/register")])


if push_tracking_updated not in carriers.PARCEL_LISTENERS:
    carriers.PARCEL_LISTENERS.append(push_tracking_updated)
SPEC = register(ProviderSpec(provider=Provider.TRACK17, make_credentials=make_credentials, base_url=base_url))
