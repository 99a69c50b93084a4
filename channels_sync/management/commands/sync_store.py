"""Pull one store now, in the foreground, with a progress bar: ``sync_store <store id> [--since ISO]``."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from channels_sync.models import Store
from channels_sync.services import store_pull
from channels_sync.services.pull import PullResult

BAR_WIDTH = 30


def _since(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"not an ISO date-time with a time zone: {value!r}")
    return parsed


class Command(BaseCommand):
    help = "Pull a store's orders now (as beat would), showing progress."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("store_id", type=int)
        parser.add_argument("--since", type=_since, help="ISO date-time, e.g. 2026-11-01T00:00:00Z (default: cursor)")

    def handle(self, *args: Any, **options: Any) -> None:
        store = Store.objects.filter(pk=options["store_id"]).first()
        if store is None:
            raise CommandError(f"no store with id {options['store_id']}")
        self.stdout.write(f"Pulling {store} …")
        spinner = "|/-\\"

        def progress(result: PullResult) -> None:
            filled = result.pages % (BAR_WIDTH + 1)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stdout.write(
                f"\r[{bar}] {spinner[result.pages % 4]} page {result.pages}, {result.orders} orders "
                f"({result.created} new, {result.updated} updated)",
                ending="",
            )
            self.stdout.flush()

        result = store_pull(store_id=store.pk, since=options["since"], progress=progress)
        self.stdout.write("")
        if result.skipped:
            raise CommandError(f"{store} is paused, disconnected or being pulled by another worker")
        if result.error:
            raise CommandError(f"pull failed after {result.orders} orders: {result.error}")
        self.stdout.write(
            self.style.SUCCESS(
                f"[{'#' * BAR_WIDTH}] done: {result.pages} pages, {result.orders} orders "
                f"({result.created} new, {result.updated} updated); cursor {result.cursor}"
            )
        )
