"""What an operation is: its declaration (:class:`Operation`, the :data:`REGISTRY` every route is
in), and one request as its handler sees it (:class:`Call`).

:func:`chalicelib.api.endpoint.endpoint` declares each operation; the OpenAPI document
(:mod:`chalicelib.api.openapi`) and the authorisation tests walk the same registry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from chalicelib.api import auth
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.principal import DEFAULT_PROGRAM


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
    # the handler acts outside its unit of work (posts to a URL, sends to a queue, audits a refusal
    # in a write of its own): a retry with the same key is answered from its record before the
    # handler runs again (a handler that commits work of its own only on some paths, a points spend
    # or checkout's saga, calls ``uow.before_own_work()`` there instead: a read only then)
    external: bool = False
    audit_refusals: bool = False         # a 403/404/409/422 of an authenticated caller is audited (api/refusals.py)
    also: tuple[int, ...] = ()           # other 2xx the handler may answer (``call.status``), with the same reply

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

