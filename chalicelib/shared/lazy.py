"""Modules imported when first used: a route module names its capability's service this way, so
the API function imports, at a cold start, the routes and schemas of every capability but the
services of none; the first request to a capability imports its own.

    if TYPE_CHECKING:
        from chalicelib.points import service
    else:
        service = lazy.module("chalicelib.points.service")

Thread-safe: the import system's module locks serialise a first use from several threads.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class LazyModule:
    """Stands for a module until an attribute is asked for; each attribute is then the module's."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name}>"


def module(name: str) -> Any:
    """``name``, imported on the first use of one of its attributes."""
    return LazyModule(name)


class Hook(Generic[T]):
    """What a lower layer asks of a higher one (the API's key lookup, earning's tier source): set
    by the provider when it is imported (:meth:`use`), or named by module (:meth:`provided_by`)
    and imported the first time it is asked for, so that laziness never leaves it unset."""

    def __init__(self) -> None:
        self._value: list[T] = []
        self._module: list[str] = []

    def use(self, value: T) -> None:
        """Set the provider (its module does, when imported)."""
        self._value[:] = [value]

    def provided_by(self, module: str) -> None:
        """Name the module that sets the provider when imported."""
        self._module[:] = [module]

    def get(self) -> T | None:
        """The provider (its module imported first if named), or None if there is none."""
        if not self._value and self._module:
            importlib.import_module(self._module[0])
        return self._value[0] if self._value else None


class Modules:
    """Modules named now and imported on first need (those that register jobs, or stream
    subscribers): :meth:`load` imports them once; naming more makes the next load import those."""

    def __init__(self) -> None:
        self._names: list[str] = []
        self._loaded = 0
        self._lock = threading.Lock()

    def add(self, *names: str) -> None:
        """Name modules to import on the next :meth:`load`."""
        with self._lock:
            self._names.extend(n for n in names if n not in self._names)

    def load(self) -> None:
        """Import every named module not imported yet (cheap once all are)."""
        if self._loaded == len(self._names):
            return
        with self._lock:
            for name in self._names[self._loaded:]:
                importlib.import_module(name)
            self._loaded = len(self._names)
