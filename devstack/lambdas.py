"""Calling the app's Lambda handlers in-process, the way the Lambda runtime would."""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from typing import Any


class LambdaContext:
    """The attributes of the runtime's context object that Powertools and Chalice read."""

    def __init__(self, function_name: str, timeout_s: int = 60, memory_mb: int = 512) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def handler_for(handler_string: str) -> Callable[[dict[str, Any], Any], Any]:
    """``module.attr`` -> the callable Lambda would invoke."""
    module_name, _, attr = handler_string.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def invoke(handler_string: str, name: str, event: dict[str, Any], kind: str, timeout_s: int = 60) -> Any:
    """Run a handler as Lambda would, with ``timeout_s`` (its template's), calling AWS as its role
    ``kind`` (:mod:`devstack.access`)."""
    from devstack.access import acting_as
    with acting_as(kind):
        return handler_for(handler_string)(event, LambdaContext(name, timeout_s))


def answer_as(app: Any, kind: str = "api") -> None:
    """Make every request the local API server hands ``app`` run as the role ``kind``, as the
    deployed API function does. Chalice's local server already swaps the app's class for one of
    its own (``create_local_server``); this swaps in a subclass of that."""
    from devstack.access import acting_as
    served = type(app)

    class AsRole(served):  # type: ignore[valid-type, misc]
        def __call__(self, event: dict[str, Any], context: Any) -> Any:
            with acting_as(kind):
                return super().__call__(event, context)
    app.__class__ = AsRole
