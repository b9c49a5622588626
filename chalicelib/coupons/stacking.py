"""Several coupons on one cart, with no I/O: the order a combination is applied in, each coupon's
saving after the ones before, and the best combination under the stacking rules (an exclusive
coupon alone; joint coupons at most ``group_max`` per group; different groups combine).

A combination is applied in a fixed order (:func:`application_order`): the gift first (a free
item is not spend), then the amount coupons (amount_off, threshold, no_threshold, third_party),
then the percentage coupons, then free shipping and parking; within each, the coupon relying on
the higher threshold first (so it is checked against the most money), then the order given. At
most :data:`MAX_CANDIDATES` coupons are searched (those saving most alone); the rest are
``too_many``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from chalicelib.coupons.domain import ORDER, Cart, Saving, applies_to, eligible_lines, saving, yuan
from chalicelib.coupons.terms import Terms

MAX_CANDIDATES = 12     # at most 2^12 combinations, and the walk (_best) cuts most of them

def _relied_threshold(terms: Terms, cart: Cart) -> int:
    """The threshold the coupon relies on for this cart (the highest step its original eligible
    amount reaches; its min spend; 0 for none)."""
    if terms.kind == "threshold":
        eligible = sum(cart.lines[i].amount_fen for i in eligible_lines(terms, cart))
        return max((s.threshold_fen for s in terms.steps or () if s.threshold_fen <= eligible), default=0)
    return terms.min_spend_fen or 0


def application_order(coupons: Sequence[tuple[str, Terms]], cart: Cart) -> list[tuple[str, Terms]]:
    """The order a combination is applied in: gift, amount coupons, percentage coupons, free
    shipping, parking; within each the higher relied-on threshold first, then the order given."""
    ranked = sorted(enumerate(coupons), key=lambda pc: (ORDER[pc[1][1].kind], -_relied_threshold(pc[1][1], cart), pc[0]))
    return [coupon for _, coupon in ranked]


def savings_in_order(coupons: Sequence[tuple[str, Terms]], cart: Cart) -> list[tuple[str, Saving]]:
    """Each coupon's saving, applied one after another in :func:`application_order`, each on
    what the ones before left (lines, shipping fee, parking hours). Stacking rules are the
    caller's (:func:`best_combination` chooses only combinations they allow)."""
    left = {i: line.amount_fen for i, line in enumerate(cart.lines)}
    shipping, hours = cart.shipping_fen, cart.parking_hours
    applied = []
    for coupon_id, terms in application_order(coupons, cart):
        one = saving(terms, replace(cart, shipping_fen=shipping, parking_hours=hours), left)
        for i, fen in one.lines.items():
            left[i] -= fen
        shipping, hours = shipping - one.shipping_fen, hours - one.parking_hours
        applied.append((coupon_id, one))
    return applied


def _group_limits(combo: Sequence[tuple[str, Terms]]) -> dict[str, int]:
    """Each group's maximum in a combination: the smallest ``group_max`` among its coupons there
    (every coupon's own limit holds)."""
    limits: dict[str, int] = {}
    for _, terms in combo:
        group = terms.stacking.group or ""
        limits[group] = min(limits.get(group, terms.stacking.group_max), terms.stacking.group_max)
    return limits


def _allowed(combo: Sequence[tuple[str, Terms]]) -> bool:
    """Whether the stacking rules allow ``combo``: an exclusive coupon alone; joint ones at most
    their group's maximum per group, any groups together."""
    if any(terms.stacking.category == "exclusive" for _, terms in combo):
        return len(combo) == 1
    counts = Counter(terms.stacking.group or "" for _, terms in combo)
    limits = _group_limits(combo)
    return all(count <= limits[group] for group, count in counts.items())


@dataclass(frozen=True)
class _Outcome:
    """A combination tried: its coupons, each one's saving in the order applied, and what the
    lines, the shipping fee and the parking hours have left after them."""

    applied: tuple[tuple[tuple[str, Terms], Saving], ...]
    left: dict[int, int]
    shipping_left: int
    hours_left: int

    @property
    def fen(self) -> int:
        return sum(s.total_fen for _, s in self.applied)

    @property
    def hours(self) -> int:
        return sum(s.parking_hours for _, s in self.applied)

    @property
    def exclusive(self) -> bool:
        return bool(self.applied) and self.applied[0][0][1].stacking.category == "exclusive"

    @property
    def combo(self) -> list[tuple[str, Terms]]:
        return [coupon for coupon, _ in self.applied]

    def key(self) -> tuple[int, int, bool, int]:
        # more money, then more parking hours; on a tie joint coupons over an exclusive one (it is
        # chosen only when it saves more), then fewer coupons (none used for nothing)
        return self.fen, self.hours, not self.exclusive, -len(self.applied)

    def then(self, coupon: tuple[str, Terms], cart: Cart) -> _Outcome:
        """This combination and ``coupon`` applied after it."""
        one = saving(coupon[1], replace(cart, shipping_fen=self.shipping_left, parking_hours=self.hours_left), self.left)
        left = dict(self.left)
        for i, fen in one.lines.items():
            left[i] -= fen
        return _Outcome((*self.applied, (coupon, one)), left, self.shipping_left - one.shipping_fen,
                        self.hours_left - one.parking_hours)


