"""The tenancy walk: every operation of the registry, called by another program's credentials and
by another merchant's, aimed at merchant A's records (its member's profile, its order, its hold,
its store). Each is refused, and merchant A's data, and the whole of program 1 for callers from
program 2, is unchanged afterwards (compared item by item)."""

from __future__ import annotations

import pytest

import app  # noqa: F401  (declares every route)
from chalicelib.api.operation import REGISTRY
from chalicelib.gift_cards import keys
from chalicelib.shared import clock
from tests.e2e.conftest import fresh_phone, stored_items
from tests.e2e.test_tenancy_http import P2, A, B, pos, register_at, staff

# operationId -> (path params, body, query) aimed at merchant A's records; None: no body
TARGETS = {
    "registerMember": lambda t: ({}, {"phone": fresh_phone(), "merchant_id": A[1], "store_id": "demo-store"}, None),
    "lookupMember": lambda t: ({}, None, {"type": "card_no", "value": t["card"]}),
    "findMember": lambda t: ({}, {"type": "phone", "value": t["phone"]}, None),
    "getMember": lambda t: ({"member_id": t["bob"]}, None, None),
    "updateMember": lambda t: ({"member_id": t["bob"]}, {"name": "Mallory"}, None),
    "bindIdentity": lambda t: ({"member_id": t["bob"]}, {"type": "wechat_openid", "value": "oEVIL" + t["bob"]}, None),
    "issueMemberToken": lambda t: ({}, {"member_id": t["bob"], "verified_by": "sms_otp"}, None),
    "createMerchant": lambda t: ({}, {"merchant_id": A[1], "name": "taken over"}, None),
    "createStore": lambda t: ({"merchant_id": A[1]}, {"store_id": "evil-store", "name": "x"}, None),
    "createApiKey": lambda t: ({"merchant_id": A[1]}, {"store_id": "demo-store"}, None),
    "earnPoints": lambda t: ({"member_id": t["bob"]}, {"order_id": t["order"], "amount_fen": 100,
                                                        "merchant_id": A[1]}, None),
    "recordBehavior": lambda t: ({"member_id": t["bob"]}, {"behavior": "check_in", "ref": "walk"}, None),
    "redeemPoints": lambda t: ({"member_id": t["bob"]}, {"points": 1, "order_id": t["order"], "merchant_id": A[1],
                                                          "order_amount_fen": 20_000},
                               None),
    "holdPoints": lambda t: ({"member_id": t["bob"]}, {"points": 1, "merchant_id": A[1]}, None),
    "confirmPointsHold": lambda t: ({"member_id": t["bob"], "hold_id": t["hold"]}, {}, None),
    "cancelPointsHold": lambda t: ({"member_id": t["bob"], "hold_id": t["hold"]}, {}, None),
    "refundOrder": lambda t: ({"order_id": t["order"]}, {"refund_id": "walk", "amount_fen": 100,
                                                          "merchant_id": A[1]}, None),
    "adjustPoints": lambda t: ({"member_id": t["bob"]}, {"points": -1, "reason": "walk"}, None),
    "getPointsAccount": lambda t: ({"member_id": t["bob"]}, None, None),
    "listPointsLedger": lambda t: ({"member_id": t["bob"]}, None, None),
    "putEarnRules": lambda t: ({}, {"rules": {}}, None),
    "getEarnRules": lambda t: ({}, None, None),
    "getPointsLiability": lambda t: ({}, None, None),
    "reconcilePoints": lambda t: ({}, None, {"member_id": t["bob"]}),
    "getDailyStats": lambda t: ({}, None, {"start": "2026-01-01", "end": "2026-12-31", "merchant_id": A[1]}),
    "runJob": lambda t: ({"job": "points-holds"}, {}, None),
    "createProgram": lambda t: ({}, {"program_id": "default", "name": "taken over"}, None),
    "listPrograms": lambda t: ({}, None, None),
    "listMembers": lambda t: ({}, None, {"merchant_id": A[1], "start": "2026-01-01", "end": "2027-12-31"}),
    "getPointsHold": lambda t: ({"member_id": t["bob"], "hold_id": t["hold"]}, None, None),
    "getOrder": lambda t: ({"order_id": t["order"]}, None, {"merchant_id": A[1]}),
    "listJobRuns": lambda t: ({"job": "points-holds"}, None, None),
    "listMemberAudit": lambda t: ({"member_id": t["bob"]}, None, None),
    "listOrders": lambda t: ({"member_id": t["bob"]}, None, None),
    "changeMemberPhone": lambda t: ({"member_id": t["bob"]}, {"phone": fresh_phone(), "verified_by": "sms_otp"}, None),
    "unbindIdentity": lambda t: ({"member_id": t["bob"]}, {"type": "phone", "value": t["phone"]}, None),
    "revokeApiKey": lambda t: ({"merchant_id": A[1], "key_id": t["key"]}, {}, None),
    "listApiKeys": lambda t: ({"merchant_id": A[1]}, None, None),
    "rotateApiKey": lambda t: ({"merchant_id": A[1], "key_id": t["key"]}, {"overlap_hours": 1}, None),
    "putTierLadder": lambda t: ({}, {"ladder": {"tiers": [{"code": "V1", "name": "walk", "threshold": 0}]}}, None),
    "getTierLadder": lambda t: ({}, None, None),
    "getMemberTier": lambda t: ({"member_id": t["bob"]}, None, None),
    "setMemberTier": lambda t: ({"member_id": t["bob"]}, {"tier": "V1", "until": "2099-01-01", "reason": "walk"}, None),
    "listTierHistory": lambda t: ({"member_id": t["bob"]}, None, None),
    "putMembershipPlans": lambda t: ({}, {"plans": {"plans": []}}, None),
    "getMembershipPlans": lambda t: ({}, None, None),
    "getMembership": lambda t: ({"member_id": t["bob"]}, None, None),
    "purchaseMembership": lambda t: ({"member_id": t["bob"]}, {"plan": "PLUS", "payment_ref": f"walk-{fresh_phone()}",
                                                                "amount_fen": 100}, None),
    "renewMembership": lambda t: ({"member_id": t["bob"]}, {"payment_ref": f"walk-{fresh_phone()}",
                                                             "amount_fen": 100}, None),
    "cancelMembership": lambda t: ({"member_id": t["bob"]}, {"reason": "walk"}, None),
    "putBenefitRules": lambda t: ({}, {"rules": {"rules": []}}, None),
    "getBenefitRules": lambda t: ({}, None, None),
    "getMemberBenefits": lambda t: ({"member_id": t["bob"]}, None, None),
    "claimBenefit": lambda t: ({"member_id": t["bob"]}, {"rule": "walk", "ref": "walk"}, None),
    "listEntitlements": lambda t: ({"member_id": t["bob"]}, None, None),
    "putTasks": lambda t: ({}, {"tasks": {"tasks": []}}, None),
    "getTasks": lambda t: ({}, None, None),
    "getMemberTasks": lambda t: ({"member_id": t["bob"]}, None, None),
    "getMemberOverview": lambda t: ({"member_id": t["bob"]}, None, None),
    "putTopUpBonusRules": lambda t: ({}, {"rules": {}}, None),
    "getTopUpBonusRules": lambda t: ({}, None, None),
    "topUpStoredValue": lambda t: ({"member_id": t["bob"]}, {"amount_fen": 100, "payment_ref": f"walk-{fresh_phone()}",
                                                              "merchant_id": A[1]}, None),
    "payWithStoredValue": lambda t: ({"member_id": t["bob"]}, {"amount_fen": 1, "order_id": t["order"],
                                                                "merchant_id": A[1]}, None),
    "refundStoredValuePayment": lambda t: ({"order_id": t["sv_order"]}, {"refund_id": "walk", "amount_fen": 1,
                                                                          "merchant_id": A[1]}, None),
    "cashOutStoredValue": lambda t: ({"member_id": t["bob"]}, {"reason": "walk"}, None),
    "approveStoredValueCashOut": lambda t: ({"member_id": t["bob"], "cash_out_id": "walk"}, {}, None),
    "rejectStoredValueCashOut": lambda t: ({"member_id": t["bob"], "cash_out_id": "walk"}, {"reason": "walk"}, None),
    "getStoredValueCashOut": lambda t: ({"member_id": t["bob"], "cash_out_id": "walk"}, None, None),
    "getStoredValueAccount": lambda t: ({"member_id": t["bob"]}, None, None),
    "listStoredValueLedger": lambda t: ({"member_id": t["bob"]}, None, None),
    "getStoredValueReconciliation": lambda t: ({}, None, {"member_id": t["bob"]}),
    "holdStoredValue": lambda t: ({"member_id": t["bob"]}, {"amount_fen": 1, "order_id": "walk", "merchant_id": A[1]},
                                  None),
    "confirmStoredValueHold": lambda t: ({"member_id": t["bob"], "hold_id": t["sv_hold"]}, None, None),
    "cancelStoredValueHold": lambda t: ({"member_id": t["bob"], "hold_id": t["sv_hold"]}, None, None),
    "getStoredValueLiability": lambda t: ({}, None, None),
    "getStoredValueMovements": lambda t: ({}, None, {"day": "2026-03-01"}),
    "getFundSupervisionStatement": lambda t: ({}, None, None),
    "createGiftCardBatch": lambda t: ({}, {"name": "walk", "face_value_fen": 100, "count": 1,
                                           "valid_until": "2099-01-01", "merchant_ids": [A[1]]}, None),
    "listGiftCardBatches": lambda t: ({}, None, None),
    "getGiftCardBatch": lambda t: ({"batch_id": t["gc_batch"]}, None, None),
    "exportGiftCardSecrets": lambda t: ({"batch_id": t["gc_batch"]}, None, None),
    "downloadGiftCardSecrets": lambda t: ({"batch_id": t["gc_batch"], "part": "1"}, None, None),
    "sellGiftCards": lambda t: ({"batch_id": t["gc_batch"]}, {"invoice_ref": "walk", "purchaser": "walk"}, None),
    "getGiftCardReconciliation": lambda t: ({}, None, {"batch_id": t["gc_batch"]}),
    "getGiftCard": lambda t: ({"card_number": t["gc_card"]}, None, None),
    "activateGiftCard": lambda t: ({"card_number": t["gc_card"]}, None, None),
    "voidGiftCard": lambda t: ({"card_number": t["gc_card"]}, {"reason": "walk"}, None),
    "payOutVoidedGiftCard": lambda t: ({"card_number": t["gc_card"]}, {"refund_ref": "walk", "reason": "walk"}, None),
    "extendGiftCard": lambda t: ({"card_number": t["gc_card"]}, {"valid_until": "2100-01-01", "reason": "walk"}, None),
    "recogniseGiftCardBreakage": lambda t: ({"card_number": t["gc_card"]}, {"reason": "walk"}, None),
    "redeemGiftCard": lambda t: ({"member_id": t["bob"]}, {"card_number": t["gc_card"], "secret": "0" * 16}, None),
    "payWithGiftCard": lambda t: ({}, {"card_number": t["gc_card"], "secret": "0" * 16, "amount_fen": 1,
                                       "order_id": "walk", "merchant_id": A[1]}, None),
    "refundGiftCardPayment": lambda t: ({"order_id": "walk"}, {"card_number": t["gc_card"], "refund_id": "walk",
                                                                "amount_fen": 1, "merchant_id": A[1]}, None),
    "holdGiftCard": lambda t: ({}, {"card_number": t["gc_card"], "secret": "0" * 16, "amount_fen": 1,
                                    "order_id": "walk", "merchant_id": A[1]}, None),
    # (the batch's second card: every caller's wrong secret counts on the card, and the first card's
    # redemptions already take four of the five a card allows in a row)
    "checkGiftCardBalance": lambda t: ({}, {"card_number": keys.card_number(keys.batch_no_of(t["gc_card"]), 2),
                                            "secret": "0" * 16}, None),
    "getGiftCardHold": lambda t: ({"hold_id": t["gc_hold"]}, None, None),
    "confirmGiftCardHold": lambda t: ({"hold_id": t["gc_hold"]}, None, None),
    "cancelGiftCardHold": lambda t: ({"hold_id": t["gc_hold"]}, None, None),
    "createWebhookSubscription": lambda t: ({}, {"url": "http://127.0.0.1:9/walk", "filters": ["webhook.test"],
                                                 "merchant_id": A[1]}, None),
    "listWebhookSubscriptions": lambda t: ({}, None, None),
    "listWebhookEventTypes": lambda t: ({}, None, None),
    "getWebhookSubscription": lambda t: ({"subscription_id": t["webhook"]}, None, None),
    "updateWebhookSubscription": lambda t: ({"subscription_id": t["webhook"]}, {"enabled": False}, None),
    "deleteWebhookSubscription": lambda t: ({"subscription_id": t["webhook"]}, None, None),
    "rotateWebhookSecret": lambda t: ({"subscription_id": t["webhook"]}, {}, None),
    "listWebhookDeliveries": lambda t: ({"subscription_id": t["webhook"]}, None, None),
    "replayWebhookEvents": lambda t: ({"subscription_id": t["webhook"]}, {"event_id": t["webhook_event"]}, None),
    "sendTestWebhook": lambda t: ({"subscription_id": t["webhook"]}, None, None),
    "createCouponTemplate": lambda t: ({}, {"terms": COUPON_TERMS, "stock": 5, "merchant_id": A[1]}, None),
    "listCouponTemplates": lambda t: ({}, None, None),
    "getCouponTemplate": lambda t: ({"template_id": t["coupon_template"]}, None, None),
    "updateCouponTemplate": lambda t: ({"template_id": t["coupon_template"]}, {"add_stock": 5}, None),
    "setCouponTemplateState": lambda t: ({"template_id": t["coupon_template"]}, {"state": "ended"}, None),
    "claimCoupon": lambda t: ({"member_id": t["bob"]}, {"template_id": t["coupon_template"]}, None),
    "listMemberCoupons": lambda t: ({"member_id": t["bob"]}, None, None),
    "getCoupon": lambda t: ({"member_id": t["bob"], "coupon_id": t["coupon"]}, None, None),
    "validateCoupon": lambda t: ({}, {"code": t["coupon_code"], "order_id": "walk-c", "order_amount_fen": 20_000}, None),
    "writeOffCoupon": lambda t: ({}, {"code": t["used_coupon_code"], "order_id": "walk-c2",
                                      "order_amount_fen": 20_000}, None),
    "putCouponPacks": lambda t: ({}, {"packs": {"packs": [{"id": "walk-pack", "name": "walk", "items": [
        {"template_id": t["coupon_template"]}]}]}}, None),
    "getCouponPacks": lambda t: ({}, None, None),
    "issueCoupons": lambda t: ({"template_id": t["coupon_template"]}, {"member_ids": [t["bob"]]}, None),
    "getCouponIssue": lambda t: ({"issue_id": t["coupon_issue"]}, None, None),
    "getCouponStats": lambda t: ({"template_id": t["coupon_template"]}, None, None),
    "getCouponReconciliation": lambda t: ({}, None, None),
    "holdCoupon": lambda t: ({}, {"code": t["coupon_code"], "order_id": "walk-h", "order_amount_fen": 20_000}, None),
    "getCouponHold": lambda t: ({"hold_id": t["coupon_hold"]}, None, None),
    "confirmCouponHold": lambda t: ({"hold_id": t["coupon_hold"]}, {}, None),
    "cancelCouponHold": lambda t: ({"hold_id": t["coupon_hold"]}, {}, None),
    "grantCouponPack": lambda t: ({"member_id": t["bob"]}, {"pack_id": "walk-pack"}, None),
    "undoCouponWriteOff": lambda t: ({}, {"code": t["used_coupon_code"], "order_id": t["coupon_order"]}, None),
    "importCouponCodes": lambda t: ({"template_id": t["coupon_template"]}, {"codes": ["WALK123456"]}, None),
    "getMemberCode": lambda t: ({"member_id": t["bob"]}, None, None),
    "resolveMemberCode": lambda t: ({}, {"code": t["member_code"]()}, None),      # bob's code of the moment
    "putPriceLists": lambda t: ({}, {"lists": {"lists": [{"id": "walk-pl", "name": "walk", "prices": {"W": 1}}]}}, None),
    "getPriceLists": lambda t: ({}, None, None),
    "priceCart": lambda t: ({}, {"member_id": t["bob"], "lines": [{"sku": "W", "unit_price_fen": 100}]}, None),
    "quoteCheckout": lambda t: ({}, {"member_id": t["bob"], "store_id": "demo-store",
                                     "lines": [{"sku": "W", "quantity": 1, "unit_price_fen": 100}]}, None),
    "getCheckoutQuote": lambda t: ({"quote_id": t["quote"]}, None, None),
    "commitCheckout": lambda t: ({}, {"quote_id": t["quote"]}, None),
    "completeCheckout": lambda t: ({"checkout_id": t["checkout"]}, {"payment_ref": "walk"}, None),
    "cancelCheckout": lambda t: ({"checkout_id": t["checkout"]}, {}, None),
    "getCheckout": lambda t: ({"checkout_id": t["checkout"]}, None, None),
    "listMemberCheckouts": lambda t: ({"member_id": t["bob"]}, None, None),
    "listMemberOwedPacks": lambda t: ({"member_id": t["bob"]}, None, None),
    "getCouponPackStats": lambda t: ({}, None, None),
    # committed, not completed: 409 for A's callers, 404 for everyone else's
    "refundCheckout": lambda t: ({"checkout_id": t["checkout"]}, {"refund_id": "walk", "amount_fen": 100,
                                                                  "reason": "walk"}, None),
}
COUPON_TERMS = {"kind": "amount_off", "title": "walk", "amount_off_fen": 500, "min_spend_fen": 1_000,
                "validity": {"days_after_claim": 30}}
