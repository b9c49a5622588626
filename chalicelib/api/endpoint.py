"""Declaring an operation: route, callers, validation, idempotency and errors in one place.

Every route of the API is declared with :func:`endpoint`. The declaration is also the route table
(:data:`chalicelib.api.operation.REGISTRY`) that the OpenAPI document and the authorisation test
walk, so the three cannot drift apart.

A handler takes a :class:`Call` (who, what, where to stage writes) and returns the response
body. It stages its writes on ``call.uow``; the wrapper commits them in one transaction together
with the idempotency record and the domain events (:mod:`.attempts`, which also retries a
request that lost a race). Here a request is received (read: :mod:`.parsing`; its caller
authenticated and admitted: :mod:`.auth`) and answered: its reply, or its problem as
problem+json.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response
from pydantic import BaseModel

from chalicelib.api import attempts, auth, parsing, refusals
from chalicelib.api.gateway import concrete_path, correlation_id_of
from chalicelib.api.idempotency import fingerprint, validate_key
from chalicelib.api.operation import REGISTRY, SOURCE, Call, FileReply, Operation
from chalicelib.api.signing import SignatureItem, SignatureReused
from chalicelib.db import audit
from chalicelib.db.backend import Throttled, Unavailable
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import aws, deadline
from chalicelib.shared.config import settings
from chalicelib.shared.errors import Busy, NotJson, OverCapacity, Problem
from chalicelib.shared.observability import count, logger

__all__ = ["Call", "endpoint"]      # Call (api/operation.py): every routes module takes it from here

RETRY_AFTER_THROTTLED = 2      # seconds a caller waits after a refusal for capacity (DynamoDB's throttling)
RETRY_AFTER_UNANSWERED = 1     # ... after DynamoDB did not answer (timeouts, connection failures)
PROBLEM_JSON = "application/problem+json"


def endpoint(bp: Blueprint, path: str, method: str, operation_id: str, *, summary: str,
             allow: tuple[auth.Allow, ...] | list[auth.Allow], body: type[BaseModel] | str | None = None,
             query: type[BaseModel] | str | None = None,
             response: type[BaseModel] | str | Callable[[], type[BaseModel]] | None = None,
             status: int = 200, idempotent: bool | None = None, tags: tuple[str, ...] = (),
             errors: tuple[int, ...] = (), personal: bool = False, produces: str | None = None,
             secret: tuple[Callable[[Any], Any], Callable[[UnitOfWork, Any], Any]] | None = None,
             path_values: dict[str, Callable[[], list[str]]] | None = None, external: bool = False,
             reads: bool | None = None, audit_refusals: bool = False, also: tuple[int, ...] = ()) -> Callable:
    """Register ``handler(call) -> body`` as an operation on ``bp``.

    A read (a GET, or ``reads=True`` for a lookup sent as a POST) also admits the read-only staff
    roles wherever it admits staff (:func:`auth.with_readers`)."""
    if method.upper() == "GET" if reads is None else reads:
        allow = auth.with_readers(allow)
    op = Operation(operation_id, method.upper(), path, summary, tuple(allow), body, query, response,
                   status, method.upper() != "GET" if idempotent is None else idempotent, tags, errors, personal,
                   produces, secret, path_values, external, audit_refusals, also)
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
        raw = parsing.raw_body(request)
        query_params = parsing.query_of(request.query_params)
        principal = signature = None
        if not op.public:
            who = auth.authenticate(headers, op.method, real_path, query_params, raw)
            principal = auth.check(who, op.allow)
            signature = SignatureItem.of(headers) if principal.kind == "merchant" else None
            if signature is not None and not op.idempotent:       # a read: its signature is good once
                _use_signature(UnitOfWork(program=principal.program_id), signature)
                signature = None                                  # (a write records it with its change)
        if raw and op.body is not None and not headers.get("content-type"):
            raise NotJson("send the body as Content-Type: application/json")
        data = parsing.json_body(raw) if op.body is not None else None
        body = parsing.parse(op.body_model(), data, "body")
        query = parsing.parse(op.query_model(), query_params, "query") if op.query else query_params
        key = validate_key(headers.get("idempotency-key")) if op.idempotent else None
        result = attempts.run(op, handler, principal, params, body, query, headers, correlation_id,
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


def _use_signature(uow: UnitOfWork, signature: SignatureItem) -> None:
    if not uow.put(signature, signature.unused()):
        raise SignatureReused("this signature was used already: sign every request anew")

