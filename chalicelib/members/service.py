"""Member operations. Each takes what it needs and stages its writes on a unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.db import audit
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import repository
from chalicelib.members.domain import SINGLE_VALUED, Identity, LifecycleRules, Member, normalise
from chalicelib.members.settings import MEMBER_SETTINGS
from chalicelib.members.tables import IdentityItem, MemberItem, taken
from chalicelib.merchants import service as merchants
from chalicelib.shared import clock, lazy
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.config import settings
from chalicelib.shared.errors import (
    ConcurrentUpdate,
    Conflict,
    Forbidden,
    IdentityTaken,
    NotFound,
    Problem,
    ValidationProblem,
    changed,
)
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal

if TYPE_CHECKING:
    from chalicelib.members import tokens
    from chalicelib.members.schemas import MemberTokenRequest, RegisterMember, UpdateMember
else:
    tokens = lazy.module("chalicelib.members.tokens")      # token operations only

_changed = changed("the member")          # the lost race the endpoint retries

MAX_IDENTITIES = 20
MAX_ID_LENGTH = 64          # longer ids are not ours: refused without a read
MAX_MERGE_HOPS = 4
_MERGED_AWAY: TtlCache[bool] = TtlCache(3600, max_entries=4096)     # a merge is never undone


def _identities(cmd: RegisterMember) -> tuple[Identity, ...]:
    """Every identity of a registration, normalised, once each; at most one of a single-valued kind."""
    region = settings().phone_region
    raw: list[tuple[str, str]] = [(i.type, i.value) for i in cmd.identities]
    if cmd.phone:
        raw.append(("phone", cmd.phone))
    if cmd.email:
        raw.append(("email", cmd.email))
    found: dict[str, Identity] = {}
    for kind, value in raw:
        identity = normalise(kind, value, region)
        found.setdefault(identity.ref, identity)
    identities = tuple(found.values())
    if not identities:
        raise ValidationProblem("a member needs at least one identity: phone, email, or an entry in identities")
    for kind in SINGLE_VALUED:
        if sum(1 for i in identities if i.type == kind) > 1:
            raise ValidationProblem(f"a member has at most one {kind}")
    return identities


def register(cmd: RegisterMember, by: Principal, uow: UnitOfWork,
             on_taken: Callable[[Identity], Callable[[], Problem]] = taken) -> Member:
    """A new member with its identities; 409 naming every identity that is already taken
    (``on_taken``: the problem of an identity taken when the unit commits)."""
    identities = _identities(cmd)
    merchant_id, store_id = merchants.place(uow, by, cmd.merchant_id, cmd.store_id)
    channel = cmd.channel or ("pos" if by.can("pos") else "app")
    at = clock.now()
    now = clock.iso(at)
    member = Member(member_id=new_id(), registered_at=now, updated_at=now, identities=identities,
                    name=cmd.name, gender=cmd.gender, birthday=cmd.birthday,
                    custom_fields=dict(cmd.custom_fields), merchant_id=merchant_id,
                    store_id=store_id, channel=channel, last_active_at=now,
                    review_on=clock.program_date(at) + lifecycle_rules().new_for)
    for identity in identities:
        uow.create(IdentityItem.of(identity, member.member_id, now), on_conflict=on_taken(identity))
    uow.create(MemberItem.of(member))
    uow.emit(DomainEvent("member.registered", f"member:{member.member_id}",
                         {"member_id": member.member_id, "channel": member.channel,
                          "store_id": member.store_id, "identity_types": [i.type for i in identities]},
                         merchant_id=member.merchant_id))
    return member


# --- pay-as-member (支付即会员): a payer a till's payment names, found or registered ----------------

def payer_identity(kind: str, value: str) -> Identity:
    """The identity a payment names (a payer id, or a phone the customer gives), normalised and
    checked as registration does (422 if it is not one)."""
    return normalise(kind, value, settings().phone_region)


def payer_member(uow: UnitOfWork, payer: Identity) -> str | None:
    """The member id the payer belongs to, read consistently (a retry after a lost race finds the winner's)."""
    return repository.of(uow).resolve(payer, consistent=True)


def pay_as_member(uow: UnitOfWork) -> bool:
    """Whether the program registers a payer no member has (its member settings now)."""
    return MEMBER_SETTINGS.at(uow, clock.now())[1].pay_as_member


def register_payer(uow: UnitOfWork, payer: Identity, merchant_id: str, store_id: str | None, by: Principal) -> Member:
    """Stage the payer's registration (:func:`register`) at the till's merchant and store, channel
    ``pos``. The identity's entry is created only if absent: of two requests racing for one payer,
    the other's unit fails as a lost race (409 concurrent-update, retried) and its retry finds the member."""
    from chalicelib.members.schemas import IdentityIn, RegisterMember
    cmd = RegisterMember(identities=[IdentityIn(type=payer.type, value=payer.value)],
                         merchant_id=merchant_id, store_id=store_id, channel="pos")
    raced = lambda i: lambda: ConcurrentUpdate(f"{i.type} {i.masked().value} was registered meanwhile; retry")  # noqa: E731
    return register(cmd, by, uow, on_taken=raced)


def get(uow: UnitOfWork, member_id: str, by: Principal, reveal: bool = False,
        reason: str | None = None) -> dict[str, Any]:
    """A member as ``by`` may see it. An id merged away answers with its survivor. A reveal is
    audited, with its ``reason`` when given."""
    if by.kind == "member" and member_id not in ("me", by.id):
        raise Forbidden("a member may read only their own record")
    if member_id == "me":
        if by.kind != "member":
            raise NotFound("'me' names the calling member; only member tokens have one")
        member_id = by.id
    member = _active(uow, member_id)
    if reveal and not by.may_reveal_pii():
        raise Forbidden("your role may not see unmasked personal data")
    own = by.kind == "member"
    if reveal and not own:
        _audit(uow, member.member_id, by, "pii.revealed", "phone,email" + (f"; reason: {reason}" if reason else ""))
    return member.view(reveal=reveal or own)


def listing(uow: UnitOfWork, by: Principal, merchant_id: str | None, start: date, end: date, after: str | None,
            limit: int, store_id: str | None, stage: str | None, reveal: bool = False) -> dict[str, Any]:
    """Members registered at a merchant from the program's day ``start`` to its day ``end``, masked,
    a page at a time; filtered by store and stage within the page (a filtered page may hold fewer
    than ``limit``; follow ``next``). Unmasked with ``reveal`` for a caller that may reveal personal
    data (an export: the caller audits it)."""
    merchant, _ = merchants.place(uow, by, merchant_id, None, merchant_required=True)
    items = repository.of(uow).registered_at(merchant, clock.iso(clock.day_start(start)),
                                      clock.iso(clock.day_start(end + timedelta(days=1))), after, limit)
    members = [i.domain() for i in items]
    shown = [m.view(reveal=reveal and by.may_reveal_pii()) for m in members
             if (store_id is None or m.store_id == store_id) and (stage is None or m.stage == stage)]
    last = items[-1] if len(items) == limit else None
    return {"merchant_id": merchant, "members": shown, "next": f"{last.registered_at}#{last.member_id}" if last else None}


def audit_trail(uow: UnitOfWork, member_id: str, by: Principal) -> dict[str, Any]:
    """Who saw the member's unmasked data, logged them in or out, and when (HQ)."""
    member = _active(uow, member_id)
    entries = [{"at": a.at, "actor": a.actor, "action": a.action, "detail": a.detail}
               for a in repository.of(uow).audit_trail(member.member_id)]
    return {"member_id": member.member_id, "entries": entries}


def lookup(uow: UnitOfWork, identity_type: str, value: str, by: Principal) -> dict[str, Any]:
    """The member an identity belongs to, masked."""
    identity = normalise(identity_type, value, settings().phone_region)
    member_id = repository.of(uow).resolve(identity)
    if member_id is None:
        raise NotFound(f"no member has {identity.type} {identity.masked().value}")
    return _active(uow, member_id).view(reveal=False)


def update(member_id: str, cmd: UpdateMember, by: Principal, uow: UnitOfWork) -> Member:
    """Change profile fields (name, gender, birthday, custom fields) on the member's version."""
    member_id = _own(member_id, by)
    member = _active(uow, member_id, consistent=True)
    changes = cmd.model_dump(exclude_unset=True)
    reason = changes.pop("reason", None)
    if not changes:
        raise ValidationProblem("nothing to update: send at least one of name, gender, birthday, custom_fields")
    if "birthday" in changes and changes["birthday"] != member.birthday:
        _birthday_change(uow, member, changes["birthday"], reason, by)
    if "gender" in changes and changes["gender"] is None:
        changes["gender"] = "unknown"
    updated = _activity(member.with_profile(changes, clock.iso(clock.now())), by)
    if len(updated.custom_fields) > 50:
        raise ValidationProblem("a member has at most 50 custom fields")
    uow.save_versioned(MemberItem.of(updated), member.version, _changed, stored=True)
    uow.emit(DomainEvent("member.updated", f"member:{member_id}",
                         {"member_id": member_id, "fields": sorted(changes)},
                         merchant_id=by.merchant_id))
    return updated


def bind(member_id: str, identity_type: str, value: str, by: Principal, uow: UnitOfWork) -> tuple[Member, bool]:
    """Bind one more identity. Binding one the member already has changes nothing (False)."""
    member_id = _own(member_id, by)
    identity = normalise(identity_type, value, settings().phone_region)
    member = _active(uow, member_id, consistent=True)
    if identity in member.identities:
        return member, False
    if identity.type in SINGLE_VALUED and member.identity(identity.type):
        raise Conflict(f"the member already has a {identity.type}; a member has at most one")
    if len(member.identities) >= MAX_IDENTITIES:
        raise Conflict(f"a member has at most {MAX_IDENTITIES} identities")
    now = clock.iso(clock.now())
    updated = _activity(member.with_identity(identity, now), by)
    uow.create(IdentityItem.of(identity, member_id, now), on_conflict=taken(identity))
    uow.save_versioned(MemberItem.of(updated), member.version, _changed, stored=True)
    uow.emit(DomainEvent("member.identity_bound", f"member:{member_id}",
                         {"member_id": member_id, "identity_type": identity.type},
                         merchant_id=by.merchant_id))
    return updated, True


def change_phone(member_id: str, phone: str, by: Principal, uow: UnitOfWork) -> tuple[Member, bool]:
    """Move the member to a new (verified) phone: the new number's index entry is claimed, the old
    one released, both in the member's version. The same number again changes nothing (False)."""
    member_id = _own(member_id, by)
    new = normalise("phone", phone, settings().phone_region)
    member = _active(uow, member_id, consistent=True)
    old = member.identity("phone")
    if old == new:
        return member, False
    now = clock.iso(clock.now())
    updated = member.without_identity(old, now) if old else member
    updated = _activity(replace(updated.with_identity(new, now), version=member.version + 1), by)
    uow.create(IdentityItem.of(new, member_id, now), on_conflict=taken(new))
    if old:
        uow.delete(IdentityItem.of(old, member_id, now), IdentityItem.member_id == member_id, on_conflict=_changed)
    uow.save_versioned(MemberItem.of(updated), member.version, _changed, stored=True)
    _audit(uow, member_id, by, "phone_changed", f"{old.masked().value if old else '-'} -> {new.masked().value}")
    uow.emit(DomainEvent("member.phone_changed", f"member:{member_id}", {"member_id": member_id},
                         merchant_id=by.merchant_id))
    return updated, True


def unbind(member_id: str, identity_type: str, value: str, by: Principal, uow: UnitOfWork) -> Member:
    """Release one of the member's identities (never the last one: a member stays findable)."""
    member_id = _own(member_id, by)
    identity = normalise(identity_type, value, settings().phone_region)
    member = _active(uow, member_id, consistent=True)
    if identity not in member.identities:
        raise NotFound(f"the member has no {identity.type} {identity.masked().value}")
    if len(member.identities) == 1:
        raise Conflict("this is the member's only identity; bind another before releasing it")
    now = clock.iso(clock.now())
    updated = _activity(member.without_identity(identity, now), by)
    uow.delete(IdentityItem.of(identity, member_id, now), IdentityItem.member_id == member_id, on_conflict=_changed)
    uow.save_versioned(MemberItem.of(updated), member.version, _changed, stored=True)
    _audit(uow, member_id, by, "identity_unbound", f"{identity.type} {identity.masked().value}")
    uow.emit(DomainEvent("member.identity_unbound", f"member:{member_id}",
                         {"member_id": member_id, "identity_type": identity.type}, merchant_id=by.merchant_id))
    return updated


def member_token(uow: UnitOfWork, cmd: MemberTokenRequest, by: Principal) -> dict[str, Any]:
    """Access and refresh tokens for a member whose login the caller verified (audited)."""
    return tokens.issue(uow, cmd, by, _active)


def refresh_member_token(uow: UnitOfWork, refresh_token: str) -> dict[str, Any]:
    """New tokens for an active refresh token, which is used up."""
    return tokens.refresh(uow, refresh_token)


def revoke_member_token(uow: UnitOfWork, refresh_token: str) -> dict[str, Any]:
    """End the login a refresh token belongs to."""
    return tokens.revoke(uow, refresh_token)


def token_program(refresh_token: str) -> str:
    """The program a refresh token belongs to."""
    return tokens.program_of(refresh_token)


# --- helpers ---------------------------------------------------------------------------------

def lifecycle_rules() -> LifecycleRules:
    """The configured days after which members become active, dormant and churned."""
    s = settings()
    return LifecycleRules(timedelta(days=s.lifecycle_new_days), timedelta(days=s.lifecycle_dormant_days),
                          timedelta(days=s.lifecycle_churned_days))


class BirthdayLocked(Conflict):
    slug, title = "birthday-locked", "The birthday is set; only HQ staff change it"


def _birthday_change(uow: UnitOfWork, member: Member, birthday: date | None, reason: str | None,
                     by: Principal) -> None:
    """A birthday drives benefits (multipliers, birthday packs): a member who could move it would
    have a birthday before every order. It is set once, by the member or a till; after that only
    HQ staff change it (a correction), with a reason, in the audit trail."""
    if member.birthday is None:
        return
    if by.kind != "staff":
        raise BirthdayLocked(f"member {member.member_id}'s birthday is set; a correction goes through HQ staff")
    if not reason:
        raise ValidationProblem("changing a set birthday needs a reason (it is audited)")
    _audit(uow, member.member_id, by, "birthday_changed",
           f"{member.birthday.isoformat()} -> {birthday.isoformat() if birthday else 'none'}: {reason}")


def _activity(member: Member, by: Principal) -> Member:
    """A change made by the member, or at a till with the member present, counts as activity."""
    if by.kind not in ("member", "merchant"):
        return member
    at = clock.now()
    return member.touched(clock.iso(at), clock.program_date(at), lifecycle_rules())


def _own(member_id: str, by: Principal) -> str:
    if by.kind == "member":
        if member_id not in ("me", by.id):
            raise Forbidden("a member may act only on their own record")
        return by.id
    if member_id == "me":
        raise NotFound("'me' names the calling member; only member tokens have one")
    return member_id


def record_key(member_id: str, by: Principal) -> tuple[str, list[tuple[type, tuple[str, str]]]]:
    """The id a request names ('me' resolved, checked like :func:`target`) and the key of its
    record, for a capability that prefetches it with its own items in one read."""
    own = _own(member_id, by)
    if len(own) > MAX_ID_LENGTH:
        return own, []
    return own, [(MemberItem, MemberItem.key(own))]


def acting_on(uow: UnitOfWork, member_id: str, by: Principal | None = None) -> Member:
    """The member a request acts on: 'me' resolved, others' records refused to members, an id
    merged away followed to its survivor (without ``by``: the program's own work, jobs and
    subscribers). Read once per unit of work, however many capabilities of the request ask."""
    return _active(uow, _own(member_id, by) if by is not None else member_id)


def own_id(member_id: str, by: Principal) -> str:
    """The id a request names ('me' resolved, others' records refused to members), unread."""
    return _own(member_id, by)


def stage_active(uow: UnitOfWork, member_id: str) -> bool:
    """Instead of reading the member, make the unit commit only while ``member_id`` is stored and
    not merged away: a condition check in its transaction (a spend then costs one read less).
    False when the id is not one to check this way (this process saw it merged: read it with
    :func:`target`). A failed check answers 404 for a member that does not exist; for one merged
    away it notes the merge and asks for a retry, which reads and follows it."""
    if len(member_id) > MAX_ID_LENGTH or _MERGED_AWAY.peek(member_id):
        return False
    uow.check(MemberItem(*MemberItem.key(member_id)), MemberItem.pk.exists() & (MemberItem.status != "merged"),
              on_conflict=lambda: _not_active(uow, member_id))
    return True


def _not_active(uow: UnitOfWork, member_id: str) -> Problem:
    member = repository.of(uow).load(member_id, consistent=True)
    if member is None:
        return NotFound(f"no member {member_id[:64]}")
    _MERGED_AWAY.put(member_id, True)
    return ConcurrentUpdate(f"member {member_id} was merged away; retry")


def exists(uow: UnitOfWork, member_id: str) -> bool:
    """Whether a member is stored under ``member_id`` (merged or not)."""
    return len(member_id) <= MAX_ID_LENGTH and repository.of(uow).load(member_id) is not None


def _active(uow: UnitOfWork, member_id: str, consistent: bool = False) -> Member:
    """The member, following merges to the survivor (at most a few hops); an eventually
    consistent read is made once per unit (a change reads consistently, and afresh)."""
    seen = repository.of(uow).active
    if not consistent and member_id in seen:
        return seen[member_id]
    named = member_id
    for _ in range(MAX_MERGE_HOPS):
        member = repository.of(uow).load(member_id, consistent) if len(member_id) <= MAX_ID_LENGTH else None
        if member is None:
            raise NotFound(f"no member {member_id[:64]}")
        if member.status != "merged" or not member.merged_into:
            if not consistent:
                seen[named] = member
            return member
        member_id = member.merged_into
    raise Conflict("merge chain too long")



def _audit(uow: UnitOfWork, member_id: str, by: Principal, action: str, detail: str) -> None:
    """Audit ``action`` on the member, in the change's unit of work (:func:`chalicelib.db.audit.record`)."""
    audit.record(uow, action, by.ref, member_id=member_id, merchant_id=by.merchant_id, detail=detail)


__all__ = ["record_key", "register", "get", "lookup", "update", "bind", "change_phone", "unbind", "member_token", "acting_on", "exists", "IdentityTaken",
           "lifecycle_rules"]