# Within program 1 these read or change what the program's merchants share (its members and their
# balances; references of other merchants are hidden, tested on their own), or the program's own
# settings: merchant B may call them. Everything else names merchant A's records.
SHARED_IN_PROGRAM = {"lookupMember", "findMember", "getMember", "getPointsAccount", "listPointsLedger", "recordBehavior",
                     "getEarnRules", "listOrders", "getTierLadder", "getMemberTier", "listTierHistory",
                     "getMembershipPlans", "getMembership", "purchaseMembership", "renewMembership",
                     "getBenefitRules", "getMemberBenefits", "claimBenefit", "listEntitlements", "getTasks",
                     "getMemberTasks", "getMemberOverview", "getTopUpBonusRules", "getStoredValueAccount",
                     "listStoredValueLedger", "listCouponTemplates", "listMemberCoupons", "getCoupon", "getCouponPacks",
                     "resolveMemberCode"}       # any till of the program identifies its members
SHARED_IN_PROGRAM |= {"getPriceLists", "priceCart"}     # the program's lists; its member's prices
SHARED_IN_PROGRAM |= {"listMemberCheckouts"}    # as listOrders: the member's, filtered to the caller's own
SHARED_IN_PROGRAM |= {"listMemberOwedPacks"}     # a member's owed packs (another merchant's caller: its own packs')
# These answer in the caller's own program (P2's own rules, figures, merchants...), never P1's.
# (P2 may well have a merchant of its own called demo-merchant: ids are per program.)
OWN_PROGRAM = {"putEarnRules", "getEarnRules", "getPointsLiability", "createMerchant", "createStore", "createApiKey",
               "getDailyStats", "listJobRuns", "listMembers",
               "runJob", "putTierLadder", "getTierLadder", "putMembershipPlans", "getMembershipPlans",
               "putBenefitRules", "getBenefitRules", "putTasks", "getTasks",
               "putTopUpBonusRules", "getTopUpBonusRules", "getStoredValueLiability", "getStoredValueMovements",
               "getFundSupervisionStatement", "listGiftCardBatches", "createWebhookSubscription",
               "listWebhookSubscriptions", "createCouponTemplate", "listCouponTemplates", "getCouponPacks",
               "getCouponReconciliation"}
