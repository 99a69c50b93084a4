"""Outbound supplier attempts kept for support (``SupplierAttempt``), and the account's health.

``SupplierAttemptLog`` is the ``integrations.http.AttemptRecorder`` a supplier client is given
(``connection.provider_for``): each attempt is one row, and the account's ``last_call_at`` and
``last_error`` (what the suppliers page shows) follow the last one. Clients are called outside
transactions holding locks (STYLE.md), so the rows are written at once, in a savepoint when a
transaction is open; a failed write is logged and the call goes on. Rows older than
``PROVIDER_ATTEMPT_RETENTION`` (the channel attempts' retention) are pruned daily by beat.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from integrations.http import Attempt, sanitize
from suppliers.enums import SourceAccountStatus
from suppliers.models import SourceAccount, SupplierAttempt

logger = logging.getLogger(__name__)

ERROR_LENGTH = 500


class SupplierAttemptLog:
    """Records the attempts of one supplier account (``source_account_id`` None: before the
    account exists, e.g. the code exchange of a connect).

    ``buffered``: the rows wait for ``flush()`` (one INSERT and one account update for a run of
    calls, e.g. a bulk placement's chunk, whose caller flushes in a ``finally``)."""

    def __init__(self, *, source_account_id: int | None, provider: str, buffered: bool = False) -> None:
        self.source_account_id = source_account_id
        self.provider = provider
        self.buffered = buffered
        self.waiting: list[SupplierAttempt] = []
        self.last_error: str | None = None  # of the last attempt waiting ("" when it succeeded)

    def __call__(self, attempt: Attempt) -> None:
        failed = attempt.error or attempt.status is None or attempt.status >= 400
        self.waiting.append(
            SupplierAttempt(
                source_account_id=self.source_account_id,
                provider=self.provider[:16],
                method=attempt.method[:8],
                path=attempt.path[:500],
                status=attempt.status,
                duration_ms=max(0, round(attempt.duration * 1000)),
                error=attempt.error,
                created_at=timezone.now(),
            )
        )
        self.last_error = sanitize(attempt.error or f"HTTP {attempt.status}", ERROR_LENGTH) if failed else ""
        if not self.buffered:
            self.flush()

    def flush(self) -> None:
        """Write the waiting rows, and the account's last call and error, in a savepoint."""
        if not self.waiting:
            return
        rows, self.waiting = self.waiting, []
        try:
            with transaction.atomic():
                SupplierAttempt.objects.bulk_create(rows)
                if self.source_account_id is not None:
                    # An account moved to "reconnect" keeps the reason it was moved for.
                    SourceAccount.objects.filter(pk=self.source_account_id).update(
                        last_call_at=rows[-1].created_at,
                        last_error=Case(
                            When(status=SourceAccountStatus.RECONNECT, then=F("last_error")),
                            default=Value(self.last_error or ""),
                        ),
                    )
        except DatabaseError:
            logger.warning("%s supplier attempts not recorded (%s)", len(rows), self.provider, exc_info=True)


def supplier_attempts_prune(*, older_than: timedelta, now: datetime | None = None, chunk: int = 5_000) -> int:
    """Delete attempts older than ``older_than`` in chunks (short transactions); how many went."""
    cutoff = (now or timezone.now()) - older_than
    deleted = 0
    while True:
        ids = list(SupplierAttempt.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:chunk])
        if not ids:
            return deleted
        count, _ = SupplierAttempt.objects.filter(pk__in=ids).delete()
        deleted += count
