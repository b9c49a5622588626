"""Migrate a stage's data: ``python -m infra.migrate --stage dev`` (credentials from the usual
AWS environment; ``--endpoint`` for an emulator). Idempotent: a second run does nothing."""

from __future__ import annotations

import argparse
import json
import os
import sys

import boto3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra.migrate")
    parser.add_argument("--stage", required=True)
    parser.add_argument("--endpoint", default=None, help="a DynamoDB endpoint (an emulator); default: AWS")
    args = parser.parse_args(argv)
    # the entitlements' step issues coupons through the app's units of work: the stage's tables
    os.environ["STAGE"] = args.stage
    if args.endpoint:
        os.environ["DYNAMODB_ENDPOINT"] = args.endpoint
    from chalicelib.benefits.migration import migrate_open_entitlements
    from chalicelib.db.migration import migrate_all
    from chalicelib.db.tables import TABLES
    from chalicelib.ledger.listing import migrate_account_listing
    from chalicelib.merchants.migration import migrate_key_listing
    from chalicelib.orders.migration import migrate_order_parts
    from chalicelib.points.migration import migrate_growth_accounts
    from chalicelib.points.tables import LISTING as POINTS_LISTING
    from chalicelib.stored_value.counters import issuer_of
    from chalicelib.stored_value.tables import LISTING as STORED_VALUE_LISTING
    from chalicelib.tiers.migration import migrate_tier_listing
    client = boto3.client("dynamodb", endpoint_url=args.endpoint)
    names = [spec.physical_name_for(args.stage) for spec in TABLES]
    done = migrate_all(client, names, names[0], issuer_of)
    done["order_parts"] = migrate_order_parts(client, names[0])
    done["entitlement_coupons"] = migrate_open_entitlements(client, names[0])
    done["tier_listing"] = migrate_tier_listing(client, names[0])
    done["api_key_listing"] = migrate_key_listing(client, names[0])
    done["account_listing"] = migrate_account_listing(client, names[0], (POINTS_LISTING, STORED_VALUE_LISTING))
    done["growth_accounts"] = migrate_growth_accounts(client, names[0])
    print(json.dumps(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
