"""One merchant request is one dispute at CJ, and a dispute CJ has is never recorded Rejected by
us, with CJ as its docs leave it unconfirmed: the sandbox's ``dispute_keys`` "off" (a repeated
``businessDisputeId`` is a new dispute, the list echoes no key), so nothing here is saved by the
supplier's replay. Creates are counted at the sandbox (``dispute_create_calls``). Sandbox over real
HTTP, real PostgreSQL; a provider is wrapped only to stall or pace a call the way a slow worker or
our pacer would."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from integrations.errors import RateLimited
from orders.enums import RefundSend, RefundState
from orders.models import Refund
from suppliers.enums import SourceAccountStatus, SupplierProvider
from suppliers.models import SourceAccount
from suppliers.providers.base import RefundAsk, RefundInfo, Refusal, SupplierRefused
from suppliers.services.connection import provider_for
from suppliers.services.refund_send import refund_send, refunds_sync_due
from suppliers.services.refunds import refund_send_retry
from suppliers.tests.refunding import Shipped, ask, shipped_order, sim_refunds

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _send_by_hand(settings: Any) -> None:
    settings.REFUND_SEND_TASK = ""


def cj_without_keys(control: Any, **options: Any) -> Shipped:
    return shipped_order(control, SupplierProvider.CJ, dispute_keys="off", **options)


def creates(control: Any, shipped: Shipped) -> int:
    """``disputes/create`` calls that reached the sandbox for this CJ account."""
    return int(control.options(SupplierProvider.CJ, shipped.sim_name).get("dispute_create_calls", 0))


def _due_again(refund: Refund) -> None:
    Refund.objects.filter(pk=refund.pk).update(next_sync_at=None, claimed_until=None)


def real_provider(shipped: Shipped) -> Any:
    source = shipped.supplier_order.source_account
    assert source is not None
    return provider_for(source)


class Wrapped:
    """The real CJ provider; a subclass changes one call."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def refunds_get(self, external_id: str) -> list[RefundInfo]:
        return self.real.refunds_get(external_id)  # type: ignore[no-any-return]

    def refund_create(self, request: RefundAsk) -> RefundInfo:
        return self.real.refund_create(request)  # type: ignore[no-any-return]


def lost_answer_first_try(control: Any, shipped: Shipped, refund: Refund) -> None:
    """CJ makes the dispute, then answers "System busy": an unknown outcome, tried later."""
    control.options(SupplierProvider.CJ, shipped.sim_name, dispute_create_answer="busy")
    assert refund_send(refund_id=refund.pk) == "retry"
    control.options(SupplierProvider.CJ, shipped.sim_name, dispute_create_answer=None)
    assert (creates(control, shipped), len(sim_refunds(refund))) == (1, 1)
    refund.refresh_from_db()
    assert (refund.send_state, refund.create_sent_at is not None) == (RefundSend.PENDING, True)


def assert_one_dispute_ours(control: Any, shipped: Shipped, refund: Refund) -> None:
    refund.refresh_from_db()
    [at_cj] = sim_refunds(refund)
    assert (refund.send_state, refund.state) == (RefundSend.SENT, RefundState.IN_REVIEW), refund.send_error
    assert refund.external_id == str(9100000000 + at_cj.pk)
    assert creates(control, shipped) == 1


def test_an_answer_lost_after_cj_made_it_is_looked_up_not_asked_again(control: Any) -> None:
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    lost_answer_first_try(control, shipped, refund)
    _due_again(refund)
    assert refund_send(refund_id=refund.pk) == "sent"
    assert_one_dispute_ours(control, shipped, refund)


def test_retry_after_a_try_that_reached_cj_looks_it_up_and_never_records_it_rejected(control: Any) -> None:
    # given a first try whose create reached CJ, then the tries ran out (FAILED)
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    lost_answer_first_try(control, shipped, refund)
    Refund.objects.filter(pk=refund.pk).update(send_state=RefundSend.FAILED, claimed_until=None)
    # when the merchant uses Retry (its tries start over at 0)
    refund_send_retry(account=shipped.account, refund_id=refund.pk)
    # then the send looks the dispute up (CJ would say the line has an open dispute: ours)
    assert refund_send(refund_id=refund.pk) == "sent"
    assert_one_dispute_ours(control, shipped, refund)


