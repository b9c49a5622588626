"""Declaring an operation: route, callers, validation, idempotency and errors in one place.

Every route of the API is declared with :func:`endpoint`. The declaration is also the route table
that the OpenAPI document and the authorisation test walk, so the three cannot drift apart.

A handler takes a :class:`Call` (who, what, where to stage writes) and returns the response
body. It stages its writes on ``call.uow``; the wrapper commits them in one transaction together
with the idempotency record and the domain events.
"""

from __future__ import annotations

import importlib
import json
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api import auth, refusals
from chalicelib.api.contention import queued
from chalicelib.api.gateway import concrete_path, correlation_id_of
from chalicelib.api.idempotency import IdempotencyRecord, fingerprint, replay, validate_key
from chalicelib.api.signing import SignatureItem, SignatureReused
from chalicelib.db import audit
from chalicelib.db.backend import Throttled, Unavailable
from chalicelib.db.uow import ClaimTaken, UnitOfWork
from chalicelib.shared import aws, clock, deadline
from chalicelib.shared.config import settings
from chalicelib.shared.errors import (
    Busy,
    ConcurrentUpdate,
    MalformedRequest,
    OverCapacity,
    Problem,
    RequestTooLarge,
    ValidationProblem,
)
from chalicelib.shared.observability import count, logger
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.shared.retry import Contention

MAX_BODY = 256 * 1024
RETRIES_ON_CONFLICT = 8        # a request that lost this many races answers 503 + Retry-After
RETRY_AFTER_THROTTLED = 2      # seconds a caller waits after a refusal for capacity (DynamoDB's throttling)
RETRY_AFTER_UNANSWERED = 1     # ... after DynamoDB did not answer (timeouts, connection failures)
MAX_JSON_DEPTH = 32
REMEMBERED_REFUSALS = (409, 422)
PROBLEM_JSON = "application/problem+json"


@dataclass
class Operation:
    """The declaration of one API operation."""

    operation_id: str
    method: str
    path: str
    summary: str
    allow: tuple[auth.Allow, ...]        # empty: public
    # the request's models, or "module:Model" (imported by the first request that needs it, so a
    # cold start does not build the classes of every route's models)
    body: type[BaseModel] | str | None = None
    query: type[BaseModel] | str | None = None
    # what a 2xx answers: the model, "module:Model" or a function that builds it (imported or built
    # only for the document, so a cold start does not pay for the reply models of every route)
    response: type[BaseModel] | str | Callable[[], type[BaseModel]] | None = None
    status: int = 200
    idempotent: bool = False
    tags: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()
    personal: bool = False             # the reply holds personal data: its idempotency record is short-lived
    produces: str | None = None        # a reply that is a file of this media type (FileReply), not JSON
    # a reply holding a credential: the idempotency record keeps ``secret[0](reply)`` (it left
    # out), and a replay answers ``secret[1](uow, kept)`` (it derived again)
    secret: tuple[Callable[[Any], Any], Callable[[UnitOfWork, Any], Any]] | None = None
    # path parameters with a closed set of values, listed by the document (computed when it is built)
    path_values: dict[str, Callable[[], list[str]]] | None = None
    # the handler acts outside its unit of work (posts to a URL, sends to a queue): a retry with
    # the same key is answered from its record before the handler runs again
    external: bool = False
    audit_refusals: bool = False         # a 403/404/409/422 of an authenticated caller is audited (api/refusals.py)

    def body_model(self) -> type[BaseModel] | None:
        """The request body's model (imported now if declared by reference)."""
        return model_of(self.body)

    def query_model(self) -> type[BaseModel] | None:
        """The query's model (imported now if declared by reference)."""
        return model_of(self.query)

    @property
    def public(self) -> bool:
        """Whether the operation needs no credentials."""
        return not self.allow


REGISTRY: list[Operation] = []
SOURCE = ":source"      # the request's source address among its headers (no header name has a ':')


def model_of(ref: type[BaseModel] | str | None) -> type[BaseModel] | None:
    """A model declared as the class or as ``"module:Model"``."""
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class FileReply:
    """A reply that is a file (a one-time download of secrets): sent as it is, never cached, and
    never stored for a replay (only operations without an Idempotency-Key may return one)."""

    body: str
    filename: str
    content_type: str = "text/csv; charset=utf-8"


