"""The cycle collector at a cold start. Loading the app builds some 50,000 objects that live as
long as the process, and Python's collector walks them again and again while they load: about a
tenth of a cold start's CPU, for almost nothing to collect (a handful of objects). ``app.py``
loads with the collector off and then freezes what it loaded (``gc.freeze``: later collections
leave it out); the first HTTP request, which loads the modules of the capability it uses, does the
same. Only that request runs without collections, and the API's requests are short (API
Gateway's limit is 29 s); jobs and stream batches always run with the collector on."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

_first = [True]


def loaded() -> None:
    """The app is loaded: keep what it built out of every later collection, and collect again."""
    gc.freeze()
    gc.enable()


def first_request(event: Any, get_response: Callable[[Any], Any]) -> Any:  # noqa: ANN401
    """Chalice ``http`` middleware: the first request runs without collections, then what it
    loaded is frozen like the app's modules."""
    if not _first[0]:
        return get_response(event)
    _first[0] = False
    gc.disable()
    try:
        return get_response(event)
    finally:
        loaded()
