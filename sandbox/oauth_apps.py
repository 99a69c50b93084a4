"""The sandbox's own apps: the operator apps the dev profile's settings name (``SHOPIFY_CLIENT_ID`` /
``SHOPIFY_CLIENT_SECRET``, ``TIKTOK_APP_KEY`` / ``TIKTOK_APP_SECRET``), registered as ``SimApp`` rows
so the simulated approval pages and token endpoints know them, with the order center's
address (``SITE_URL``) as the redirect URIs registered. ``make run`` (``sandbox_seed``) and
tests call ``dev_apps_ensure()``; an app already registered keeps its options; its secret and
addresses follow the settings.
"""

from __future__ import annotations

from django.conf import settings

from sandbox.enums import Provider
from sandbox.models import SimApp


def _apps_from_settings() -> list[tuple[str, str, str]]:
    """(provider, client id, secret) of each operator app the settings configure."""
    return [
        (Provider.SHOPIFY, settings.SHOPIFY_CLIENT_ID, settings.SHOPIFY_CLIENT_SECRET),
        (Provider.TIKTOK, settings.TIKTOK_APP_KEY, settings.TIKTOK_APP_SECRET),
        (Provider.ALIEXPRESS, settings.ALIEXPRESS_APP_KEY, settings.ALIEXPRESS_APP_SECRET),
    ]


def dev_apps_ensure(**options: object) -> list[SimApp]:
    """A ``SimApp`` for each configured operator app (those with an id and a secret). ``options``
    (e.g. ``token_lifetime=300``) are merged into each app's options."""
    apps = []
    for provider, client_id, secret in _apps_from_settings():
        if not client_id or not secret:
            continue
        redirect_uris = [f"{settings.SITE_URL}/"]  # the order center's own pages only
        app, _ = SimApp.objects.get_or_create(
            provider=provider,
            client_id=client_id,
            defaults={"client_secret": secret, "name": "Zopi order center (dev)", "redirect_uris": redirect_uris},
        )
        wanted = {**app.options, **options}
        if (app.client_secret, app.redirect_uris, app.options) != (secret, redirect_uris, wanted):
            app.client_secret, app.redirect_uris, app.options = secret, redirect_uris, wanted
            app.save(update_fields=["client_secret", "redirect_uris", "options"])
        apps.append(app)
    return apps
