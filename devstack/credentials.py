"""Dev credentials for the local stack: a demo program with two merchants (so isolation is
visible), a second program, their stores, POS and login keys, and staff tokens for each.

Written to ``.local/dev-credentials.json``. Local secrets only: the stage 'local' signs with the
fixed secrets from ``.chalice/config.json``; deployed stages take theirs from Secrets Manager.
"""

from __future__ import annotations

import json
from typing import Any

DEMO_PROGRAM = "default"              # data from before programs existed lives here too
DEMO_MERCHANT = "demo-merchant"
DEMO_STORE = "demo-store"
DEMO_KEY = "ak_local_demo_pos"
SECOND_PROGRAM = "demo-2"
TOKEN_MINUTES = 60 * 24 * 30

# program -> merchant -> (store, POS key, login key or None)
MERCHANTS = {
    DEMO_PROGRAM: {DEMO_MERCHANT: ("demo-store", DEMO_KEY, "ak_local_demo_login"),
                   "demo-merchant-b": ("b-store", "ak_local_b_pos", None)},
    SECOND_PROGRAM: {"p2-merchant": ("p2-store", "ak_local_p2_pos", "ak_local_p2_login")},
}


def staff_token(role: str, subject: str | None = None, merchant_id: str | None = None,
                store_id: str | None = None, minutes: int = TOKEN_MINUTES, program_id: str | None = None) -> str:
    from chalicelib.shared.credentials import mint_token
    claims = {"role": role}
    for name, value in (("merchant_id", merchant_id), ("store_id", store_id), ("program_id", program_id)):
        if value:
            claims[name] = value
    return mint_token("staff", subject or f"local-{role}", minutes, **claims)


def _ensure(program: str, merchant: str, store: str, keys: dict[str, list[str]]) -> None:
    """Create the program, merchant, store and keys unless they exist (idempotent)."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.merchants.tables import ApiKeyItem, MerchantItem, StoreItem
    from chalicelib.programs.tables import LISTING, ProgramItem
    from chalicelib.shared import clock
    now = clock.iso(clock.now())
    items = [ProgramItem(*ProgramItem.key(program), program_id=program, name=f"Demo program {program}",
                         timezone="Asia/Shanghai", status="active", created_at=now, gsi1pk=LISTING, gsi1sk=program),
             MerchantItem(*MerchantItem.key(merchant), merchant_id=merchant, name=f"Demo {merchant}", created_at=now),
             StoreItem(*StoreItem.key(merchant, store), merchant_id=merchant, store_id=store, name=store,
                       created_at=now)]
    items += [ApiKeyItem(*ApiKeyItem.key(key_id), key_id=key_id, program_id=program, merchant_id=merchant,
                         store_id=store if "pos" in caps else None, capabilities=caps, status="active",
                         created_at=now, created_by="devstack", **ApiKeyItem.listed(program, merchant, now, key_id))
              for key_id, caps in keys.items()]
    uow = UnitOfWork("devstack", program=program)
    for item in items:
        # already there from an earlier run: the condition fails and nothing changes
        uow.put(item, type(item).pk.does_not_exist())


DEV_PASSWORD = "Local-dev-password-2026"     # every local staff account's (the local stage only)
STAFF_ROLES = {"super_admin": (None, None), "ops_manager": (None, None), "finance": (None, None),
               "auditor": (None, None), "merchant_admin": (DEMO_MERCHANT, None),
               "store_manager": (DEMO_MERCHANT, DEMO_STORE), "clerk": (DEMO_MERCHANT, DEMO_STORE)}


def ensure_staff(program: str = DEMO_PROGRAM) -> dict[str, dict[str, str]]:
    """A staff account for each role in the demo program, with :data:`DEV_PASSWORD` (idempotent:
    an account there already is kept, its password too)."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.shared import clock
    from chalicelib.staff.passwords import hash_password
    from chalicelib.staff.tables import LISTING, StaffItem, StaffLoginItem
    uow = UnitOfWork("devstack", program=program)
    now = clock.iso(clock.now())
    accounts = {}
    for role, (merchant, store) in STAFF_ROLES.items():
        login, staff_id = f"{role.replace('_', '-')}@{program}", f"dev-{role.replace('_', '-')}"
        accounts[role] = {"program_id": program, "login": login, "password": DEV_PASSWORD, "staff_id": staff_id}
        if uow.get(StaffLoginItem, StaffLoginItem.key(login), consistent=True) is not None:
            continue
        uow.put(StaffItem(*StaffItem.key(staff_id), staff_id=staff_id, login=login, display_name=f"Local {role}",
                          role=role, merchant_id=merchant, store_id=store, status="active", epoch=1, version=1,
                          password_hash=hash_password(DEV_PASSWORD), created_at=now, created_by="devstack",
                          updated_at=now, gsi1pk=LISTING, gsi1sk=f"{merchant or '-'}#{staff_id}"),
                StaffItem.pk.does_not_exist())
        uow.put(StaffLoginItem(*StaffLoginItem.key(login), staff_id=staff_id), StaffLoginItem.pk.does_not_exist())
    return accounts


