"""Targeted issues (``issueCoupons``): one template's coupon to each member of a list (up to
8,000), issued by the ``coupon-issues`` job, which works through the list a chunk of
:data:`CHUNK` members at a time to its deadline and carries on in its next run or continuation.

Each member's coupon is its own transaction (a unit of stock, the member's counts, the coupon,
its code, its event), with a coupon id derived from the issue and the member: a chunk worked
through again after a crash finds the coupons it issued already (their creation is conditional)
and issues nothing twice, and its counts, written once when the chunk is done, count them as
issued. A member the template refuses (its limit reached, the stock gone, no such member) is
counted by reason; ``getCouponIssue`` shows the progress (done / total) and the counts.

An issue to a tier (``tier`` in place of ``member_ids``) reads the tier's members from the tiers
capability's listing (:mod:`chalicelib.coupons.audience`: 16 partitions, never a scan), a page of
:data:`CHUNK` members of one shard at a time, each issued as above; the page's counts, the
members it adds to the total and the shard's cursor (the last member worked through) are written
together, so a page worked again after a crash issues nothing twice and counts once. The total
grows as pages are read (``total_final`` once every shard is read). It goes to the members who
held the tier when the issue was created (listed ``since`` then or before) and still hold it when
the job reaches them: a member who enters the tier after the issue was created is passed over."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from typing import Any

from chalicelib.coupons import audience, service, templates
from chalicelib.coupons.tables import CouponItem, IssueChunkItem, IssueItem
from chalicelib.db.backend import SortKey
from chalicelib.db.due import due_keys
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.stock import StockExhausted
from chalicelib.members import service as members
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, NotFound, Problem, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal

CHUNK = 500                       # members a chunk item holds (about 14 KB of ids)
MAX_MEMBERS = 8_000               # 16 chunks, written with the issue in one transaction; 8,000 ids fit a request body
KIND = "coupon-issue"
ACTOR = "job:coupon-issues"


def create(template_id: str, member_ids: list[str] | None, by: Principal, uow: UnitOfWork,
           tier: str | None = None) -> dict[str, Any]:
    """Record an issue of the template to ``member_ids``, or to the members of ``tier`` (the job
    issues the coupons)."""
    head = templates.find(uow, template_id, by)
    if head.state != "active":
        raise service.NotClaimable(f"template {template_id} is {head.state}")
    member_ids = member_ids or []
    if tier is not None:
        source = audience.tier_members()
        source.check(uow, tier)
        chunks = source.shards                               # one per shard of the tier's listing
    elif len(set(member_ids)) != len(member_ids):
        raise ValidationProblem("member_ids lists a member twice")
    else:
        chunks = math.ceil(len(member_ids) / CHUNK)
    issue_id, now = new_id(), clock.now()
    item = IssueItem(*IssueItem.key(issue_id), issue_id=issue_id, template_id=template_id, tier=tier,
                     merchant_id=head.merchant_id, status="issuing", total=len(member_ids), chunks=chunks,
                     created_by=by.ref, created_at=clock.iso(now))
    item.duepk, item.duesk = due_keys(KIND, clock.program_date(now), f"{clock.iso(now)}#{issue_id}")
    uow.create(item)
    for n in range(chunks):
        uow.create(IssueChunkItem(*IssueChunkItem.key(issue_id, n), members=None if tier else
                                  json.dumps(member_ids[n * CHUNK:(n + 1) * CHUNK])))
    uow.emit(DomainEvent("coupon.issue_started", f"coupon_template:{template_id}", {
        "issue_id": issue_id, "template_id": template_id, "total": len(member_ids),
        **({"tier": tier} if tier else {})}, merchant_id=head.merchant_id))
    return view(item)


def find(uow: UnitOfWork, issue_id: str, by: Principal) -> IssueItem:
    """The issue, to the callers who see its template."""
    item = uow.get(IssueItem, IssueItem.key(issue_id[:64]), consistent=True)
    if item is None or not (by.is_hq or (by.merchant_id is not None and by.merchant_id == item.merchant_id)):
        raise NotFound(f"no coupon issue {issue_id[:64]}")
    return item


def view(item: IssueItem) -> dict[str, Any]:
    """An issue's progress."""
    done = sum(int(getattr(item, k) or 0) for k in ("issued", "refused_limit", "refused_stock", "not_found",
                                                     "refused_other"))
    return {"issue_id": item.issue_id, "template_id": item.template_id, "status": item.status,
            "tier": item.tier, "total": int(item.total), "total_final": not item.tier or item.status == "done",
            "done": done, "issued": int(item.issued or 0),
            "refused": {"limit": int(item.refused_limit or 0), "stock": int(item.refused_stock or 0),
                        "not_found": int(item.not_found or 0), "other": int(item.refused_other or 0)},
            "created_at": item.created_at, "finished_at": item.finished_at}


def coupon_id_of(issue_id: str, member_id: str) -> str:
    """The coupon an issue gives a member: the same in every run of the job."""
    return "I" + hashlib.sha256(f"{issue_id}/{member_id}".encode()).hexdigest()[:25].upper()