OWN_PROGRAM |= {"putPriceLists", "getPriceLists"}
OWN_PROGRAM |= {"getCouponPackStats"}
OWN_PROGRAM |= {"listWebhookEventTypes"}        # the catalogue: the code's, the same in every program
TARGETS |= {"putMemberSettings": lambda t: ({}, {"settings": {}}, None),     # the defaults: pay-as-member off
            "getMemberSettings": lambda t: ({}, None, None)}
SHARED_IN_PROGRAM |= {"getMemberSettings"}      # the program's settings, as getTierLadder
OWN_PROGRAM |= {"putMemberSettings", "getMemberSettings"}
# the directory (#28 item 5): A's merchant and its demo-store; the program is always the caller's own
TARGETS |= {"getProgram": lambda t: ({}, None, None),
            "updateProgram": lambda t: ({}, {"version": t["program_version"](), "name": "walk"}, None),
            "listMerchants": lambda t: ({}, None, None),
            "getMerchant": lambda t: ({"merchant_id": A[1]}, None, None),
            "updateMerchant": lambda t: ({"merchant_id": A[1]}, {"version": 0, "name": "taken over"}, None),
            "listStores": lambda t: ({"merchant_id": A[1]}, None, None),
            "getStore": lambda t: ({"merchant_id": A[1], "store_id": "demo-store"}, None, None),
            "updateStore": lambda t: ({"merchant_id": A[1], "store_id": "demo-store"},
                                      {"version": 0, "name": "taken over"}, None)}