def ensure_demo() -> dict[str, Any]:
    """Every demo program, merchant, store and key; their credentials."""
    from chalicelib.shared.credentials import key_secret
    programs: dict[str, Any] = {}
    for program, merchants in MERCHANTS.items():
        entry: dict[str, Any] = {"merchants": {}, "staff_tokens": {}}
        for merchant, (store, pos_key, login_key) in merchants.items():
            keys = {pos_key: ["pos"], **({login_key: ["member_login"]} if login_key else {})}
            _ensure(program, merchant, store, keys)
            entry["merchants"][merchant] = {
                "store_id": store, "pos_api_key": {"key_id": pos_key, "secret": key_secret(pos_key)},
                **({"login_api_key": {"key_id": login_key, "secret": key_secret(login_key)}} if login_key else {}),
                "staff_tokens": {role: staff_token(role, f"local-{merchant}-{role}", merchant, store, program_id=program)
                                 for role in ("store_manager", "clerk")}}
        entry["staff_tokens"] = {role: staff_token(role, f"local-{program}-{role}", program_id=program)
                                 for role in ("super_admin", "ops_manager")}
        programs[program] = entry
    return programs


def bootstrap(stack) -> dict[str, Any]:
    programs = ensure_demo()
    demo = programs[DEMO_PROGRAM]["merchants"][DEMO_MERCHANT]
    creds: dict[str, Any] = {
        "api_url": stack.api_url,
        "emulator_url": stack.emulator_url,
        "program_id": DEMO_PROGRAM,
        "merchant_id": DEMO_MERCHANT, "store_id": DEMO_STORE,
        "pos_api_key": demo["pos_api_key"],
        "login_api_key": demo["login_api_key"],
        # minted tokens (the local stage accepts them; they name no account), and real accounts
        # to log in with (POST /v1/auth/staff/login: program_id, login, password)
        "staff_tokens": {
            **{role: staff_token(role, merchant_id=merchant, store_id=store)
               for role, (merchant, store) in STAFF_ROLES.items()},
            "platform_admin": staff_token("platform_admin"),
        },
        "staff_accounts": ensure_staff(),
        "programs": programs,
        "member_token": {
            "how": "POST /v1/auth/member-tokens with {\"member_id\": ... or \"identity\": {...}, \"verified_by\": "
                   "\"sms_otp\"}, signed with a login_api_key (member_login capability) or an HQ staff token; "
                   "or: .venv/bin/python -m devstack token member <member_id>",
        },
        "signing": "X-Api-Key, X-Timestamp, Idempotency-Key, X-Signature: v2=HMAC-SHA256(secret, canonical request); "
                   "see docs/integrators/signing.md",
    }
    if stack.data_dir is not None:
        path = stack.data_dir.parent / "dev-credentials.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(creds, indent=2))
        creds["path"] = str(path)
    return creds
