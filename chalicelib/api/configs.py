"""The two operations every piece of versioned configuration has: save a new version (``PUT``)
and read the one in force, now or at ``?at=``, with the list of versions (``GET``)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, Field, create_model

from chalicelib.api import auth
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared.types import Instant, Reply, Strict


class AtQuery(Strict):
    at: Instant | None = Field(None, description="the version in force at this instant (default: now)")


class ConfigVersion(Reply):
    version: int = Field(description="the version number: one more for each version saved")
    effective_from: str = Field(description="when the version comes into force (ISO 8601, UTC)")


def _replies(put_id: str, get_id: str, field: str, model: type[BaseModel]) -> tuple[Any, Any]:
    """The reply models of the two operations, built when the document is (not at a cold start)."""
    def saved() -> type[BaseModel]:
        fields: dict[str, Any] = {
            "version": (int, Field(description="the version saved")),
            "effective_from": (str, Field(description="when it comes into force (ISO 8601, UTC)")),
            field: (model, Field(description="the configuration as saved"))}
        return create_model(f"{put_id[3:]}Saved", __base__=Reply, __doc__="The version saved.", **fields)

    def in_force() -> type[BaseModel]:
        fields: dict[str, Any] = {
            "version": (int, Field(description="the version in force (0: none saved, the defaults)")),
            "versions": (list[ConfigVersion], Field(description="every version saved, with its start")),
            field: (model, Field(description="the configuration in force"))}
        return create_model(f"{get_id[3:]}InForce", __base__=Reply,
                            __doc__="The version in force and the list of versions.", **fields)
    return saved, in_force


def config_endpoints(bp: Blueprint, path: str, config: VersionedConfig[Any], field: str, model: type[BaseModel], *,
                     put_id: str, get_id: str, noun: str, tags: tuple[str, ...],
                     put_allow: tuple[auth.Allow, ...], get_allow: tuple[auth.Allow, ...],
                     exclude_none: bool = False) -> None:
    """Register ``put_id`` and ``get_id`` on ``bp`` for ``config``, its body named ``field``."""
    fields: dict[str, Any] = {field: (model, ...),
                              "effective_from": (Instant | None, Field(None, description="default: now"))}
    body = create_model(f"Put{put_id[3:]}", __base__=Strict, **fields)

    def put(call: Call) -> dict[str, Any]:
        return config.saved(call.uow, getattr(call.body, field), call.body.effective_from, call.caller, field,
                            exclude_none)

    def get(call: Call) -> dict[str, Any]:
        return config.shown(call.uow, call.query.at, field, exclude_none)

    put.__name__, get.__name__ = put_id, get_id
    saved, in_force = _replies(put_id, get_id, field, model)
    endpoint(bp, path, "PUT", put_id, tags=tags, status=201, summary=f"Save a new version of {noun}",
             allow=put_allow, body=body, response=saved)(put)
    endpoint(bp, path, "GET", get_id, tags=tags, summary=f"{noun[0].upper()}{noun[1:]} in force (now, or at ?at=) "
             "and the list of versions", allow=get_allow, query=AtQuery, response=in_force)(get)