class PacedAfterCreate(Wrapped):
    """Our pacer has no slot for the read-back once CJ took the create."""

    def refund_create(self, request: RefundAsk) -> RefundInfo:
        self.real.refund_create(request)
        raise RateLimited("CJdropshipping: no call slot for the read-back", retry_after=1)


def test_a_rate_limit_after_the_create_is_a_try_and_the_next_one_finds_the_dispute(control: Any) -> None:
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    assert refund_send(refund_id=refund.pk, provider=PacedAfterCreate(real_provider(shipped))) == "retry"  # type: ignore[arg-type]
    refund.refresh_from_db()
    assert (refund.send_state, refund.send_attempts) == (RefundSend.PENDING, 1)  # the try is not given back
    _due_again(refund)
    assert refund_send(refund_id=refund.pk) == "sent"
    assert_one_dispute_ours(control, shipped, refund)


class Lagging(Wrapped):
    """CJ's list does not show the dispute yet (it lags behind its create)."""

    def refunds_get(self, external_id: str) -> list[RefundInfo]:
        return []


def test_a_refusal_once_a_create_may_have_reached_cj_is_unknown_never_rejected(control: Any) -> None:
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    lost_answer_first_try(control, shipped, refund)
    _due_again(refund)
    # when the next try does not see it and CJ says the line cannot be chosen (our dispute is open)
    assert refund_send(refund_id=refund.pk, provider=Lagging(real_provider(shipped))) == "retry"  # type: ignore[arg-type]
    refund.refresh_from_db()
    assert (refund.send_state, refund.state, refund.rejection_reason) == (RefundSend.PENDING, RefundState.IN_REVIEW, "")
    assert "looked up again" in refund.send_error
    # then the try after finds it
    _due_again(refund)
    assert refund_send(refund_id=refund.pk) == "sent"
    assert_one_dispute_ours(control, shipped, refund)


class Stalled(Wrapped):
    """A worker held up right before its create (longer than its hold): the test goes on meanwhile."""

    def __init__(self, real: Any) -> None:
        super().__init__(real)
        self.started, self.go = threading.Event(), threading.Event()

    def refund_create(self, request: RefundAsk) -> RefundInfo:
        self.started.set()
        assert self.go.wait(60)
        return self.real.refund_create(request)


