"""Moving the payments made before orders kept parts into their orders: each stored value
payment (``SVORDER#<merchant>#<order> / PAYMENT``) and card payment (``GCORDER#<merchant>#<order> /
CARD#<number>``) gets its part (``ORDER#<merchant>#<order> / PART#...``) and its order, which is
listed under the member it was paid by.

Like the data layer's migrations (``db/migration.py``): put-if-absent, so it is idempotent and
resumable, and a part the new code wrote first (a refund records a missing part from the
payment) is never overwritten; the order is updated by if-absent sets and moves its version. A
payment whose order belongs to another member is reported, not moved, and the marker is then not
set. ``make run`` and ``python -m infra.migrate`` run it after the data layer's migrations."""

from __future__ import annotations

from typing import Any

from chalicelib.db import tenancy
from chalicelib.db.migration import scan_once


def _part(item: dict[str, Any]) -> tuple[str, str, str, str, int, int] | None:
    """(program, merchant, order, part sort key, paid, refunded) of a payment item, else None."""
    program, logical = tenancy.split(item["pk"]["S"])
    sk = item["sk"]["S"]
    if program is None:
        return None
    if logical.startswith("SVORDER#") and sk == "PAYMENT":
        refunded = int(item.get("refunded_principal", {"N": "0"})["N"]) + int(item.get("refunded_bonus", {"N": "0"})["N"])
        store, ref = "stored_value", ""
    elif logical.startswith("GCORDER#") and sk.startswith("CARD#"):
        refunded = int(item.get("refunded_fen", {"N": "0"})["N"])
        store, ref = "gift_card", sk.removeprefix("CARD#")
    else:
        return None
    _, merchant, order = logical.split("#", 2)
    return program, merchant, order, f"PART#{store}#{ref}", int(item["amount_fen"]["N"]), refunded


def migrate_order_parts(client: Any, table: str) -> dict[str, Any]:
    """Give every payment made before orders kept parts its part and its order."""
    def visit(item: dict[str, Any]) -> bool | str | None:
        found = _part(item)
        if found is None:
            return None
        program, merchant, order, sk, paid, refunded = found
        pk = tenancy.physical(program, f"ORDER#{merchant}#{order}")
        store, _, ref = sk.removeprefix("PART#").partition("#")
        at = item.get("created_at", {"S": "1970-01-01T00:00:00+00:00"})
        try:
            _order(client, table, pk, merchant, order, item, at)
        except client.exceptions.ConditionalCheckFailedException:
            return f"{pk}: paid by another member than the order's"
        try:
            client.put_item(TableName=table, ConditionExpression="attribute_not_exists(pk)", Item={
                "pk": {"S": pk}, "sk": {"S": sk}, "store": {"S": store}, "ref": {"S": ref},
                "merchant_id": {"S": merchant}, "order_id": {"S": order}, "amount_fen": {"N": str(paid)},
                "refunded_fen": {"N": str(refunded)}, "created_at": at})
        except client.exceptions.ConditionalCheckFailedException:
            return None                  # written already: by a run before, or by the new code
        return True
    run = scan_once(client, table, "order-parts", visit)
    return {"moved": run.done, "conflicts": run.left}


def _order(client: Any, table: str, pk: str, merchant: str, order: str, item: dict[str, Any],
           at: dict[str, str]) -> None:
    """Make sure the payment's order exists, of its member (a card payment names none), listed."""
    names = {"#m": "merchant_id", "#o": "order_id", "#c": "created_at", "#v": "version"}
    values: dict[str, Any] = {":m": {"S": merchant}, ":o": {"S": order}, ":c": at, ":one": {"N": "1"}}
    sets = ["#m = :m", "#o = :o", "#c = if_not_exists(#c, :c)"]
    condition = None
    if "store_id" in item:
        names["#s"], values[":s"] = "store_id", item["store_id"]
        sets.append("#s = if_not_exists(#s, :s)")
    if "member_id" in item:
        member = item["member_id"]["S"]
        program = tenancy.split(pk)[0]
        assert program is not None
        names |= {"#u": "member_id", "#gp": "gsi1pk", "#gs": "gsi1sk"}
        values |= {":u": {"S": member}, ":gp": {"S": tenancy.physical(program, f"ORDERS#{member}")},
                   ":gs": {"S": f"{at['S']}#{merchant}#{order}"}}
        sets += ["#u = if_not_exists(#u, :u)", "#gp = if_not_exists(#gp, :gp)", "#gs = if_not_exists(#gs, :gs)"]
        condition = "attribute_not_exists(#u) OR #u = :u"
    options = {"ConditionExpression": condition} if condition else {}
    client.update_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "ORDER"}},
                       UpdateExpression=f"SET {', '.join(sets)} ADD #v :one", ExpressionAttributeNames=names,
                       ExpressionAttributeValues=values, **options)
