"""Who is acting: the caller of a request as every layer sees it (the API layer authenticates it)."""

from __future__ import annotations

from dataclasses import dataclass

STAFF_ROLES = ("super_admin", "ops_manager", "store_manager", "clerk")
HQ_ROLES = ("super_admin", "ops_manager")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a member, a merchant's API key, or a staff user with a role."""

    kind: str                          # "member" | "merchant" | "staff"
    id: str
    role: str | None = None
    merchant_id: str | None = None
    store_id: str | None = None

    @property
    def ref(self) -> str:
        """How this caller is named in events, audits and idempotency scopes."""
        return f"{self.kind}:{self.id}"

    def may_reveal_pii(self) -> bool:
        """HQ staff may see unmasked personal data (and every such read is audited)."""
        return self.kind == "staff" and self.role in HQ_ROLES
