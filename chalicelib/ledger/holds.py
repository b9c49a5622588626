"""Holds: the one reservation mechanism of every money store (points, stored value, gift cards;
coupons and checkout next).

A till reserves an amount for a checkout; the amount leaves what is spendable at once (so two
holds can never take the same money) and is then spent (``confirmed``) or given back
(``released``); a hold never settled lapses by itself on the due index. Each store keeps its own
item (a subclass of :class:`HoldRecord`, its own key and amounts) and its own posting; what every
hold shares is here:

* one status machine (:data:`MOVES`): ``open`` -> ``confirmed`` | ``released``; a change too big
  for one transaction goes through ``filling`` (a spend taken in steps: -> ``open`` |
  ``confirmed`` | ``released``) or ``releasing`` (a give-back in steps: -> ``released``).
  :func:`move` stages a hold on the condition that its status (and the store's lock) is as read,
  and refuses a move the machine does not have;
* the owner check (:func:`visible`: another merchant's hold does not exist for the caller),
  the refusal of a hold that is no longer open or has expired (:func:`settleable`,
  :class:`HoldNotOpen`), and of a checkout's hold confirmed or cancelled outside its checkout
  (:func:`confirmable`, :func:`releasable`, :class:`HoldOfCheckout`);
* the lapse: :func:`due_at` puts a hold on the due index, :func:`lapse_job` makes the job that
  gives back what lapsed;
* ids of steps derived from the request's Idempotency-Key (:func:`step_id`), so a retry resumes
  the steps of the first try.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pynamodb.attributes import UnicodeAttribute
from pynamodb.expressions.condition import Condition

from chalicelib.db import backend
from chalicelib.db.due import due_items, due_keys, run_due
from chalicelib.db.items import DueIndex, MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, NotFound, Problem
from chalicelib.shared.principal import Principal

OPEN, CONFIRMED, RELEASED, FILLING, RELEASING = "open", "confirmed", "released", "filling", "releasing"
SETTLED = (CONFIRMED, RELEASED)
# Every move a hold may make: from its status (None: not stored yet) to the next.
MOVES: dict[str | None, tuple[str, ...]] = {
    None: (OPEN, FILLING, RELEASING),
    FILLING: (FILLING, OPEN, CONFIRMED, RELEASED, RELEASING),
    OPEN: (CONFIRMED, RELEASED, RELEASING),
    RELEASING: (RELEASING, RELEASED),
    CONFIRMED: (),
    RELEASED: (),
}


class HoldNotOpen(Conflict):
    slug, title = "hold-not-open", "The hold is no longer open"


class HoldOfCheckout(Conflict):
    slug, title = "hold-of-checkout", "The hold is a checkout's: it is confirmed by completing the checkout"


class HoldRecord(MainModel):
    """What every hold item has: its id, status, expiry and due keys, the merchant and store whose
    checkout it is, when it was made. A store's item adds its key and its amounts."""

    due_kind: ClassVar[str] = ""                 # the due index's kind of the store's holds
    hold_id = UnicodeAttribute()
    status = UnicodeAttribute()                  # see MOVES
    hold_expires_at = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    of_checkout = UnicodeAttribute(null=True)    # the checkout that took it (a step of its saga)
    duepk = UnicodeAttribute(null=True)          # DUE#<due_kind> while it may still lapse
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()

    @property
    def owner(self) -> str | None:
        """The merchant whose checkout the hold is."""
        return self.merchant_id


H = TypeVar("H", bound=HoldRecord)
Owns = Callable[[Principal, "str | None", "str | None"], bool]


def step_id(kind: str, *parts: str) -> str:
    """The id of a step of a change in steps, the same on every try: ``kind`` (one letter) and a
    digest of what names the change (the caller's scope and Idempotency-Key, or its source)."""
    return kind + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:25].upper()


def due_at(h: HoldRecord, when: datetime, item_id: str) -> None:
    """Put the hold on the due index of its kind: it lapses (or its steps go on) at ``when`` (due
    on the program's day of ``when``); ``item_id`` names it in the index."""
    h.hold_expires_at = clock.iso(when)
    h.duepk, h.duesk = due_keys(h.due_kind, clock.program_date(when), f"{h.hold_expires_at}#{item_id}")


def visible(h: H | None, hold_id: str, by: Principal | None, owns: Owns) -> H:
    """The hold, if the caller may see it (``by`` None: a job); another merchant's hold does not
    exist for the caller (404)."""
    if h is None or (by is not None and not owns(by, h.owner, h.store_id)):
        raise NotFound(f"no hold {hold_id[:64]}")
    return h


def settleable(h: H, statuses: tuple[str, ...] = (OPEN,), unexpired: bool = False) -> H:
    """The hold, if its status is one of ``statuses`` (and, ``unexpired``, its time is not up)."""
    if h.status not in statuses:
        raise HoldNotOpen(f"hold {h.hold_id} is {h.status}")
    if unexpired and h.hold_expires_at <= clock.iso(clock.now()):
        raise HoldNotOpen(f"hold {h.hold_id} is expired")
    return h


