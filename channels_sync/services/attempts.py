"""Outbound attempts kept for support: the recorder a provider client is given (pruned by
``maintenance.attempts_prune``)."""

from __future__ import annotations

import logging

from django.db import DatabaseError, transaction

from channels_sync.models import ProviderAttempt
from integrations.http import Attempt

logger = logging.getLogger(__name__)


class AttemptLog:
    """An ``integrations.http.AttemptRecorder`` writing ``ProviderAttempt`` rows for one store.

    Clients are called outside transactions that hold locks (STYLE.md), so the row is written at
    once, in its own savepoint when a transaction is open (a failed write cannot abort the
    caller's). A failed write is logged and the call goes on. A pull fetches its pages in a
    helper thread, which closes its database connection when it ends (``prefetch.prefetched``).
    """

    def __init__(self, *, store_id: int | None) -> None:
        self.store_id = store_id

    def __call__(self, attempt: Attempt) -> None:
        try:
            with transaction.atomic():
                ProviderAttempt.objects.create(
                    store_id=self.store_id,
                    provider=attempt.provider[:32],
                    method=attempt.method[:8],
                    path=attempt.path[:500],
                    status=attempt.status,
                    duration_ms=max(0, round(attempt.duration * 1000)),
                    error=attempt.error,
                )
        except DatabaseError:
            logger.warning("provider attempt not recorded: %s", attempt.as_dict(), exc_info=True)