@dataclass
class Call:
    """One request as a handler sees it."""

    operation: Operation
    principal: auth.Principal | None
    params: dict[str, str]
    body: Any
    query: Any
    headers: dict[str, str]
    correlation_id: str
    uow: UnitOfWork = field(init=False)
    status: int | None = None          # a handler may override the declared status

    def __post_init__(self) -> None:
        # The caller's program scopes every key the request reads or writes.
        program = self.principal.program_id if self.principal else DEFAULT_PROGRAM
        self.uow = UnitOfWork(self.actor, self.correlation_id, program=program,
                              idempotency_key=self.idempotency_key)

    def enter_program(self, program: str) -> None:
        """Act in ``program`` (public operations whose credential names it, e.g. a refresh token)."""
        if self.uow.pending:
            raise RuntimeError("the unit of work has staged changes")
        self.uow = UnitOfWork(self.actor, self.correlation_id, program=program,
                              idempotency_key=self.idempotency_key)
        clock.enter(program)

    @property
    def caller(self) -> auth.Principal:
        """The authenticated caller (every operation that is not public has one)."""
        if self.principal is None:
            raise TypeError(f"{self.operation.operation_id} is public: it has no caller")
        return self.principal

    @property
    def source(self) -> str:
        """Where the request came from (API Gateway's source address; the local server's)."""
        return self.headers.get(SOURCE, "-")

    @property
    def idempotency_key(self) -> str | None:
        """The request's Idempotency-Key (recorded on postings for the audit trail)."""
        return self.headers.get("idempotency-key")

    @property
    def actor(self) -> str | None:
        """How the caller is named in events and audits (None for public operations)."""
        return self.principal.ref if self.principal else None


def endpoint(bp: Blueprint, path: str, method: str, operation_id: str, *, summary: str,
             allow: tuple[auth.Allow, ...] | list[auth.Allow], body: type[BaseModel] | str | None = None,
             query: type[BaseModel] | str | None = None,
             response: type[BaseModel] | str | Callable[[], type[BaseModel]] | None = None,
             status: int = 200, idempotent: bool | None = None, tags: tuple[str, ...] = (),
             errors: tuple[int, ...] = (), personal: bool = False, produces: str | None = None,
             secret: tuple[Callable[[Any], Any], Callable[[UnitOfWork, Any], Any]] | None = None,
             path_values: dict[str, Callable[[], list[str]]] | None = None, external: bool = False,
             reads: bool | None = None, audit_refusals: bool = False) -> Callable:
    """Register ``handler(call) -> body`` as an operation on ``bp``.

    A read (a GET, or ``reads=True`` for a lookup sent as a POST) also admits the read-only staff
    roles wherever it admits staff (:func:`auth.with_readers`)."""
    if method.upper() == "GET" if reads is None else reads:
        allow = auth.with_readers(allow)
    op = Operation(operation_id, method.upper(), path, summary, tuple(allow), body, query, response,
                   status, method.upper() != "GET" if idempotent is None else idempotent, tags, errors, personal,
                   produces, secret, path_values, external, audit_refusals)
    if produces and op.idempotent:
        raise ValueError(f"{operation_id}: a file reply would be stored in an idempotency record")
    REGISTRY.append(op)

    def register(handler: Callable[[Call], Any]) -> Callable:
        def view(**params: str) -> Response:
            with deadline.within(_seconds_to_work(bp)):
                return _handle(bp, op, handler, params)
        view.__name__ = handler.__name__
        view.__doc__ = handler.__doc__
        bp.route(path, methods=[op.method], content_types=["application/json"])(view)
        return handler
    return register


def _seconds_to_work(bp: Blueprint) -> float:
    """How long this request may go on retrying (:mod:`chalicelib.shared.deadline`): the Lambda's
    remaining time, less the longest one more AWS call can take, and never past the budget."""
    try:
        context = bp.lambda_context
    except RuntimeError:            # not registered on an app (a test calling a view alone)
        context = None
    remaining = context.get_remaining_time_in_millis() if context is not None else None
    return deadline.request_budget(remaining, settings().request_budget_seconds, aws.worst_call_seconds())