SHARED_IN_PROGRAM |= {"getProgram", "listMerchants"}      # the caller's own program; merchant staff: their own merchant
# (P2's own demo-merchant, were a test to make one, is P2's to read and change)
OWN_PROGRAM |= {"getProgram", "updateProgram", "listMerchants", "getMerchant", "updateMerchant", "listStores",
                "getStore", "updateStore"}
# staff accounts (#28): a clerk of A's demo-store, made by A's HQ; the policy and the caller's
# own account are the caller's program's and the caller's own
TARGETS |= {"createStaff": lambda t: ({}, {"login": f"walk-{fresh_phone()}", "display_name": "walk", "role": "clerk",
                                           "merchant_id": A[1], "store_id": "demo-store",
                                           "password": "Walk-the-tenancy-42"}, None),
            "listStaff": lambda t: ({}, None, {"merchant_id": A[1]}),
            "getStaff": lambda t: ({"staff_id": t["staff"]}, None, None),
            "updateStaff": lambda t: ({"staff_id": t["staff"]}, {"role": "store_manager", "version": 1}, None),
            "disableStaff": lambda t: ({"staff_id": t["staff"]}, None, None),
            "enableStaff": lambda t: ({"staff_id": t["staff"]}, None, None),
            "resetStaffPassword": lambda t: ({"staff_id": t["staff"]}, None, None),
            "unlockStaff": lambda t: ({"staff_id": t["staff"]}, None, None),
            "getMyStaffAccount": lambda t: ({}, None, None),
            "logoutStaff": lambda t: ({}, None, None),
            "changeStaffPassword": lambda t: ({}, {"current_password": "Walk-the-tenancy-42",
                                                   "new_password": "Taken-over-by-walk-9"}, None),
            "enrollStaffTotp": lambda t: ({}, {"password": "Walk-the-tenancy-42"}, None),
            "getStaffPolicy": lambda t: ({}, None, None),
            "putStaffPolicy": lambda t: ({}, {"policy": {"totp_roles": []}}, None)}
