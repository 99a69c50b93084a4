"""``manage.py rotate_secrets``: re-encrypt every stored secret with the newest key.

Key rotation (docs/operations.md, "Key rotation"): put a new key first in
``FIELD_ENCRYPTION_KEY`` (``new,old``), restart, run this, then drop the old key. Every model
that stores secrets lists its encrypted fields in a ``SECRET_FIELDS`` class attribute; this
command finds them through the app registry, so a model added later (supplier accounts) is
covered the day it declares them.

Rows are read in primary-key batches, each batch under row locks in its own transaction, so a
concurrent write (a reconnect setting a new token) is neither lost nor overwritten with an old
value. Idempotent: a secret already under the newest key is left as it is, so a second run
writes nothing. A secret no configured key can read is reported and the command exits non-zero
(do not drop the old key then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction

from integrations.crypto import SecretUnreadable, reencrypt


@dataclass
class Tally:
    rows: int = 0
    reencrypted: int = 0
    current: int = 0
    unreadable: list[str] = field(default_factory=list)


def secret_models() -> list[tuple[type[models.Model], tuple[str, ...]]]:
    """Every installed model with a ``SECRET_FIELDS`` attribute, and those fields, by label."""
    found = []
    for model in apps.get_models():
        fields = tuple(getattr(model, "SECRET_FIELDS", ()))
        if fields:
            found.append((model, fields))
    return sorted(found, key=lambda item: item[0]._meta.label)


def rotate_model(model: type[models.Model], fields: tuple[str, ...], *, batch_size: int) -> Tally:
    tally = Tally()
    manager = model._default_manager
    last_pk: Any = None
    while True:
        with transaction.atomic():
            rows = manager.select_for_update().order_by("pk")
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            batch = list(rows.values_list("pk", *fields)[:batch_size])
            for pk, *tokens in batch:
                changes = {}
                for name, token in zip(fields, tokens, strict=True):
                    if not token:
                        continue
                    try:
                        rotated = reencrypt(token)
                    except SecretUnreadable:
                        tally.unreadable.append(f"{model._meta.label} pk={pk} {name}")
                        continue
                    if rotated is None:
                        tally.current += 1
                    else:
                        changes[name] = rotated
                        tally.reencrypted += 1
                if changes:  # update(): rotation is not a change of the row (no updated_at, no signals)
                    manager.filter(pk=pk).update(**changes)
        tally.rows += len(batch)
        if len(batch) < batch_size:
            return tally
        last_pk = batch[-1][0]


class Command(BaseCommand):
    help = "Re-encrypt every stored secret (models' SECRET_FIELDS) with the first key of FIELD_ENCRYPTION_KEY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows locked and rewritten per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        unreadable: list[str] = []
        for model, fields in secret_models():
            tally = rotate_model(model, fields, batch_size=batch_size)
            unreadable += tally.unreadable
            self.stdout.write(
                f"{model._meta.label}: {tally.rows} rows, {tally.reencrypted} secrets re-encrypted, "
                f"{tally.current} already under the newest key, {len(tally.unreadable)} unreadable"
            )
        if unreadable:
            raise CommandError(
                "These secrets cannot be read with any key in FIELD_ENCRYPTION_KEY; keep the old keys until they "
                "are fixed (reconnect the store): " + ", ".join(unreadable)
            )
        self.stdout.write(self.style.SUCCESS("Every stored secret is under the newest key: older keys can be dropped."))
