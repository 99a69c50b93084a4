"""A readable ``make run`` terminal: the simulated world's routine traffic is not logged.

Under the dev profile with the sandbox on, beat sends ``sandbox.*`` jobs every few seconds and
the sandbox posts webhooks to us and answers our workers' calls; at INFO each of those is a line
or three (beat's "Sending due task", the worker's "received" and "succeeded", runserver's request
line), which buried everything else. This filter drops exactly those records when they went
well; anything else (our own tasks, a failed sandbox job, a 4xx/5xx answer) is still logged.

Our own beat dispatchers that run every minute or so (the supplier reconciliation, sync, rules,
token refresh, the tracking registration and poll, the push sweep, …) are quiet too while they
find nothing to do: their "Sending due task" and "received" lines are dropped, and their
"succeeded" line only when it answered 0 or nothing. A dispatcher that queued work says so, and
the tasks it queued are logged as ever.
"""

from __future__ import annotations

import logging
import re

# The loggers that write those lines (a logger's own filters see the records it creates).
ROUTINE_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace", "django.server")
_SANDBOX_TASK = re.compile(r"\bsandbox[.-]")
# Beat schedule entries and task names of those dispatchers.
_HOUSEKEEPING = (
    "suppliers.refresh_due_tokens",
    "suppliers.reconcile_in_flight",
    "suppliers.run_auto_order_rules",
    "suppliers.sync_due_supplier_orders",
    "suppliers.requeue_pending_messages",
    "suppliers.requeue_placement_results",
    "suppliers.sweep_channel_cancels",
    "suppliers.sync_due_refunds",
    "suppliers.flag_refund_overdue",
    "channels_sync.refresh_due_tokens",
    "channels_sync.fulfillment_pushes_due",
    "tracking.register_due",
    "tracking.poll_due",
    "tracking.requeue_tracking_messages",
)
_HOUSEKEEPING_TASK = re.compile(r"\b(?:" + "|".join(re.escape(name) for name in _HOUSEKEEPING) + r")\b")
_NOTHING_DONE = re.compile(r"succeeded in [\d.]+s: (?:0|\[\]|None|\{\})$")
_REQUEST = re.compile(r'"[A-Z]+ (/sandbox/|/webhooks/)\S* HTTP/[\d.]+" (\d{3})')


class QuietSandbox(logging.Filter):
    """Drops INFO records of routine sandbox traffic that went well (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        if record.name == "django.server":
            request = _REQUEST.search(message)
            return request is None or int(request.group(2)) >= 400
        if _SANDBOX_TASK.search(message) is not None:
            return False
        if _HOUSEKEEPING_TASK.search(message) is not None:
            return record.name == "celery.app.trace" and _NOTHING_DONE.search(message) is None
        return True


def quiet_sandbox_logs() -> None:
    quiet = QuietSandbox()
    for name in ROUTINE_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
