"""A refund request is one refund at the supplier, whatever happens to our side: two workers
sending at once, an answer lost after the supplier made it, tries used up and started over.
Sandbox over real HTTP, real PostgreSQL (the claim is one conditional UPDATE on its clock).
An answer lost after the supplier made it, a rate limit after the create, a stale worker and Retry
after a try that reached the supplier: test_refund_never_twice_cj.py, on CJ without its key replay
(here the sandbox replays a repeated key, so a count of its refunds alone could not fail)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from orders.enums import RefundSend, RefundState
from orders.models import Refund
from suppliers.enums import SupplierProvider
from suppliers.services.refund_send import SEND_TRIES, refund_send
from suppliers.services.refunds import refund_send_retry
from suppliers.tests.refunding import ask, shipped_order, sim_refunds

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

API_SUPPLIERS = [SupplierProvider.CJ, SupplierProvider.TEMU]


@pytest.fixture(autouse=True)
def _send_by_hand(settings: Any) -> None:
    settings.REFUND_SEND_TASK = ""


def _due_again(refund: Refund) -> None:
    """The backoff has passed (beat's sweep would queue the send now)."""
    Refund.objects.filter(pk=refund.pk).update(next_sync_at=None, claimed_until=None)


@pytest.mark.parametrize("provider", API_SUPPLIERS)
def test_two_workers_sending_at_once_make_one_refund_at_the_supplier(control: Any, provider: str) -> None:
    shipped = shipped_order(control, provider)
    refund = ask(shipped)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def send() -> None:
        start.wait()
        try:
            outcomes.append(refund_send(refund_id=refund.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["sent", "skipped", "skipped", "skipped"], outcomes
    refund.refresh_from_db()
    assert (refund.send_state, refund.send_attempts) == (RefundSend.SENT, 1)
    assert len(sim_refunds(refund)) == 1


def test_tries_used_up_fail_with_the_reason_and_retry_starts_over(control: Any) -> None:
    shipped = shipped_order(control, SupplierProvider.CJ)
    refund = ask(shipped)
    control.faults({"cj": {"http_5xx": 1.0}})
    outcomes = []
    for _ in range(SEND_TRIES):
        outcomes.append(refund_send(refund_id=refund.pk))
        if outcomes[-1] == "retry":
            _due_again(refund)
    assert outcomes == ["retry"] * (SEND_TRIES - 1) + ["failed"]
    refund.refresh_from_db()
    assert refund.send_state == RefundSend.FAILED
    assert f"after {SEND_TRIES} tries" in refund.send_error
    assert refund_send(refund_id=refund.pk) == "skipped"  # not sent again on its own

    control.faults({"cj": {}})
    refund_send_retry(account=shipped.account, refund_id=refund.pk)
    assert refund_send(refund_id=refund.pk) == "sent"
    refund.refresh_from_db()
    assert (refund.send_state, refund.state, refund.send_error) == (RefundSend.SENT, RefundState.IN_REVIEW, "")
    assert len(sim_refunds(refund)) == 1


def test_another_accounts_refund_is_not_started_over(control: Any, other_account: Any) -> None:
    shipped = shipped_order(control, SupplierProvider.TEMU)
    refund = ask(shipped)
    Refund.objects.filter(pk=refund.pk).update(send_state=RefundSend.FAILED)
    with pytest.raises(Refund.DoesNotExist):
        refund_send_retry(account=other_account, refund_id=refund.pk)
    assert Refund.objects.get(pk=refund.pk).send_state == RefundSend.FAILED