def _best(ordered: Sequence[tuple[str, Terms]], cart: Cart, alone: dict[str, Saving]) -> _Outcome | None:
    """The best combination the stacking rules allow, by :meth:`_Outcome.key`: a depth-first walk
    over ``ordered`` (already in application order, so a combination is its prefix and one more
    coupon, computed once). A branch is cut when even every remaining coupon's saving alone could
    not reach the best so far: no coupon saves more after others than alone (less is left, and
    every kind's saving grows with the amount it reads), so the cut never loses the best."""
    n = len(ordered)
    fen_after, hours_after = [0] * (n + 1), [0] * (n + 1)
    for j in reversed(range(n)):
        one = alone[ordered[j][0]]
        fen_after[j], hours_after[j] = fen_after[j + 1] + one.total_fen, hours_after[j + 1] + one.parking_hours
    best: list[_Outcome] = []

    def visit(before: _Outcome, first: int) -> None:
        for j in range(first, n):
            if best and (before.fen + fen_after[j], before.hours + hours_after[j]) < best[0].key()[:2]:
                return                           # the later coupons save less still
            if not _allowed([*before.combo, ordered[j]]):
                continue
            outcome = before.then(ordered[j], cart)
            if not best or outcome.key() > best[0].key():
                best[:] = [outcome]
            if not outcome.exclusive:
                visit(outcome, j + 1)

    visit(_Outcome((), {i: line.amount_fen for i, line in enumerate(cart.lines)}, cart.shipping_fen, cart.parking_hours), 0)
    return best[0] if best else None


def _screen(coupons: Sequence[tuple[str, Terms]], cart: Cart,
            why: dict[str, str]) -> tuple[list[tuple[str, Terms]], dict[str, Saving]]:
    """The coupons usable on ``cart`` (at most MAX_CANDIDATES, those saving most alone) and each
    one's saving alone; ``why`` gets the reasons of the rest."""
    usable, alone = [], {}
    for coupon_id, terms in coupons:
        reason = applies_to(terms, cart)
        one = saving(terms, cart) if reason is None else Saving(0)
        if reason is None and one.total_fen == 0 and one.parking_hours == 0:
            reason = "no_saving: it takes nothing off this cart"
        if reason is not None:
            why[coupon_id] = reason
        else:
            usable.append((coupon_id, terms))
            alone[coupon_id] = one
    ranked = sorted(usable, key=lambda c: (-alone[c[0]].total_fen, -alone[c[0]].parking_hours))
    for coupon_id, _ in ranked[MAX_CANDIDATES:]:
        why[coupon_id] = f"too_many: only the {MAX_CANDIDATES} coupons saving most alone are combined"
    kept = {coupon_id for coupon_id, _ in ranked[:MAX_CANDIDATES]}
    return [c for c in usable if c[0] in kept], alone


def _why_not(terms: Terms, alone: Saving, best: _Outcome) -> str:
    chosen = ", ".join(coupon_id for coupon_id, _ in best.combo)
    if terms.stacking.category == "exclusive":
        return (f"exclusive: it is used alone and saves {yuan(alone.total_fen)}; {chosen} save {yuan(best.fen)} "
                "(an exclusive coupon is chosen only when it saves more)")
    if best.exclusive:
        return f"exclusive: {chosen} is used alone and saves {yuan(best.fen)}, more than any joint coupons together"
    group = terms.stacking.group or ""
    limits = _group_limits([*best.combo, ("", terms)])
    taken = [coupon_id for coupon_id, t in best.combo if t.stacking.group == group]
    if len(taken) >= limits[group]:
        return f"group_max: group '{group}' takes at most {limits[group]} and {', '.join(taken)} save more"
    return f"no_gain: it adds nothing on top of {chosen}"


def best_combination(coupons: list[tuple[str, Terms]], cart: Cart) -> tuple[list[str], int, dict[str, str]]:
    """The combination of ``coupons`` (id, terms) that saves the most on ``cart`` under the
    stacking rules: (the chosen ids in the order applied, the fen they save (lines and shipping),
    and for each coupon not chosen why). An exclusive coupon is used alone, and only when it
    saves more than any joint combination; joint coupons combine, at most the group's maximum
    per group. Equal savings: more parking hours, then joint coupons over an exclusive one, then
    fewer coupons, then the earlier in application order. Windows and validity are the caller's
    to check first. The search is exhaustive over the MAX_CANDIDATES (12) coupons saving most
    alone; any beyond are reported ``too_many``."""
    if len({coupon_id for coupon_id, _ in coupons}) != len(coupons):
        raise ValueError("coupon ids must be unique")
    why: dict[str, str] = {}
    candidates, alone = _screen(coupons, cart, why)
    best = _best(application_order(candidates, cart), cart, alone)
    if best is None:
        return [], 0, why
    chosen = [coupon_id for coupon_id, _ in best.combo]
    for coupon_id, terms in candidates:
        if coupon_id not in chosen:
            why[coupon_id] = _why_not(terms, alone[coupon_id], best)
    return chosen, best.fen, why
