"""The mutants ``make mutation`` plants: realistic one-line bugs in money code.

mutmut's own set, less the operators that mostly make noise here (a string's text, ``a = None``,
a call with an argument dropped or set to None, ``dict(aXX=...)``): the text of a message or a
key is checked by the crash it causes or is not money at all, and a dropped argument is mostly a
crash too. Added: a branch that is never taken (a dropped guard), ``min`` for ``max`` and back, and
the opposite rounding direction."""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst
from mutmut.mutation import mutators as M

_ROUNDING = {"ROUND_FLOOR": "ROUND_CEILING", "ROUND_CEILING": "ROUND_FLOOR",
             "ROUND_HALF_UP": "ROUND_HALF_EVEN", "ROUND_HALF_EVEN": "ROUND_HALF_UP",
             "ROUND_DOWN": "ROUND_UP", "ROUND_UP": "ROUND_DOWN"}


def never_taken(node: cst.If) -> Iterable[cst.If]:
    """``if guard:`` → ``if False:``: a guard dropped, a branch forgotten."""
    if not (isinstance(node.test, cst.Name) and node.test.value == "False"):
        yield node.with_changes(test=cst.Name("False"))


def min_max(node: cst.Call) -> Iterable[cst.Call]:
    """``min(...)`` ↔ ``max(...)``: a cap that becomes a floor."""
    if isinstance(node.func, cst.Name) and node.func.value in ("min", "max"):
        yield node.with_changes(func=cst.Name("max" if node.func.value == "min" else "min"))


def rounding(node: cst.Name) -> Iterable[cst.Name]:
    """A rounding direction turned around (floor ↔ ceiling, half up ↔ half even)."""
    if node.value in _ROUNDING:
        yield node.with_changes(value=_ROUNDING[node.value])


DROPPED = {M.operator_string, M.operator_assignment, M.operator_dict_arguments, M.operator_arg_removal}

OPERATORS = [(t, op) for t, op in M.mutation_operators if op not in DROPPED] + [
    (cst.If, never_taken), (cst.Call, min_max), (cst.Name, rounding)]