OWN_PROGRAM |= {"listStaff", "getStaffPolicy", "putStaffPolicy"}
# a program's super admin reconciles its own program's books only (P2's: P2's)
TARGETS |= {"runReconciliation": lambda t: ({"ledger": "points"}, None, None)}
OWN_PROGRAM |= {"runReconciliation"}
TARGETS |= {"listAuditLog": lambda t: ({}, None, {"member_id": t["bob"]})}   # P2's own log: never P1's entries
OWN_PROGRAM |= {"listAuditLog"}                 # (tests/e2e/test_audit_log_http.py checks what it lists)
# the member balance sheet (#29 item 2): A's lines asked for by name; P2's HQ sees its own program's
TARGETS |= {"getBalanceSheet": lambda t: ({}, None, {"merchant_id": A[1]}),
            "putPointsValuation": lambda t: ({}, {"valuation": {}}, None),
            "getPointsValuation": lambda t: ({}, None, None)}
OWN_PROGRAM |= {"getBalanceSheet", "putPointsValuation", "getPointsValuation"}
# the dashboard (#29): A's merchant and demo-store's figures; another merchant's callers and another
# store's are refused, another program's read their own program's rows (never P1's)
TARGETS |= {"getDashboard": lambda t: ({}, None, {"period": "month", "merchant_id": A[1], "store_id": "demo-store"}),
            "getDashboardSeries": lambda t: ({}, None, {"start": "2026-01-01", "end": "2026-01-31", "merchant_id": A[1],
                                                        "store_id": "demo-store", "metrics": "gmv_fen"})}
OWN_PROGRAM |= {"getDashboard", "getDashboardSeries"}
# exports (#29 item 3): merchant A's export, made by A's HQ in the fixture; P2's HQ may export its
# own program's records (its own "demo-merchant" included), never program 1's
TARGETS |= {"createExport": lambda t: ({}, {"kind": "points_ledger", "start": t["today"], "end": t["today"],
                                           "merchant_id": A[1]}, None),
            "getExport": lambda t: ({"export_id": t["export"]}, None, None),
            "listExports": lambda t: ({}, None, None)}
OWN_PROGRAM |= {"createExport", "listExports"}
SHARED_IN_PROGRAM |= {"listExports"}        # the caller's own exports (another merchant's: none of A's)
# mall settlement (#29 item 4): A's statements asked for by name; P2 reads, closes and reconciles its own
TARGETS |= {"listSettlementStatements": lambda t: ({}, None, {"period": "2026-11", "merchant_id": A[1]}),
            "getSettlementStatement": lambda t: ({"period": "2026-11", "party": A[1], "counterparty": "program"},
                                                 None, None),
            "closeSettlementPeriod": lambda t: ({"period": "2020-01"}, {}, None),
            "getSettlementReconciliation": lambda t: ({}, None, {"period": "2026-11"})}
OWN_PROGRAM |= {"listSettlementStatements", "getSettlementStatement", "closeSettlementPeriod",
                "getSettlementReconciliation"}
# the earn rules' dry run (#30): an order of A's demo-store for A's member; refused to another
# merchant, store and program like earnPoints, and it writes nothing anyway
TARGETS |= {"previewEarn": lambda t: ({}, {"merchant_id": A[1], "store_id": "demo-store", "amount_fen": 100,
                                           "member_id": t["bob"]}, None)}
# the jobs' last runs for HQ (#30): the deployment's runs, when not what; P2's HQ reads the same
# moments and never a count (tests/e2e/test_program_jobs_http.py)
TARGETS |= {"listProgramJobs": lambda t: ({}, None, None)}
OWN_PROGRAM |= {"listProgramJobs"}
PROTECTED = [op for op in REGISTRY if not op.public]


def test_every_operation_has_a_tenancy_target():
    assert len(PROTECTED) >= 31
    assert {op.operation_id for op in PROTECTED} <= set(TARGETS)