def confirmable(h: H, via_checkout: bool) -> H:
    """The hold, if it may be confirmed by this caller: a checkout's hold only by its checkout's
    completion (``via_checkout``), so a checkout is never cancelled, nor lapses, with a hold of
    it confirmed meanwhile (409 :class:`HoldOfCheckout`, nothing changed). Holds taken before
    they named their checkout confirm as before (``cancelCheckout`` checks those)."""
    if h.of_checkout and not via_checkout:
        raise HoldOfCheckout(f"hold {h.hold_id} is checkout {h.of_checkout}'s: complete the checkout "
                             "(completeCheckout) to spend it, or cancel the checkout", checkout_id=h.of_checkout)
    return h


def releasable(h: H, by: Principal | None, via_checkout: bool) -> H:
    """The hold, if this caller may give it back: a checkout's hold only by its checkout (its
    cancel, a refused commit, its lapse: ``via_checkout``) or by its store's own lapse job (``by``
    None: its time is up, and so is the checkout's), never by a till's cancel of the one hold,
    which could leave a completion running part spent and part released (409
    :class:`HoldOfCheckout`, nothing changed: cancel the checkout)."""
    if h.of_checkout and by is not None and not via_checkout:
        raise HoldOfCheckout(f"hold {h.hold_id} is checkout {h.of_checkout}'s: cancel the checkout "
                             "(cancelCheckout) to give it back", checkout_id=h.of_checkout)
    return h


def _changed(h: HoldRecord) -> Callable[[], Problem]:
    return lambda: HoldNotOpen(f"hold {h.hold_id} changed")


def create(uow: UnitOfWork, h: H, status: str, on_conflict: Callable[[], Problem] | None = None) -> H:
    """Stage a new hold in its first status (its id is new, or a step's: a second try finds it)."""
    _check(None, status)
    h.status = status
    uow.create(h, on_conflict=on_conflict)
    return h


def move(uow: UnitOfWork, h: H, to: str, lock: Condition | None = None,
         on_conflict: Callable[[], Problem] | None = None) -> H:
    """Stage the hold moved to ``to``, on the condition that its status (and ``lock``, what a step
    of the store read) is still as read; a settled hold leaves the due index."""
    before = h.status
    _check(before, to)
    h.status = to
    if to in SETTLED:
        h.duepk, h.duesk = None, None
    condition = type(h).status == before
    uow.save(h, condition if lock is None else condition & lock, on_conflict=on_conflict or _changed(h))
    return h


def _check(before: str | None, to: str) -> None:
    if to not in MOVES.get(before, ()):
        raise HoldNotOpen(f"a hold {before or 'not yet made'} cannot become {to}")


def lapse_job(name: str, model: type[H], release: Callable[[str, H], Counter],
              register: Callable[[str], Callable[[Callable[[datetime], dict[str, Any]]], Any]],
              lapsing: tuple[str, ...] = (OPEN,), reported: dict[str, str] | None = None,
              due: Callable[[datetime], Iterable[tuple[str, H]]] | None = None,
              named: Callable[[H], str] = lambda h: f"{h.pk}/{h.sk}") -> Callable[[datetime], dict[str, Any]]:
    """The scheduled job ``name`` (registered with ``register``, :func:`chalicelib.jobs.job`) that
    gives back the holds of ``model`` whose time ran out: only the due ones are read; each one in
    ``lapsing`` whose time is up goes to ``release(program, hold)`` (a count of what it did:
    ``released``, and the store's own figures, reported under the names ``reported`` maps them
    to). A hold settled meanwhile is left alone; ``named`` names one the run gave up on."""
    def lapse(as_of: datetime) -> dict[str, Any]:
        now = clock.iso(as_of)

        def one(item: tuple[str, H], _: int) -> Counter:
            program_id, h = item
            if h.hold_expires_at > now or h.status not in lapsing:
                return Counter()
            try:
                return release(program_id, h)
            except HoldNotOpen:
                return Counter()
        found = due(as_of) if due is not None else due_items(backend.current(), model, model.due_kind, as_of)
        run = run_due(found, one, lambda item: f"{item[0]}/{named(item[1])}", name)
        figures = {field: run.counts[counted] for field, counted in (reported or {}).items()}
        return {"items_read": run.items_read, "holds_released": run.counts["released"], **figures, **run.give_ups()}
    lapse.__doc__ = f"Release {model.__name__} holds whose time ran out (only the due ones are read)."
    register(name)(lapse)
    return lapse


def released_in_unit(actor: str, release: Callable[[UnitOfWork, H], object]) -> Callable[[str, H], Counter]:
    """A lapse that gives a hold back in one unit of work of its own (``release(uow, hold)``)."""
    def one(program_id: str, h: H) -> Counter:
        uow = UnitOfWork(actor, program=program_id)
        release(uow, h)
        uow.commit()
        return Counter(released=1)
    return one
