"""How members and identities are kept in the main table: the item classes and their keys.

``MEMBER#<id> / PROFILE``        the profile; ``merged_into`` keeps an old id resolving after a merge
``IDENTITY#<type>#<value> / IDENTITY``  the OneID index: one read from any identity to its member id
``AUDIT#<member id> / <time>#<ulid>``  the member's copy of its audit entries (:mod:`chalicelib.db.audit`)
(logins: ``RFAMILY#`` / ``RTOKEN#`` items of :mod:`chalicelib.db.refresh`, shared with staff)

A profile is listed on ``gsi1`` under ``MEMBERS#<merchant>#<n>`` (``n`` from a hash of its id, one
of :data:`LISTING_SHARDS`), by registration time: a merchant's flash of 2,000 registrations a
second is 500 writes a second on each of 4 partitions, where one partition takes 1,000 (#24
item 6). Profiles written before carry ``MEMBERS#<merchant>`` until their next change; the
listing reads that key as one more shard.
"""

from __future__ import annotations

import json
import zlib
from datetime import date

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db.due import due_day, due_keys
from chalicelib.db.items import DueIndex, Gsi1, MainModel
from chalicelib.members.domain import Identity, Member
from chalicelib.shared.errors import IdentityTaken

LISTING_SHARDS = 4      # a merchant's members listing partitions (docs/scale.md)


def listing_keys(merchant_id: str | None) -> list[str]:
    """Every gsi1 partition of a merchant's members listing: its shards, and the key profiles
    written before the listing was sharded still carry."""
    base = f"MEMBERS#{merchant_id or '-'}"
    return [f"{base}#{n}" for n in range(LISTING_SHARDS)] + [base]


class MemberItem(MainModel):
    member_id = UnicodeAttribute()
    status = UnicodeAttribute()
    merged_into = UnicodeAttribute(null=True)
    identities = ListAttribute(of=UnicodeAttribute)
    name = UnicodeAttribute(null=True)
    gender = UnicodeAttribute()
    birthday = UnicodeAttribute(null=True)
    custom_fields = UnicodeAttribute()          # JSON: values keep their exact types
    merchant_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute()
    stage = UnicodeAttribute()
    registered_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = NumberAttribute()
    last_active_at = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)        # MEMBERS#<merchant>#<n>: members by registering merchant
    gsi1sk = UnicodeAttribute(null=True)        # registration time + id
    by_merchant = Gsi1()
    duepk = UnicodeAttribute(null=True)         # DUE#lifecycle#<shard>: sparse, only while a review is pending
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()

    @staticmethod
    def key(member_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", "PROFILE"

    @classmethod
    def of(cls, m: Member) -> MemberItem:
        pk, sk = cls.key(m.member_id)
        due = due_keys("lifecycle", m.review_on, m.member_id) if m.review_on else (None, None)
        return cls(pk, sk, last_active_at=m.last_active_at, duepk=due[0], duesk=due[1], member_id=m.member_id, status=m.status, merged_into=m.merged_into,
                   identities=[i.ref for i in m.identities], name=m.name, gender=m.gender,
                   birthday=m.birthday.isoformat() if m.birthday else None,
                   custom_fields=json.dumps(m.custom_fields, ensure_ascii=False, separators=(",", ":")),
                   merchant_id=m.merchant_id, store_id=m.store_id, channel=m.channel, stage=m.stage,
                   registered_at=m.registered_at, updated_at=m.updated_at, version=m.version,
                   gsi1pk=cls.listing(m.merchant_id, m.member_id), gsi1sk=f"{m.registered_at}#{m.member_id}")

    @staticmethod
    def listing(merchant_id: str | None, member_id: str) -> str:
        """The listing partition of a member registered at ``merchant_id``."""
        return f"MEMBERS#{merchant_id or '-'}#{zlib.crc32(member_id.encode()) % LISTING_SHARDS}"

    def domain(self) -> Member:
        return Member(member_id=self.member_id, registered_at=self.registered_at,
                      updated_at=self.updated_at,
                      identities=tuple(Identity.from_ref(str(r)) for r in self.identities or []),
                      name=self.name, gender=self.gender,
                      birthday=date.fromisoformat(self.birthday) if self.birthday else None,
                      custom_fields=json.loads(self.custom_fields), merchant_id=self.merchant_id,
                      store_id=self.store_id, channel=self.channel, stage=self.stage,
                      status=self.status, merged_into=self.merged_into, version=int(self.version),
                      last_active_at=self.last_active_at,
                      review_on=due_day(self.duesk) if self.duesk else None)


class IdentityItem(MainModel):
    member_id = UnicodeAttribute()
    bound_at = UnicodeAttribute()

    @staticmethod
    def key(identity: Identity) -> tuple[str, str]:
        return f"IDENTITY#{identity.type}#{identity.value}", "IDENTITY"

    @classmethod
    def of(cls, identity: Identity, member_id: str, at: str) -> IdentityItem:
        return cls(*cls.key(identity), member_id=member_id, bound_at=at)


def taken(identity: Identity):
    """The problem raised when an identity's index entry already exists."""
    def problem() -> IdentityTaken:
        masked = identity.masked()
        return IdentityTaken(f"{identity.type} {masked.value} already belongs to a member",
                             conflicts=[{"type": identity.type, "value": masked.value}])
    return problem
