"""Check (and with --repair, rebuild) the stored tab counts against the orders themselves.

The counters are kept exact by the services; this is the operator's proof and repair tool
after a manual database change. Exit status 1 when drift was found and not repaired.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from orders.services.counts import order_counts_from_rows, order_counts_rebuild, order_counts_stored


class Command(BaseCommand):
    help = "Compare OrderCount with a real count per account; --repair rebuilds drifted accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="Only this account (by name).")
        parser.add_argument("--repair", action="store_true", help="Rebuild the counts of drifted accounts.")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = Account.objects.order_by("name")
        if options["account"]:
            accounts = accounts.filter(name=options["account"])
            if not accounts.exists():
                raise CommandError(f"No account named {options['account']!r}.")
        drifted = []
        for account in accounts:
            stored = order_counts_stored(account=account)
            actual = {key: n for key, n in order_counts_from_rows(account=account).items() if n}
            if stored == actual:
                continue
            differences = [
                {"key": list(key), "stored": stored.get(key, 0), "actual": actual.get(key, 0)}
                for key in sorted(set(stored) | set(actual))
                if stored.get(key, 0) != actual.get(key, 0)
            ]
            if options["repair"]:
                order_counts_rebuild(account=account)
            drifted.append({"account": account.name, "differences": differences, "repaired": options["repair"]})
        self.stdout.write(json.dumps({"accounts_checked": accounts.count(), "drifted": drifted}, indent=2))
        if drifted and not options["repair"]:
            raise SystemExit(1)
