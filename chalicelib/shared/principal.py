"""Who is acting: the caller of a request as every layer sees it (the API layer authenticates it).

Every caller belongs to one **program** (a tenant: a brand, a mall, one SaaS merchant); merchant
keys and merchant staff also to one merchant, and perhaps one store. Credentials issued before
programs existed carry none and act in the ``default`` program.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_PROGRAM = "default"
PROGRAM_ID = re.compile(r"^[a-z0-9][a-z0-9\-]{1,39}$")        # also the shape of merchant and store ids
HQ_ROLES = ("super_admin", "ops_manager")                   # act for the whole program
READ_ONLY_ROLES = ("finance", "auditor")                     # see the whole program, change nothing
MERCHANT_ROLES = ("merchant_admin", "store_manager", "clerk")  # act for one merchant, or one store of it
PROGRAM_ROLES = (*HQ_ROLES, *READ_ONLY_ROLES, *MERCHANT_ROLES)
PROGRAM_WIDE_ROLES = (*HQ_ROLES, *READ_ONLY_ROLES)
PLATFORM_ROLE = "platform_admin"          # creates programs; acts in none
STAFF_ROLES = (*PROGRAM_ROLES, PLATFORM_ROLE)
KEY_CAPABILITIES = ("pos", "member_login", "reports", "webhooks")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a member, a merchant's API key, or a staff user with a role."""

    kind: str                          # "member" | "merchant" | "staff"
    id: str                            # member id, API key id, or staff subject
    role: str | None = None
    merchant_id: str | None = None
    store_id: str | None = None
    program_id: str = DEFAULT_PROGRAM
    capabilities: tuple[str, ...] = field(default_factory=tuple)   # API keys: what the key may do
    session: str | None = None         # staff, members: the login (refresh-token family) of the token

    @property
    def ref(self) -> str:
        """How this caller is named in events, audits and ledgers: a key names its merchant and store."""
        if self.kind == "merchant":
            return f"merchant:{self.merchant_id}:{self.store_id or '-'}:{self.id}"
        return f"{self.kind}:{self.id}"

    @property
    def scope(self) -> str:
        """The idempotency scope inside the program: kind, merchant, store and key id or subject."""
        return f"{self.kind}:{self.merchant_id or '-'}:{self.store_id or '-'}:{self.id}"

    @property
    def is_hq(self) -> bool:
        """The program's head office: sees every merchant's records, and acts for every merchant
        where its role may act at all (the read-only roles, finance and auditor, are admitted to
        reads only: see ``api.auth``)."""
        return self.kind == "staff" and self.role in PROGRAM_WIDE_ROLES

    def may_reveal_pii(self) -> bool:
        """HQ operators may see unmasked personal data (and every such read is audited); the
        read-only roles see it masked."""
        return self.kind == "staff" and self.role in HQ_ROLES

    def can(self, capability: str) -> bool:
        """Whether an API key was given ``capability`` at creation."""
        return self.kind == "merchant" and capability in self.capabilities