@pytest.fixture(scope="module")
def target(api, stack):
    bob, phone = register_at(api, stack, A)
    order = f"walk-{bob}"
    assert api.call("POST", f"/v1/members/{bob}/points/earn", {"order_id": order, "amount_fen": 20_000},
                    signed_by=pos(stack, A), key=f"we-{bob}").status_code == 201
    hold = api.call("POST", f"/v1/members/{bob}/points/holds", {"points": 5}, signed_by=pos(stack, A),
                    key=f"wh-{bob}").json()["hold_id"]
    assert api.call("POST", f"/v1/members/{bob}/stored-value/top-ups", {"amount_fen": 1_000, "payment_ref": f"w-{bob}"},
                    signed_by=pos(stack, A), key=f"wt-{bob}").status_code == 201
    sv_hold = api.call("POST", f"/v1/members/{bob}/stored-value/holds", {"amount_fen": 10, "order_id": f"svw-{bob}"},
                       signed_by=pos(stack, A), key=f"wsh-{bob}").json()["hold_id"]
    sv_order = f"svp-{bob}"                                      # a stored value payment at A's demo-store
    assert api.call("POST", f"/v1/members/{bob}/stored-value/payments", {"amount_fen": 20, "order_id": sv_order},
                    signed_by=pos(stack, A), key=f"wsp-{bob}").status_code == 201
    hq = staff(api, stack, A, "super_admin")
    batch = api.call("POST", "/v1/gift-cards/batches", {"name": "walk", "face_value_fen": 100, "count": 2,
                                                         "valid_until": "2099-01-01", "merchant_ids": [A[1]],
                                                         "issuer_merchant_id": A[1]},
                     headers=hq, key=f"wgb-{bob}").json()["batch_id"]
    api.call("POST", "/v1/jobs/gift-card-batches/runs", {"program_id": A[0]}, headers=api.staff("platform_admin"),
             key=f"wgj-{bob}")
    gc_card = api.call("GET", f"/v1/gift-cards/batches/{batch}", headers=hq).json()["first_number"]
    assert api.call("POST", f"/v1/gift-cards/batches/{batch}/sales", {"invoice_ref": f"w-{bob}", "purchaser": "walk",
                                                                      "activate": False},
                    headers=hq, key=f"wgs-{bob}").status_code == 201
    card = f"CARD-{bob[-8:]}"
    assert api.call("POST", f"/v1/members/{bob}/identities", {"type": "card_no", "value": card},
                    headers=staff(api, stack, A, "super_admin"), key=f"wc-{bob}").status_code == 201
    from tests.e2e.test_gift_cards_http import ready_cards
    _, numbers, secrets = ready_cards(api, stack, f"walk-{bob}", 1, 1, issuer=A[1])       # a gift card hold of A's
    gc_hold = api.call("POST", "/v1/gift-cards/holds", {"card_number": numbers[0], "secret": secrets[numbers[0]],
                                                        "amount_fen": 10, "order_id": f"gch-{bob}"},
                       signed_by=pos(stack, A), key=f"wgh-{bob}").json()["hold_id"]
    hook = api.call("POST", "/v1/webhooks/subscriptions", {"url": "http://127.0.0.1:9/walk", "filters": ["webhook.test"],
                                                            "merchant_id": A[1]}, headers=hq, key=f"wwh-{bob}")
    assert hook.status_code == 201, hook.text
    webhook = hook.json()["subscription_id"]
    tested = api.call("POST", f"/v1/webhooks/subscriptions/{webhook}/test", headers=hq, key=f"wwt-{bob}")
    assert tested.status_code == 200 and tested.json()["delivered"] is False      # nobody listens on port 9
    template = api.call("POST", "/v1/coupon-templates", {"terms": COUPON_TERMS, "stock": 5, "state": "active",
                                                          "merchant_id": A[1]}, headers=hq, key=f"wct-{bob}")
    assert template.status_code == 201, template.text
    coupon_template = template.json()["template_id"]
    coupons = [api.call("POST", f"/v1/members/{bob}/coupons", {"template_id": coupon_template},
                        signed_by=pos(stack, A), key=f"wcc{i}-{bob}").json() for i in range(3)]
    coupon_hold = api.call("POST", "/v1/coupons/holds", {"code": coupons[2]["code"], "order_id": f"walk-ch-{bob}",
                                                         "order_amount_fen": 2_000}, signed_by=pos(stack, A),
                           key=f"wch-{bob}")
    assert coupon_hold.status_code == 201, coupon_hold.text
    assert api.call("PUT", "/v1/coupon-packs", {"packs": {"packs": [{"id": "walk-pack", "name": "walk", "items": [
        {"template_id": coupon_template}]}]}}, headers=hq, key=f"wcp-{bob}").status_code == 201
    issued = api.call("POST", f"/v1/coupon-templates/{coupon_template}/issues", {"member_ids": [bob]}, headers=hq,
                      key=f"wci-{bob}")
    assert issued.status_code == 202, issued.text
    coupon_order = f"walk-co-{bob}"
    assert api.call("POST", "/v1/coupons/write-offs", {"code": coupons[1]["code"], "order_id": coupon_order,
                                                       "order_amount_fen": 2_000},
                    signed_by=pos(stack, A), key=f"wcw-{bob}").status_code == 201
    bob_app = api.bearer(api.call("POST", "/v1/auth/member-tokens", {"member_id": bob, "verified_by": "sms_otp"},
                                  headers=hq).json()["token"])
    assert api.call("GET", "/v1/members/me/member-code", headers=bob_app).status_code == 200   # (made before the dumps)
    quote = api.call("POST", "/v1/checkouts/quotes", {"member_id": bob, "lines": [
        {"sku": "W", "quantity": 1, "unit_price_fen": 100}]}, signed_by=pos(stack, A), key=f"wq-{bob}")
    assert quote.status_code == 201, quote.text
    second = api.call("POST", "/v1/checkouts/quotes", {"member_id": bob, "lines": [
        {"sku": "W", "quantity": 2, "unit_price_fen": 100}]}, signed_by=pos(stack, A), key=f"wq2-{bob}")
    checkout = api.call("POST", "/v1/checkouts", {"quote_id": second.json()["quote_id"]}, signed_by=pos(stack, A),
                        key=f"wco-{bob}")
    assert checkout.status_code == 201 and checkout.json()["status"] == "committed", checkout.text
    made = api.call("POST", "/v1/staff", {"login": f"walk-clerk-{bob.lower()[-8:]}", "display_name": "A's clerk",
                                          "role": "clerk", "merchant_id": A[1], "store_id": "demo-store",
                                          "password": "Walk-the-tenancy-42"}, headers=hq, key=f"wst-{bob}")
    assert made.status_code == 201, made.text
    today = clock.program_date().isoformat()
    export = api.call("POST", "/v1/exports", {"kind": "points_ledger", "start": today, "end": today,
                                              "merchant_id": A[1]}, headers=hq, key=f"wex-{bob}")
    assert export.status_code == 202, export.text
    return {"export": export.json()["export_id"], "today": today, "quote": quote.json()["quote_id"], "checkout": checkout.json()["checkout_id"],"member_code": lambda: api.call("GET", "/v1/members/me/member-code", headers=bob_app).json()["code"],
            "coupon_hold": coupon_hold.json()["hold_id"], "coupon_template": coupon_template, "coupon_issue": issued.json()["issue_id"], "coupon": coupons[0]["coupon_id"], "coupon_code": coupons[0]["code"],
            "used_coupon_code": coupons[1]["code"], "coupon_order": coupon_order,
            "bob": bob, "phone": phone, "order": order, "hold": hold, "key": pos(stack, A)["key_id"], "card": card,
            "sv_hold": sv_hold, "sv_order": sv_order, "gc_batch": batch, "gc_card": gc_card, "gc_hold": gc_hold,
            "webhook": webhook, "webhook_event": tested.json()["event_id"],
            # updateProgram is admitted for super admins only: P2's, aimed at its own program
            "program_version": lambda: api.call("GET", "/v1/program", headers=staff(api, stack, P2, "super_admin"))
            .json()["version"],
            "staff": made.json()["staff_id"]}


