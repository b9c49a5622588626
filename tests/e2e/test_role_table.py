"""The role walk: every operation x every staff role, allowed or refused, from one table.

The table is written out here, by hand, from what each role is for (docs/operators/staff.md), not
read from the routes: a route that admits a role this table does not (or refuses one it lists)
fails, and so does an operation the table does not know. Over HTTP, every refused role gets 403
(``test_auth_matrix``) and every admitted role gets past authorisation (here).
"""

from __future__ import annotations

import re

import pytest

import app  # noqa: F401  (declares every route)
from chalicelib.api.operation import REGISTRY
from chalicelib.shared.credentials import mint_token
from chalicelib.shared.principal import STAFF_ROLES, Principal

SA, OPS, FIN, AUD = "super_admin", "ops_manager", "finance", "auditor"
MA, SM, CL = "merchant_admin", "store_manager", "clerk"
HQ = {SA, OPS}
READERS = {FIN, AUD}
MERCHANT_STAFF = {MA, SM, CL}

# who may call what
EVERY = HQ | READERS | MERCHANT_STAFF                 # reads every program role may make
OPERATORS = HQ | MERCHANT_STAFF                       # the till's writes (merchant staff for their own)
HQ_READS = HQ | READERS                               # program-wide reads: money, reconciliations, audits
AUTHORS = HQ | {MA}                                   # a merchant's own coupons
TABLE: list[tuple[frozenset[str], str]] = [    # (who, the operations they may call)
    (frozenset(HQ), """
        putBenefitRules putCouponPacks createGiftCardBatch exportGiftCardSecrets sellGiftCards voidGiftCard
        payOutVoidedGiftCard extendGiftCard recogniseGiftCardBreakage putMemberSettings adjustPoints putEarnRules
        putPriceLists putTopUpBonusRules cashOutStoredValue approveStoredValueCashOut rejectStoredValueCashOut
        putTasks putTierLadder putMembershipPlans setMemberTier claimBenefit claimCoupon recordBehavior
        earnPoints refundOrder topUpStoredValue purchaseMembership renewMembership updateMember bindIdentity
        unbindIdentity issueMemberToken changeMemberPhone cancelMembership createWebhookSubscription
        updateWebhookSubscription deleteWebhookSubscription rotateWebhookSecret replayWebhookEvents
        sendTestWebhook downloadGiftCardSecrets getMemberCode"""),
    (frozenset(EVERY), """
        getBenefitRules listCouponTemplates getCouponPacks getCouponStats getCouponHold getGiftCardHold listMembers
        getMemberSettings getPointsHold getOrder getPriceLists getTierLadder getMemberBenefits listEntitlements
        getCheckoutQuote getCheckout listMemberCheckouts getCouponTemplate listMemberCoupons getCoupon
        listMemberOwedPacks getMemberOverview listOrders getPointsAccount listPointsLedger getTopUpBonusRules
        getStoredValueAccount listStoredValueLedger getTasks getMemberTasks getMembershipPlans getMemberTier
        listTierHistory getMembership lookupMember findMember getMember getEarnRules getDailyStats
        getMyStaffAccount logoutStaff changeStaffPassword enrollStaffTotp"""),
    (frozenset(OPERATORS), """
        quoteCheckout redeemGiftCard redeemPoints priceCart commitCheckout completeCheckout cancelCheckout
        refundCheckout validateCoupon writeOffCoupon undoCouponWriteOff holdCoupon confirmCouponHold
        cancelCouponHold activateGiftCard payWithGiftCard holdGiftCard confirmGiftCardHold cancelGiftCardHold
        refundGiftCardPayment resolveMemberCode holdPoints confirmPointsHold cancelPointsHold payWithStoredValue
        holdStoredValue confirmStoredValueHold cancelStoredValueHold registerMember checkGiftCardBalance"""),
    (frozenset(HQ_READS), """
        getCouponReconciliation getCouponPackStats listGiftCardBatches getGiftCardBatch getGiftCard
        getGiftCardReconciliation listMemberAudit getPointsLiability reconcilePoints getStoredValueCashOut
        getStoredValueReconciliation getStoredValueLiability getStoredValueMovements getFundSupervisionStatement
        listWebhookSubscriptions getWebhookSubscription listWebhookDeliveries listWebhookEventTypes getStaffPolicy"""),
    (frozenset(AUTHORS), """
        createCouponTemplate updateCouponTemplate setCouponTemplateState grantCouponPack issueCoupons
        importCouponCodes"""),
    (frozenset(AUTHORS | READERS), "getCouponIssue"),
    (frozenset({SA}), "createMerchant createStore putStaffPolicy updateProgram runReconciliation"),
    (frozenset({"platform_admin"}), "createProgram listPrograms listJobRuns runJob"),
    (frozenset(HQ | {MA, SM}), "refundStoredValuePayment"),
    (frozenset({SA, MA}), "createStaff updateStaff disableStaff enableStaff resetStaffPassword unlockStaff"),
    (frozenset(HQ | READERS | {MA}), "listStaff getStaff"),
    # the directory (#28 item 5): everyone reads (merchant staff their own merchant, store staff
    # their own store); super admins change any merchant, store and the program, a merchant admin
    # its own merchant and stores, a store manager its own store's name and address
    (frozenset(EVERY), "getProgram listMerchants getMerchant listStores getStore"),
    (frozenset({SA, MA}), "updateMerchant"),
    (frozenset({SA, MA, SM}), "updateStore"),
    (frozenset({SA, MA}), "createApiKey revokeApiKey rotateApiKey"),        # a merchant admin: its own merchant's
    (frozenset({SA, MA} | READERS), "listApiKeys"),
    (frozenset({SA, AUD}), "listAuditLog"),             # who did what: not ops_manager, not finance
    # the member balance sheet (#29 item 2): program-wide for HQ and the readers, a merchant
    # admin its own merchant's lines; the points valuation is HQ's configuration
    (frozenset(HQ_READS | {MA}), "getBalanceSheet"),
    (frozenset(HQ), "putPointsValuation"),
    (frozenset(HQ_READS), "getPointsValuation"),
    (frozenset(EVERY), "getDashboard getDashboardSeries"),   # #29: merchant staff their merchant, store staff their store
    (frozenset(HQ_READS | {MA}), "createExport getExport listExports"),   # exports (#29): a merchant admin its own
    # mall settlement (#29 item 4): a merchant admin its merchant's statements; finance closes a period
    (frozenset(HQ_READS | {MA}), "listSettlementStatements getSettlementStatement"),
    (frozenset({SA, FIN}), "closeSettlementPeriod"),
    (frozenset(HQ_READS), "getSettlementReconciliation"),
    (frozenset(EVERY), "previewEarn"),        # the earn rules' dry run (#30): a read sent as a POST
    (frozenset(HQ_READS), "listProgramJobs"),  # the jobs' last runs, when not what (#30): HQ's console
]
SELF_SERVICE = {"logoutStaff", "changeStaffPassword", "enrollStaffTotp"}   # a reader's own account: its writes
FINANCE_WRITES = {"closeSettlementPeriod"}      # closing the books of a month is finance's (issue #29 item 4)
EXPECTED = {op: roles for roles, ops in TABLE for op in ops.split()}
PROTECTED = [op for op in REGISTRY if not op.public]