def problem_response(problem: Problem, instance: str | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    """An RFC 9457 problem+json response."""
    return Response(json.dumps(problem.body(instance), ensure_ascii=False), status_code=problem.status,
                    headers={"Content-Type": PROBLEM_JSON, **(headers or {})})


def _json_response(status: int, body: Any, headers: dict[str, str]) -> Response:
    text = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    kind = PROBLEM_JSON if status >= 400 else "application/json"      # a replayed refusal is still a problem
    return Response(text, status_code=status, headers={"Content-Type": kind, **headers})


def _raw_body(request) -> bytes:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY:
        raise RequestTooLarge(f"request bodies are limited to {MAX_BODY} bytes")
    return raw


def _parse(model: type[BaseModel] | None, data: Any, where: str) -> Any:
    if model is None:
        return data
    try:
        return model.model_validate(data)
    except ValidationError as error:
        details = [{"field": ".".join(str(p) for p in e["loc"]) or where, "message": e["msg"]}
                   for e in error.errors(include_url=False)]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        raise ValidationProblem(f"invalid {where}: {summary}", errors=details) from None


def source_of(context: dict[str, Any] | None) -> str:
    """The request's source address (API Gateway's ``sourceIp``), at most 64 characters, with
    anything in it that looks like a credential masked: it names a failed login's actor and its
    lock, and the audit log refuses an actor that looks like a credential (that answered 500 where
    something in front of the gateway sent, say, ``Bearer <token>`` as the address)."""
    return audit.redact(str(((context or {}).get("identity") or {}).get("sourceIp") or "-")[:64])


# A caller's X-Correlation-Id is echoed, logged with every line and stored in events: only a plain
# token is taken; anything else (4,000 characters, control characters, markup) gets a new id.
def _handle(bp: Blueprint, op: Operation, handler: Callable[[Call], Any], params: dict[str, str]) -> Response:
    request = bp.current_request
    # Path values decoded (a client sends an order id "POS:1" as "POS%3A1"; neither API Gateway's
    # REST API nor chalice local decodes them), and the path built from them the same way under
    # both: the path a merchant signs is the decoded one (docs/integrators/signing.md).
    params = {name: unquote(value) for name, value in params.items()}
    real_path = concrete_path(request.path, params)
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    headers[SOURCE] = source_of(request.context)
    correlation_id = correlation_id_of(headers, (request.context or {}).get("requestId"))
    logger.set_correlation_id(correlation_id)
    logger.append_keys(operation=op.operation_id)
    response_headers = {"X-Correlation-Id": correlation_id}
    started = time.perf_counter()
    who = None                                     # the caller, once known (even if not admitted)
    try:
        raw = _raw_body(request)
        query_params = _query(request.query_params)
        principal = signature = None
        if not op.public:
            who = auth.authenticate(headers, op.method, real_path, query_params, raw)
            principal = auth.check(who, op.allow)
            signature = SignatureItem.of(headers) if principal.kind == "merchant" else None
            if signature is not None and not op.idempotent:       # a read: its signature is good once
                _use_signature(UnitOfWork(program=principal.program_id), signature)
                signature = None                                  # (a write records it with its change)
        data = _json(raw) if op.body is not None else None
        body = _parse(op.body_model(), data, "body")
        query = _parse(op.query_model(), query_params, "query") if op.query else query_params
        key = validate_key(headers.get("idempotency-key")) if op.idempotent else None
        result = _run(op, handler, principal, params, body, query, headers, correlation_id,
                      key, fingerprint(op.method, real_path, data) if key else "", real_path, signature)
        status, payload, replayed = result
        if replayed:
            response_headers["Idempotent-Replayed"] = "true"
        count("Requests")
        if isinstance(payload, FileReply):
            return Response(payload.body, status_code=status, headers={
                "Content-Type": payload.content_type, "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="{payload.filename}"', **response_headers})
        return _json_response(status, payload, response_headers)
    except Problem as problem:
        if op.audit_refusals and who is not None:
            refusals.record(op.operation_id, real_path, who, problem)
        return _refused(problem, real_path, response_headers)
    except (Throttled, Unavailable) as error:       # the database did not do the work, or may not have
        return _refused(_unfinished(error), real_path, response_headers)
    except Exception:  # the one place an unexpected error becomes a 500
        logger.error("unhandled error", extra={"trace": traceback.format_exc(limit=20)})
        count("ServerErrors")
        failure = Problem("the server failed to handle the request; it is safe to retry with the same Idempotency-Key")
        failure.status, failure.slug, failure.title = 500, "internal-error", "Internal error"
        return problem_response(failure, real_path, response_headers)
    finally:
        logger.info("request", extra={"method": op.method, "ms": round((time.perf_counter() - started) * 1000, 1)})
        logger.remove_keys(["operation"])


def _unfinished(error: Throttled | Unavailable) -> Problem:
    """The 503 of a request the database refused for capacity (nothing was written) or did not
    answer (botocore's timeouts and connection failures: a write may have been applied). Either
    way the same Idempotency-Key sent again answers the first outcome or makes the change once."""
    if isinstance(error, Throttled):
        logger.warning("throttled", extra={"error": str(error)[:500]})
        count("Throttles")
        return OverCapacity("the service is over its capacity for a moment and changed nothing; retry with the "
                            "same Idempotency-Key", retry_after=RETRY_AFTER_THROTTLED)
    logger.warning("database unavailable", extra={"error": str(error)[:500]})
    count("DatabaseUnavailable")
    return Busy("the database did not answer in time; a change may or may not have been made: retry with the "
                "same Idempotency-Key, which answers the first outcome or makes the change once",
                retry_after=RETRY_AFTER_UNANSWERED)


def _refused(problem: Problem, instance: str, headers: dict[str, str]) -> Response:
    """A problem's answer; a 503 (and a 423 or 429 that knows) says when to retry (``Retry-After``)."""
    logger.info("request refused", extra={"status": problem.status, "problem": problem.slug})
    count("ClientErrors")
    if problem.status == 503 or (problem.status in (423, 429) and "retry_after" in problem.extensions):
        headers["Retry-After"] = str(problem.extensions.get("retry_after", 1))
    return problem_response(problem, instance, headers)


def _query(params: Any) -> dict[str, str]:
    """The query parameters; one given twice is refused (a signature covers each key once)."""
    if not params:
        return {}
    twice = sorted(k for k in params if len(params.getlist(k)) > 1) if hasattr(params, "getlist") else []
    if twice:
        raise MalformedRequest(f"query parameter {twice[0][:64]} is given more than once")
    return dict(params)


def _use_signature(uow: UnitOfWork, signature: SignatureItem) -> None:
    if not uow.put(signature, signature.unused()):
        raise SignatureReused("this signature was used already: sign every request anew")


def _json(raw: bytes) -> Any:
    if not raw:
        raise MalformedRequest("this operation needs a JSON body")
    try:
        data = json.loads(raw)
    except RecursionError:
        raise MalformedRequest(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedRequest(f"body is not valid JSON: {error}") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise MalformedRequest(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _depth(data: Any) -> int:
    """How deeply arrays and objects nest (iteratively: no recursion to exhaust)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def _run(op: Operation, handler: Callable[[Call], Any], principal, params, body, query, headers,
         correlation_id: str, key: str | None, fp: str, instance: str = "",
         signature: SignatureItem | None = None) -> tuple[int, Any, bool]:
    contention = Contention(RETRIES_ON_CONFLICT, first=0.001, cap=RETRIES_ON_CONFLICT)
    with ExitStack() as turn:
        while True:
            call = Call(op, principal, params, body, query, headers, correlation_id)
            try:
                return _attempt(op, handler, call, key, fp, instance, signature)
            except ConcurrentUpdate as contended:
                # Lost a race on a version or a counter: retry from fresh state after a jittered
                # pause (let the winner finish), queued behind this process's other contenders;
                # past the last try, ask the caller to retry later (503).
                def queue(losses: int, program: str = call.uow.program,
                          record: str | None = contended.record) -> None:
                    if losses == 1:     # the member (all its records); else the record raced for, or the path
                        turn.enter_context(queued(f"{program}/{params.get('member_id') or record or instance}"))
                if not contention.lost(queue):
                    raise Busy(str(contended), retry_after=1) from None


def _attempt(op: Operation, handler: Callable[[Call], Any], call: Call, key: str | None, fp: str,
             instance: str, signature: SignatureItem | None) -> tuple[int, Any, bool]:
    scope = call.principal.scope if call.principal else "public"
    try:
        if key and op.external and (record := IdempotencyRecord.find(call.uow, scope, key)) is not None:
            return _replayed(op, call.uow, *replay(record, fp))     # never post or send twice
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
