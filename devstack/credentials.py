"""Dev credentials for the local stack: a demo merchant, store and POS key, and staff tokens.

Written to ``.local/dev-credentials.json``. Local secrets only: the stage 'local' signs with the
fixed secrets from ``.chalice/config.json``; deployed stages take theirs from Secrets Manager.
"""

from __future__ import annotations

import json
from typing import Any

DEMO_MERCHANT = "demo-merchant"
DEMO_STORE = "demo-store"
DEMO_KEY = "ak_local_demo_pos"
TOKEN_MINUTES = 60 * 24 * 30


def staff_token(role: str, subject: str | None = None, merchant_id: str | None = None,
                store_id: str | None = None, minutes: int = TOKEN_MINUTES) -> str:
    from chalicelib.shared.credentials import mint_token
    claims = {"role": role}
    if merchant_id:
        claims["merchant_id"] = merchant_id
    if store_id:
        claims["store_id"] = store_id
    return mint_token("staff", subject or f"local-{role}", minutes, **claims)


def ensure_demo_merchant() -> dict[str, Any]:
    """Create the demo merchant, store and API key unless they exist (idempotent)."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.merchants.tables import ApiKeyItem, MerchantItem, StoreItem
    from chalicelib.shared import clock
    from chalicelib.shared.credentials import key_secret
    now = clock.iso(clock.now())
    for item in (
        MerchantItem(*MerchantItem.key(DEMO_MERCHANT), merchant_id=DEMO_MERCHANT, name="Demo Mall Merchant", created_at=now),
        StoreItem(*StoreItem.key(DEMO_MERCHANT, DEMO_STORE), merchant_id=DEMO_MERCHANT, store_id=DEMO_STORE,
                  name="Demo Store", created_at=now),
        ApiKeyItem(*ApiKeyItem.key(DEMO_KEY), key_id=DEMO_KEY, merchant_id=DEMO_MERCHANT, store_id=DEMO_STORE,
                   status="active", created_at=now),
    ):
        # already there from an earlier run: the condition fails and nothing changes
        UnitOfWork("devstack").put(item, type(item).pk.does_not_exist())
    return {"merchant_id": DEMO_MERCHANT, "store_id": DEMO_STORE,
            "pos_api_key": {"key_id": DEMO_KEY, "secret": key_secret(DEMO_KEY)}}


def bootstrap(stack) -> dict[str, Any]:
    creds: dict[str, Any] = {
        "api_url": stack.api_url,
        "emulator_url": stack.emulator_url,
        **ensure_demo_merchant(),
        "staff_tokens": {
            "super_admin": staff_token("super_admin"),
            "ops_manager": staff_token("ops_manager"),
            "store_manager": staff_token("store_manager", merchant_id=DEMO_MERCHANT, store_id=DEMO_STORE),
            "clerk": staff_token("clerk", merchant_id=DEMO_MERCHANT, store_id=DEMO_STORE),
        },
        "member_token": {
            "how": "POST /v1/auth/member-tokens with {\"member_id\": ...} or {\"identity\": {\"type\": \"phone\", "
                   "\"value\": ...}}, authorised by the super_admin token or a signed POS request; "
                   "or: .venv/bin/python -m devstack token member <member_id>",
        },
        "signing": "X-Api-Key, X-Timestamp, X-Signature: v1=HMAC-SHA256(secret, canonical request); see README",
    }
    if stack.data_dir is not None:
        path = stack.data_dir.parent / "dev-credentials.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(creds, indent=2))
        creds["path"] = str(path)
    return creds
