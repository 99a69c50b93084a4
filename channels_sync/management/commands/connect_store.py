"""Connect a store from the command line, through the same service as the stores page.

``connect_store --account <name> --channel shopify --name "My shop" --base-url <url> --credentials '<json>'``
prints JSON with the store's ``id`` and ``webhook_url``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from channels_sync.services import ConnectError, store_connect
from orders.enums import Channel


class Command(BaseCommand):
    help = "Connect a sales-channel store (checks the credentials live; subscribes webhooks where possible)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--account", required=True, help="account name")
        parser.add_argument("--channel", required=True, choices=Channel.values)
        parser.add_argument("--name", required=True, help="store name in the order center")
        parser.add_argument("--base-url", default="", help="shop URL / site URL / API host")
        parser.add_argument("--domain", default="", help="shop domain (default: from the URL)")
        parser.add_argument("--credentials", required=True, help="JSON object of the channel's credential keys")

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(name=options["account"]).first()
        if account is None:
            raise CommandError(f"no account named {options['account']!r}")
        try:
            credentials = json.loads(options["credentials"])
        except json.JSONDecodeError as error:
            raise CommandError(f"--credentials is not JSON: {error}") from error
        if not isinstance(credentials, dict) or not all(isinstance(v, str) for v in credentials.values()):
            raise CommandError("--credentials must be a JSON object of strings")
        try:
            result = store_connect(
                account=account,
                channel=options["channel"],
                name=options["name"],
                base_url=options["base_url"],
                domain=options["domain"],
                credentials=credentials,
            )
        except ConnectError as error:
            raise CommandError(str(error)) from error
        store = result.store
        self.stdout.write(
            json.dumps(
                {
                    "id": store.pk,
                    "public_id": str(store.public_id),
                    "channel": store.channel,
                    "name": store.name,
                    "identity": result.identity,
                    "webhook_url": result.webhook_url,
                    "webhook_topics": result.webhook_topics,
                }
            )
        )