def _caller(role: str) -> Principal:
    merchant = "demo-merchant" if role in MERCHANT_STAFF else None
    store = "demo-store" if role in (SM, CL) else None
    return Principal("staff", f"s-{role}", role, merchant, store)


def test_the_table_names_every_operation_once():
    listed = [op for _, ops in TABLE for op in ops.split()]
    assert len(listed) == len(set(listed)), "an operation is in two rows"
    assert sorted(listed) == sorted(op.operation_id for op in PROTECTED)


@pytest.mark.parametrize("op", PROTECTED, ids=lambda op: op.operation_id)
def test_each_operation_admits_exactly_the_roles_the_table_gives_it(op):
    admitted = {r for r in STAFF_ROLES if any(a.admits(_caller(r)) for a in op.allow)}
    assert admitted == EXPECTED[op.operation_id]


def test_read_only_roles_are_admitted_to_no_write():
    for op in PROTECTED:
        if READERS & EXPECTED[op.operation_id]:
            assert op.method == "GET" or op.operation_id in {"findMember", "createExport", "previewEarn"} | SELF_SERVICE | FINANCE_WRITES, \
                op.operation_id     # (an export reads: the readers ask for theirs)


@pytest.mark.parametrize("role", sorted(EVERY))
def test_over_http_every_admitted_role_gets_past_authorisation(api, role):
    """With made-up ids an admitted call ends in 404, 409 or 422, never in 401 or a role's 403."""
    p = _caller(role)
    claims = {k: v for k, v in (("merchant_id", p.merchant_id), ("store_id", p.store_id)) if v}
    headers = api.bearer(mint_token("staff", p.id, 5, role=role, **claims))
    for op in PROTECTED:
        if role not in EXPECTED[op.operation_id]:
            continue
        path = re.sub(r"{\w+}", "01J00000000000000000000000", op.path)
        r = api.call(op.method, path, {} if op.body else None, headers=headers, key=f"rt-{role}-{op.operation_id}")
        assert r.status_code != 401, (op.operation_id, r.text)
        if r.status_code == 403:
            assert "may not call this operation" not in r.json().get("detail", ""), (op.operation_id, r.text)
