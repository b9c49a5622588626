"""Write the API's OpenAPI document, as the app serves it at /openapi.json, without a server.

The console's build generates its typed client from this file (``npm run gen``), so a change of
the API that the console's code does not follow fails ``vue-tsc``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def roles_by_operation() -> dict[str, list[str]]:
    """Each staff operation's admitted program roles, from the routes' own rules (as
    tests/e2e/test_role_table.py asks them): the console's menu shows a page to a role only when
    the role may call every operation the page needs."""
    from chalicelib.api.operation import REGISTRY
    from chalicelib.shared.principal import MERCHANT_ROLES, PROGRAM_ROLES, Principal

    def caller(role: str) -> Principal:
        return Principal("staff", f"s-{role}", role, "m" if role in MERCHANT_ROLES else None,
                         "s" if role in ("store_manager", "clerk") else None)
    return {op.operation_id: [r for r in PROGRAM_ROLES if any(a.admits(caller(r)) for a in op.allow)]
            for op in REGISTRY if not op.public}


def main(document_out: str, roles_out: str) -> None:
    """Write the document to ``document_out`` and each operation's roles to ``roles_out``."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "cn-north-1")
    sys.path.insert(0, str(ROOT))
    import app  # noqa: F401  (registers every operation)
    from chalicelib.api.openapi import document
    Path(document_out).write_text(json.dumps(document(), ensure_ascii=False, indent=1, sort_keys=True))
    Path(roles_out).write_text(json.dumps(roles_by_operation(), indent=0, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