def test_a_stale_worker_never_overwrites_the_next_ones_result(control: Any) -> None:
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    stalled = Stalled(real_provider(shipped))
    outcome: list[str] = []

    def stale() -> None:
        try:
            outcome.append(refund_send(refund_id=refund.pk, provider=stalled))  # type: ignore[arg-type]
        finally:
            connection.close()

    worker = threading.Thread(target=stale)
    worker.start()
    assert stalled.started.wait(60)
    # given its hold ran out while it was stalled, and another worker sent the request
    Refund.objects.filter(pk=refund.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert refund_send(refund_id=refund.pk) == "sent"
    # when the stale worker goes on: CJ refuses its create (the line has an open dispute)
    stalled.go.set()
    worker.join(60)
    # then its result is dropped: still SENT, in review, one dispute
    assert outcome == ["skipped"]
    refund.refresh_from_db()
    assert len(sim_refunds(refund)) == 1
    assert (refund.send_state, refund.state) == (RefundSend.SENT, RefundState.IN_REVIEW)


def test_four_workers_at_once_make_one_dispute(control: Any) -> None:
    shipped = cj_without_keys(control)
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
    assert_one_dispute_ours(control, shipped, refund)


def test_a_failed_send_whose_create_may_have_reached_cj_is_followed_by_the_sync(control: Any) -> None:
    # given a first try whose create reached CJ, then a try that failed for good
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    lost_answer_first_try(control, shipped, refund)
    SourceAccount.objects.filter(pk=shipped.supplier_order.source_account_id).update(
        status=SourceAccountStatus.DISCONNECTED
    )
    _due_again(refund)
    assert refund_send(refund_id=refund.pk) == "failed"
    refund.refresh_from_db()
    assert (refund.send_state, refund.next_sync_at is not None) == (RefundSend.FAILED, True)
    # when the account is back and the sweep runs: the dispute is found and followed
    SourceAccount.objects.filter(pk=shipped.supplier_order.source_account_id).update(
        status=SourceAccountStatus.CONNECTED
    )
    assert refunds_sync_due(now=timezone.now() + timedelta(hours=1)) == 1
    assert_one_dispute_ours(control, shipped, refund)


class Odd(Wrapped):
    """A list entry none of our readers expected (what an odd answer or our own bug raises)."""

    def refund_create(self, request: RefundAsk) -> RefundInfo:
        raise KeyError("lineItemId")


def test_any_other_error_gives_the_claim_back_and_is_tried_later(control: Any, caplog: Any) -> None:
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    assert refund_send(refund_id=refund.pk, provider=Odd(real_provider(shipped))) == "retry"  # type: ignore[arg-type]
    refund.refresh_from_db()
    assert (refund.send_state, refund.claimed_until, refund.send_claim) == (RefundSend.PENDING, None, None)
    assert refund.next_sync_at is not None
    assert refund.send_error
    assert any(record.exc_info for record in caplog.records)  # logged with its traceback
    _due_again(refund)
    assert refund_send(refund_id=refund.pk) == "sent"
    assert_one_dispute_ours(control, shipped, refund)


def test_a_refund_whose_account_does_not_match_its_supplier_order_is_never_sent(
    control: Any, other_account: Any
) -> None:
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    Refund.objects.filter(pk=refund.pk).update(account=other_account)
    assert refund_send(refund_id=refund.pk) == "failed"
    refund.refresh_from_db()
    assert (refund.send_state, refund.state) == (RefundSend.FAILED, RefundState.IN_REVIEW)
    assert "support" in refund.send_error
    assert creates(control, shipped) == 0


def test_a_refund_on_a_disconnected_supplier_account_is_not_sent(control: Any) -> None:
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    SourceAccount.objects.filter(pk=shipped.supplier_order.source_account_id).update(
        status=SourceAccountStatus.REPLACED
    )
    assert refund_send(refund_id=refund.pk) == "failed"
    refund.refresh_from_db()
    assert (refund.send_state, refund.next_sync_at) == (RefundSend.FAILED, None)  # nothing sent: nothing to follow
    assert creates(control, shipped) == 0


class ParamError(Wrapped):
    """CJ's 1600101 on the create, as the CJ provider reads it (test_cj_disputes: request_error)."""

    def refund_create(self, request: RefundAsk) -> RefundInfo:
        raise SupplierRefused(
            Refusal(code="1600101", message="CJ refused the refund request: Param error", request_error=True)
        )


def test_a_parameter_error_is_failed_for_support_never_rejected(control: Any) -> None:
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    assert refund_send(refund_id=refund.pk, provider=ParamError(real_provider(shipped))) == "failed"  # type: ignore[arg-type]
    refund.refresh_from_db()
    assert (refund.send_state, refund.state, refund.rejection_reason) == (RefundSend.FAILED, RefundState.IN_REVIEW, "")
    assert "support" in refund.send_error


class SlowLookup(Wrapped):
    """A lookup that ate most of the hold (the database clock says what is left)."""

    def refunds_get(self, external_id: str) -> list[RefundInfo]:
        infos = self.real.refunds_get(external_id)
        Refund.objects.filter(supplier_order__external_order_id=external_id).update(
            claimed_until=timezone.now() + timedelta(minutes=1)
        )
        return infos  # type: ignore[no-any-return]


def test_no_create_is_sent_with_too_little_of_the_hold_left(control: Any) -> None:
    shipped = cj_without_keys(control)
    refund = ask(shipped)
    assert refund_send(refund_id=refund.pk, provider=SlowLookup(real_provider(shipped))) == "retry"  # type: ignore[arg-type]
    refund.refresh_from_db()
    assert (refund.send_state, refund.create_sent_at, refund.claimed_until) == (RefundSend.PENDING, None, None)
    assert creates(control, shipped) == 0
    _due_again(refund)
    assert refund_send(refund_id=refund.pk) == "sent"
    assert_one_dispute_ours(control, shipped, refund)