def _call(api, op, t, headers, signed):
    params, body, query = TARGETS[op.operation_id](t)
    path = op.path
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    if op.body is not None and body is None:
        body = {}
    return api.call(op.method, path, body, headers=headers, signed_by=signed, params=query,
                    key=f"walk-{op.operation_id}-{fresh_phone()}")


def _callers(api, stack, who, hq=True):
    from devstack.credentials import staff_token
    admin = api.bearer(staff_token("merchant_admin", f"walk-{who[1]}-admin", who[1], program_id=who[0]))
    callers = [("pos", None, pos(stack, who)), ("clerk", staff(api, stack, who, "clerk"), None),
               ("store_manager", staff(api, stack, who, "store_manager"), None), ("merchant_admin", admin, None)]
    return callers + ([("hq", staff(api, stack, who, "super_admin"), None)] if hq else [])


def test_another_program_reaches_nothing_of_program_one(api, stack, target):
    # Everything of program 1 but what the stream pump keeps folding earlier tests' events into
    # while the walk runs: projections, and tiers moved by growth (none holds a record a caller
    # could address).
    derived = tuple(f"default/{p}" for p in ("PTSSTAT#", "PTSLIAB#", "STATS#", "APPLIED#",
                                                          "PREPAID", "COUPONSTATS#", "BSDAY#", "BSPLUS"))
    # (program 1's keys: program 2's own keys record when they were last used)
    in_p1 = lambda pk, item: ((pk.startswith("default/") or pk.startswith("APIKEY#")  # noqa: E731
                               and item.get("program_id", {}).get("S", "default") == "default")
                              and not pk.startswith(derived) and not item["sk"]["S"].startswith("TIER"))
    before = stored_items(stack, in_p1)
    for op in PROTECTED:
        for name, headers, signed in _callers(api, stack, P2):
            r = _call(api, op, target, headers, signed)
            if op.operation_id in OWN_PROGRAM and r.status_code < 300:
                continue
            assert r.status_code in (403, 404, 422), (op.operation_id, name, r.status_code, r.text[:300])
    assert stored_items(stack, in_p1) == before


def test_another_merchant_reaches_none_of_merchant_as_records(api, stack, target):
    bob = target["bob"]

    def a_owned(pk, item):
        return (pk.startswith(("default/ORDER#demo-merchant#", "default/REFUND#demo-merchant#",
                               "default/MERCHANT#demo-merchant", "default/WEBHOOK#",
                               "default/COUPONTPL#", "default/COUPONCODE#", "default/COUPONTP#", "default/STOCK#", "default/COUPONISSUE#",
                               "default/COUPONHOLD#", "default/QUOTE#", "default/CHECKOUT#", "default/COUPONUSE#",
                               f"default/AUDIT#{bob}", "default/IDENTITY#", "default/STAFF#", "default/STAFFLOGIN#",
                               "default/STAFFPOLICY"))
                or pk == f"default/MEMBER#{bob}" and (item["sk"]["S"] == "PROFILE" or "#HOLD#" in item["sk"]["S"]
                                                      or item["sk"]["S"].startswith("COUPON")))
    before = stored_items(stack, a_owned)
    for op in PROTECTED:
        if op.operation_id in SHARED_IN_PROGRAM:
            continue
        # (not HQ: the program's head office acts for every merchant, A included)
        for name, headers, signed in _callers(api, stack, B, hq=False):
            r = _call(api, op, target, headers, signed)
            assert r.status_code in (403, 404, 422), (op.operation_id, name, r.status_code, r.text[:300])
    assert stored_items(stack, a_owned) == before