def work(program: str, due: IssueItem, deadline: float) -> Counter:
    """Issue the chunks of ``due`` not yet done, until ``deadline`` (``time.monotonic``)."""
    uow = UnitOfWork(ACTOR, program=program)
    item = uow.get(IssueItem, IssueItem.key(due.issue_id), consistent=True)
    if item is None or item.status != "issuing":
        return Counter()
    done: Counter = Counter()
    for chunk in uow.query(IssueChunkItem, item.pk, SortKey.prefix("CHUNK#"), consistent=True):
        if chunk.done:
            continue
        if time.monotonic() >= deadline:
            done["stopped_at_deadline"] += 1
            return done
        if item.tier:
            if not _shard(program, item, chunk, deadline):
                done["stopped_at_deadline"] += 1
                return done
        else:
            _count(program, item, chunk, _chunk(program, item, json.loads(chunk.members)))
        done["chunks"] += 1
    _finish(program, item.issue_id)
    done["issues_done"] += 1
    return done


def _shard(program: str, item: IssueItem, chunk: IssueChunkItem, deadline: float) -> bool:
    """Work through one shard of the tier's listing from its cursor, a page at a time, until it is
    read to its end (True) or the deadline comes (False). Members listed since after the issue
    was created are passed over (not counted)."""
    source, shard, after = audience.tier_members(), int(chunk.sk.removeprefix("CHUNK#")), chunk.after
    while True:
        page = source.page(UnitOfWork(ACTOR, program=program), str(item.tier), shard, after, CHUNK)
        eligible = [member_id for member_id, since in page if since <= item.created_at]
        counts = _chunk(program, item, eligible)
        last, cursor = len(page) < CHUNK, page[-1][0] if page else after
        _advance(program, item, chunk, after, cursor, len(eligible), counts, last)
        after = cursor
        if last:
            return True
        if time.monotonic() >= deadline:
            return False


def _advance(program: str, item: IssueItem, chunk: IssueChunkItem, after: str | None, cursor: str | None,
             read: int, counts: Counter, last: bool) -> None:
    """A page of a tier's shard done: its counts, the members it adds to the total, the shard's
    cursor (and the shard done, after its last page), in one transaction on the cursor read."""
    uow = UnitOfWork(ACTOR, program=program)
    on = IssueChunkItem.after == after if after else IssueChunkItem.after.does_not_exist()
    actions = [IssueChunkItem.after.set(cursor)] if cursor and cursor != after else []
    uow.update(chunk, [*actions, *([IssueChunkItem.done.set(1)] if last else [])],
               (IssueChunkItem.done == 0) & on, changed("the coupon issue's shard"))
    adds = [getattr(IssueItem, k).add(v) for k, v in counts.items() if v]
    uow.update(item, [*adds, IssueItem.total.add(read), *([IssueItem.chunks_done.add(1)] if last else [])])
    uow.commit()


def _chunk(program: str, item: IssueItem, member_ids: list[str]) -> Counter:
    counts: Counter = Counter()
    for member_id in member_ids:
        counts[_one(program, item, member_id)] += 1
    return counts


def _one(program: str, item: IssueItem, member_id: str, tries: int = 5) -> str:
    """Issue the member's coupon (a lost race, as a take of a shard another claim emptied, is
    tried again, as the API's endpoints do); what became of it."""
    for _ in range(tries - 1):
        try:
            return _attempt(program, item, member_id)
        except ConcurrentUpdate:
            continue
    try:
        return _attempt(program, item, member_id)
    except ConcurrentUpdate:
        return "refused_other"


def _attempt(program: str, item: IssueItem, member_id: str) -> str:
    uow = UnitOfWork(ACTOR, program=program)
    cid = coupon_id_of(item.issue_id, member_id)
    try:
        member = members.acting_on(uow, member_id)
        if uow.get(CouponItem, CouponItem.key(member.member_id, cid), consistent=True) is not None:
            return "issued"                          # in an earlier run of this chunk
        head = templates.find(uow, item.template_id, None)
        service.issue(uow, member.member_id, head, 1, "issue", coupon_ids=[cid])
        uow.commit()
    except NotFound:
        return "not_found"
    except service.LimitReached:
        return "refused_limit"
    except StockExhausted:
        return "refused_stock"
    except ConcurrentUpdate:
        raise
    except Problem:
        return "refused_other"
    return "issued"


def _count(program: str, item: IssueItem, chunk: IssueChunkItem, counts: Counter) -> None:
    uow = UnitOfWork(ACTOR, program=program)
    uow.update(chunk, [IssueChunkItem.done.set(1)], IssueChunkItem.done == 0)
    actions = [getattr(IssueItem, k).add(v) for k, v in counts.items() if v]
    uow.update(item, [*actions, IssueItem.chunks_done.add(1)])
    uow.commit()


def _finish(program: str, issue_id: str) -> None:
    uow = UnitOfWork(ACTOR, program=program)
    item = uow.get(IssueItem, IssueItem.key(issue_id), consistent=True)
    if item is None or item.status != "issuing" or int(item.chunks_done or 0) < int(item.chunks):
        return
    uow.update(item, [IssueItem.status.set("done"), IssueItem.finished_at.set(clock.iso(clock.now())),
                      IssueItem.duepk.remove(), IssueItem.duesk.remove()], IssueItem.status == "issuing")
    uow.emit(DomainEvent("coupon.issue_finished", f"coupon_template:{item.template_id}", {
        "issue_id": issue_id, "template_id": item.template_id, **{k: v for k, v in view(item).items()
                                                                  if k in ("total", "issued", "refused")}},
        merchant_id=item.merchant_id))
    uow.commit()
