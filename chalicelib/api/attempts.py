"""A request's attempts: each runs the handler and commits its work with the idempotency record
in one unit of work; one that lost a race is tried again from fresh state.

* **An attempt** (:func:`_attempt`) answers a keyed request from its record when there is one
  (a replay; before the handler runs at all for an ``external`` operation, and before a handler
  commits work of its own in units apart: :meth:`UnitOfWork.before_own_work`, which costs a read
  only then), commits the handler's writes with a new record, and remembers a business refusal
  (409, 422) under its key.
* **The retry on conflict** (:func:`run`): an attempt that lost a race on a version or a counter
  (:class:`ConcurrentUpdate`) is tried again after a jittered pause, queued behind this process's
  other contenders for the same member or record (:mod:`.contention`). Each attempt is measured
  (:func:`chalicelib.shared.deadline.measured`), and another is made only while the request's
  deadline holds one as slow as the slowest step this request has taken
  (:func:`chalicelib.shared.deadline.room_for`, as a spend in steps does); else it answers 503
  ``busy`` with ``Retry-After``, and the retry under the same key makes the change once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from chalicelib.api.contention import queued
from chalicelib.api.idempotency import IdempotencyRecord, replay
from chalicelib.api.operation import Call, Operation
from chalicelib.api.signing import SignatureItem, SignatureReused
from chalicelib.db.uow import ClaimTaken, UnitOfWork
from chalicelib.shared import clock, deadline
from chalicelib.shared.errors import Busy, ConcurrentUpdate, Problem
from chalicelib.shared.retry import Contention

REMEMBERED_REFUSALS = (409, 422)
PAUSE_CAP = 8            # the jittered pause between attempts grows to at most 2**8 ms
ATTEMPTS_AHEAD = 1       # another attempt only while the deadline holds one as slow as the slowest step


def run(op: Operation, handler: Callable[[Call], Any], principal, params, body, query, headers,
        correlation_id: str, key: str | None, fp: str, instance: str = "",
        signature: SignatureItem | None = None) -> tuple[int, Any, bool]:
    """The handler's answer (status, body, replayed), tried again after each lost race while the
    request's deadline has room for another attempt; else 503 ``busy`` (see the module)."""
    contention, lost = Contention(None, first=0.001, cap=PAUSE_CAP), None
    with ExitStack() as turn:
        while True:
            if lost is not None and not deadline.room_for(ATTEMPTS_AHEAD, 0):    # (after its turn came)
                raise Busy(str(lost), retry_after=1)
            call = Call(op, principal, params, body, query, headers, correlation_id)
            try:
                with deadline.measured():
                    return _attempt(op, handler, call, key, fp, instance, signature)
            except ConcurrentUpdate as contended:
                # Lost a race on a version or a counter: retry from fresh state after a jittered
                # pause (let the winner finish), queued behind this process's other contenders,
                # while the deadline has room for another attempt; else ask the caller to retry (503).
                def queue(losses: int, program: str = call.uow.program,
                          record: str | None = contended.record) -> None:
                    if losses == 1:     # the member (all its records); else the record raced for, or the path
                        turn.enter_context(queued(f"{program}/{params.get('member_id') or record or instance}"))
                if not contention.lost(queue):
                    raise Busy(str(contended), retry_after=1) from None
                lost = contended


class _Answered(Exception):
    """A keyed request found to be a replay as its handler was about to commit work of its own."""

    def __init__(self, reply: tuple[int, Any]) -> None:
        super().__init__("a replay: answered from its record")
        self.reply = reply


def _answer_if_replayed(uow: UnitOfWork, scope: str, key: str, fp: str) -> None:
    """:meth:`UnitOfWork.before_own_work` of a keyed request: a replay is answered (raises)."""
    if (record := IdempotencyRecord.find(uow, scope, key)) is not None:
        raise _Answered(replay(record, fp))


def _attempt(op: Operation, handler: Callable[[Call], Any], call: Call, key: str | None, fp: str,
             instance: str, signature: SignatureItem | None) -> tuple[int, Any, bool]:
    scope = call.principal.scope if call.principal else "public"
    try:
        if key and op.external and (record := IdempotencyRecord.find(call.uow, scope, key)) is not None:
            return _replayed(op, call.uow, *replay(record, fp))     # never post or send twice
        if key:
            call.uow.replay_check = lambda: _answer_if_replayed(call.uow, scope, key, fp)
        if signature is not None:       # a write records its signature with its change: good once
            call.uow.save(signature, signature.unused(),
                          on_conflict=lambda: SignatureReused("this signature was used already"))
        with clock.in_program(call.uow.program):      # its calendar rules use its time zone
            payload = handler(call)
        status = call.status or op.status
        kept = op.secret[0](payload) if op.secret else payload
        claim = IdempotencyRecord.claim(scope, key, fp, status, kept, op.personal) if key else None
        call.uow.commit(claim)
        return status, payload, False
    except _Answered as answered:
        return _replayed(op, call.uow, *answered.reply)
    except ClaimTaken:
        return _replay(op, call.uow, scope, key, fp)
    except ConcurrentUpdate:
        raise
    except Problem as problem:
        if not key:
            raise
        # A keyed request that fails on today's state may be the retry of one that succeeded.
        if (record := IdempotencyRecord.find(call.uow, scope, key)) is not None:
            return _replayed(op, call.uow, *replay(record, fp))
        # Otherwise remember a business refusal (409, 422): the same key keeps getting the same
        # answer. Not 403 / 404: who may see what is not the request's outcome, and a refused
        # caller must leave nothing behind in a tenancy it may not touch.
        if problem.status not in REMEMBERED_REFUSALS or not problem.remembered:
            raise
        refusal = IdempotencyRecord.claim(scope, key, fp, problem.status, problem.body(instance))
        if not call.uow.put(refusal, IdempotencyRecord.pk.does_not_exist()):
            return _replay(op, call.uow, scope, key, fp)
        raise


def _replay(op: Operation, uow: UnitOfWork, scope: str, key: str | None, fp: str) -> tuple[int, Any, bool]:
    record = IdempotencyRecord.find(uow, scope, key or "")
    if record is None:  # claim existed at commit but not now: its TTL passed in between
        raise ConcurrentUpdate("retry the request")
    return _replayed(op, uow, *replay(record, fp))


def _replayed(op: Operation, uow: UnitOfWork, status: int, body: Any) -> tuple[int, Any, bool]:
    """A stored answer, with the credential its record left out derived again."""
    if op.secret and status < 300:
        body = op.secret[1](uow, body)
    return status, body, True
