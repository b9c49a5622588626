"""Programs in the keys: every item of a program is stored under ``<program>/<partition key>``.

Services and repositories work with logical keys (``MEMBER#01J...``); the unit of work, opened for
one program, puts the program in front of every partition key it writes, reads or queries, and
takes it off what it reads. Nothing opened for one program can name another program's item, so
isolation does not depend on each service remembering a check: a member id from another program
is simply not found (404), and existence is never disclosed.

Not prefixed: item classes marked ``platform`` (programs, API keys, job runs). The partitions of
scheduled work (``DUE#...``) are the program's too (``<program>/DUE#<kind>#<shard>``: one
program's flash of earns never shares a partition with another's, #24 item 6): a job run reads
them program by program (:mod:`chalicelib.db.due`), and a due item read that way is
:func:`localised <localise>` to learn its program before it is changed.
"""

from __future__ import annotations

from typing import Any

from chalicelib.shared.principal import PROGRAM_ID

SEPARATOR = "/"
GLOBAL_PREFIXES: tuple[str, ...] = ()      # partitions shared by every program (none since #24 item 6)
INDEX_KEYS = ("gsi1pk", "duepk", "k1pk")   # index partition keys that belong to the item's program


def is_global(partition: str) -> bool:
    """Whether a partition key is shared by every program."""
    return partition.startswith(GLOBAL_PREFIXES)


def physical(program: str, partition: str) -> str:
    """The stored form of a program's partition key."""
    if is_global(partition):
        return partition
    return f"{program}{SEPARATOR}{partition}"


def split(stored: str) -> tuple[str | None, str]:
    """``(program, logical key)`` of a stored partition key (program None: not a program's key)."""
    head, sep, rest = stored.partition(SEPARATOR)
    if sep and PROGRAM_ID.match(head):
        return head, rest
    return None, stored


def scoped(item: Any) -> bool:
    """Whether an item is stored per program."""
    return not getattr(type(item), "platform", False)


def to_physical(program: str, item: Any) -> list[tuple[str, str]]:
    """Put ``program`` in front of the item's partition keys, in place; returns what to undo."""
    undo = []
    for name in ("pk", *INDEX_KEYS):
        value = getattr(item, name, None)
        if value and not is_global(value) and split(value)[0] != program:
            undo.append((name, value))
            setattr(item, name, physical(program, value))
    return undo


def restore(item: Any, undo: list[tuple[str, str]]) -> None:
    """Undo :func:`to_physical`."""
    for name, value in undo:
        setattr(item, name, value)


def localise(item: Any) -> str | None:
    """Take the program off an item read with physical keys, in place; returns the program."""
    program = None
    for name in ("pk", *INDEX_KEYS):
        value = getattr(item, name, None)
        if value:
            owner, logical = split(value)
            if owner is not None:
                program = program or owner
                setattr(item, name, logical)
    return program
