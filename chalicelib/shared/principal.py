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
PROGRAM_ROLES = ("super_admin", "ops_manager", "store_manager", "clerk")
HQ_ROLES = ("super_admin", "ops_manager")
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
        """The program's head office: sees and acts for every merchant of the program."""
        return self.kind == "staff" and self.role in HQ_ROLES

    def may_reveal_pii(self) -> bool:
        """HQ staff may see unmasked personal data (and every such read is audited)."""
        return self.is_hq

    def can(self, capability: str) -> bool:
        """Whether an API key was given ``capability`` at creation."""
        return self.kind == "merchant" and capability in self.capabilities
