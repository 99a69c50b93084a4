"""A readable ``make run`` terminal: the simulated world's routine traffic is not logged.

Under the dev profile with the sandbox on, beat sends ``sandbox.*`` jobs every few seconds and
the sandbox posts webhooks to us and answers our workers' calls; at INFO each of those is a line
or three (beat's "Sending due task", the worker's "received" and "succeeded", runserver's request
line), which buried everything else. This filter drops exactly those records when they went
well; anything else (our own tasks, a failed sandbox job, a 4xx/5xx answer) is still logged.
"""

from __future__ import annotations

import logging
import re

# The loggers that write those lines (a logger's own filters see the records it creates).
ROUTINE_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace", "django.server")
_SANDBOX_TASK = re.compile(r"\bsandbox[.-]")
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
        return _SANDBOX_TASK.search(message) is None


def quiet_sandbox_logs() -> None:
    quiet = QuietSandbox()
    for name in ROUTINE_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