# Within merchant A, a caller confined to another store may still call these: they read or
# change what the program shares (the member, its balances) or book a new record of the caller's
# own store (a hold or top-up without an order of demo-store's), or act on the merchant's gift cards,
# which belong to the merchant, not to a store (any of its tills activates one it sold). None of
# them may touch a record demo-store took, which the dump below proves.
OWN_STORE = {"holdPoints", "topUpStoredValue", "holdStoredValue", "listMembers", "getDailyStats", "listOrders",
             "listMemberCheckouts",
             "payWithStoredValue", "activateGiftCard",
             # the merchant's coupon templates are the merchant's, not a store's: any of its stores
             # reads them, issues their coupons and checks a code (a write-off of demo-store's is its own)
             "getCouponTemplate", "claimCoupon", "validateCoupon", "grantCouponPack", "issueCoupons", "getCouponIssue",
             "getCouponStats", "holdCoupon"}
OWN_STORE |= {"getMerchant", "listStores"}      # store staff read their merchant and its list of stores


@pytest.fixture(scope="module")
def other_store(api, stack):
    """A second store of merchant A, with a POS key scoped to it and its store manager."""
    from devstack.credentials import staff_token
    hq = staff(api, stack, A, "super_admin")
    store = "walk-store-2"
    r = api.call("POST", f"/v1/merchants/{A[1]}/stores", {"store_id": store, "name": "walk 2"}, headers=hq,
                 key=f"ws2-{fresh_phone()}")
    assert r.status_code in (201, 409), r.text
    key = api.call("POST", f"/v1/merchants/{A[1]}/api-keys", {"store_id": store}, headers=hq,
                   key=f"wk2-{fresh_phone()}").json()
    manager = api.bearer(staff_token("store_manager", "walk-s2-manager", A[1], store, program_id=A[0]))
    clerk = api.bearer(staff_token("clerk", "walk-s2-clerk", A[1], store, program_id=A[0]))
    return [("store pos", None, {"key_id": key["key_id"], "secret": key["secret"]}),
            ("store_manager", manager, None), ("clerk", clerk, None)]


def test_another_store_reaches_none_of_the_stores_records(api, stack, target, other_store):
    """Issue #20 item 9: a key scoped to demo-store's sibling refunded a payment taken at
    demo-store (201), as did that store's manager; holds were checked by merchant only. Every
    operation, aimed at demo-store's records by a key and by staff of another store of the same
    merchant, is refused, and demo-store's records are unchanged."""
    bob = target["bob"]

    def store_owned(pk, item):
        return (pk.startswith(("default/ORDER#demo-merchant#", "default/REFUND#demo-merchant#",
                               "default/SVORDER#demo-merchant#", f"default/AUDIT#{bob}", "default/IDENTITY#",
                               "default/COUPONHOLD#", "default/QUOTE#"))
                or pk == f"default/MEMBER#{bob}" and (item["sk"]["S"] == "PROFILE" or "HOLD#" in item["sk"]["S"]))
    before = stored_items(stack, store_owned)
    succeeded = []
    for op in PROTECTED:
        if op.operation_id in SHARED_IN_PROGRAM:
            continue
        for name, headers, signed in other_store:
            r = _call(api, op, target, headers, signed)
            if r.status_code < 300:
                succeeded.append(op.operation_id)
                continue
            assert r.status_code in (403, 404, 409, 422, 423, 429), (op.operation_id, name, r.status_code, r.text[:300])
    assert set(succeeded) <= OWN_STORE, sorted(set(succeeded) - OWN_STORE)
    after = stored_items(stack, store_owned)
    added = set(after) - set(before)            # the walk's own holds at its own store
    assert {k: v for k, v in after.items() if k not in added} == before
    # what the walk booked at its own store: holds, and a stored value payment of its own
    assert all(after[k].get("store_id", {}).get("S") == "walk-store-2" for k in added), \
        [(k[2], after[k]) for k in added if after[k].get("store_id", {}).get("S") != "walk-store-2"]


def test_another_merchants_admin_reaches_none_of_merchant_as_keys(api, stack, target):
    """A merchant admin of B aimed at A's keys (create, list, rotate, revoke, and A's key named under
    B's own merchant): refused, and A's keys unchanged."""
    from devstack.credentials import staff_token
    admin_b = api.bearer(staff_token("merchant_admin", "walk-b-admin", B[1], program_id=B[0]))
    a_keys = lambda pk, item: pk.startswith("APIKEY#") and item["merchant_id"]["S"] == A[1]  # noqa: E731
    before = stored_items(stack, a_keys)
    calls = [("POST", f"/v1/merchants/{A[1]}/api-keys", {"store_id": "demo-store"}),
             ("GET", f"/v1/merchants/{A[1]}/api-keys", None),
             ("POST", f"/v1/merchants/{A[1]}/api-keys/{target['key']}/rotate", {"overlap_hours": 1}),
             ("POST", f"/v1/merchants/{A[1]}/api-keys/{target['key']}/revoke", {}),
             ("POST", f"/v1/merchants/{B[1]}/api-keys/{target['key']}/rotate", {}),
             ("POST", f"/v1/merchants/{B[1]}/api-keys/{target['key']}/revoke", {})]
    for method, path, body in calls:
        r = api.call(method, path, body, headers=admin_b, key=f"walk-keys-{fresh_phone()}")
        assert r.status_code in (403, 404), (method, path, r.status_code, r.text[:300])
    assert stored_items(stack, a_keys) == before
