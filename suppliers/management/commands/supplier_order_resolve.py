"""Support's by-hand reconciliation of a supplier order whose outcome the supplier would not say.

    manage.py supplier_order_resolve <id> --found <supplier order id> [--paid]   # it is there
    manage.py supplier_order_resolve <id> --not-made                           # it is not there

See docs/suppliers.md, "Never twice (for support)".
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from suppliers.models import SupplierOrder
from suppliers.services.payment import supplier_order_resolve_by_hand


class Command(BaseCommand):
    help = "Record what support found in the supplier's order list for a supplier order in flight."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("supplier_order_id", type=int)
        found = parser.add_mutually_exclusive_group(required=True)
        found.add_argument(
            "--found", metavar="SUPPLIER_ORDER_ID", help="the supplier's order id, as its order list shows it"
        )
        found.add_argument("--not-made", action="store_true", help="the supplier has no order under this key")
        parser.add_argument("--paid", action="store_true", help="the supplier's order list shows it paid")
        parser.add_argument("--note", default="", help="what support saw (kept in the order's history)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["not_made"] and options["paid"]:
            raise CommandError("--paid goes with --found")
        found = str(options["found"] or "").strip()
        if found and (len(found) > 64 or not found.replace(",", "").isalnum()):
            raise CommandError("--found takes the supplier's order id (letters and digits, at most 64)")
        try:
            result = supplier_order_resolve_by_hand(
                supplier_order_id=options["supplier_order_id"],
                external_order_id=found,
                paid=options["paid"],
                note=options["note"][:300],
            )
        except SupplierOrder.DoesNotExist:
            raise CommandError(f"no supplier order {options['supplier_order_id']}") from None
        self.stdout.write(f"{result.outcome}: {result.message}".strip())
