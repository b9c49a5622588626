// The console's pages: one file per page, one entry here. An entry names the operations the page
// calls (typed against the generated document), and the menu shows it only to roles that may
// call them all. A later page is a new file and a new line.
import type { Component } from "vue";
import type { OperationId } from "../api/permissions";

export interface Page {
  path: string;
  name: string;
  /** i18n key of its title in the menu and the header */
  title: string;
  /** every operation the page calls: the role must be admitted to each */
  needs: OperationId[];
  component: () => Promise<{ default: Component }>;
  /** false: reached from another page, not from the menu */
  menu?: boolean;
  /** false: not in the menu of a store's staff (the till's people: configuration and the program's
   * operations are HQ's and the merchant's), though a store's staff may still open it by its address */
  storeMenu?: boolean;
  /** a page of the till: first in the menu of a store's staff (and so the page they land on) */
  till?: boolean;
}

/** The menu's sections, in order, and which section each page of the menu is in (a page not
 * named here is in "work"). */
export const SECTIONS = ["work", "config", "money", "system"] as const;
export type Section = (typeof SECTIONS)[number];
const SECTION_OF: Record<string, Section> = {
  "earn-rules": "config", "tier-ladder": "config", "top-up-bonus": "config", campaign: "config", coupons: "config",
  plans: "config", tasks: "config", "benefit-rules": "config", "price-lists": "config", "coupon-packs": "config",
  "points-valuation": "config",
  "stored-value": "money", "gift-cards": "money", settlement: "money", "settlement-reconciliation": "money",
  exports: "money",
  "audit-log": "system", staff: "system", "api-keys": "system", webhooks: "system", "job-runs": "system",
};

/** The menu of a role grouped in its sections (empty sections left out), in menu order. */
export function sectionsOf(pages: Page[]): { section: Section; pages: Page[] }[] {
  return SECTIONS.map((section) => ({ section, pages: pages.filter((p) => (SECTION_OF[p.name] ?? "work") === section) }))
    .filter((s) => s.pages.length > 0);
}

/** The pages in the menu of a role (and, for a store's staff, ``atStore``). */
export function menuOf(mayOpen: (page: Page) => boolean, atStore: boolean): Page[] {
  const shown = PAGES.filter((p) => p.menu !== false && !(atStore && p.storeMenu === false) && mayOpen(p));
  return atStore ? [...shown.filter((p) => p.till), ...shown.filter((p) => !p.till)] : shown;
}

export const PAGES: Page[] = [
  { path: "/dashboard", name: "dashboard", title: "menu.dashboard", needs: ["getDashboard", "getDashboardSeries"],
    component: () => import("./DashboardPage.vue") },
  { path: "/members", name: "members", title: "menu.members", needs: ["findMember", "getMember"],
    component: () => import("./MembersPage.vue") },
  { path: "/members/:memberId", name: "member", title: "menu.member", menu: false,
    needs: ["getMember", "getMemberTier", "getPointsAccount", "getStoredValueAccount", "listMemberCoupons", "listTierHistory"],
    component: () => import("./MemberPage.vue") },
  // configuration (versioned: in force, scheduled, the list; a save is a new version)
  { path: "/config/earn-rules", name: "earn-rules", storeMenu: false, title: "menu.earnRules", needs: ["getEarnRules", "previewEarn"],
    component: () => import("./EarnRulesPage.vue") },
  { path: "/config/tier-ladder", name: "tier-ladder", storeMenu: false, title: "menu.tierLadder", needs: ["getTierLadder"],
    component: () => import("./TierLadderPage.vue") },
  { path: "/config/top-up-bonus", name: "top-up-bonus", storeMenu: false, title: "menu.topUpBonus", needs: ["getTopUpBonusRules", "getCouponPacks"],
    component: () => import("./TopUpBonusPage.vue") },
  { path: "/config/campaign", name: "campaign", storeMenu: false, title: "menu.campaign",
    needs: ["createCouponTemplate", "getCouponPacks", "putCouponPacks", "getTopUpBonusRules", "putTopUpBonusRules"],
    component: () => import("./CampaignPage.vue") },
  // operations
  { path: "/coupons", name: "coupons", storeMenu: false, title: "menu.coupons", needs: ["listCouponTemplates", "getCouponStats"],
    component: () => import("./CouponsPage.vue") },
  { path: "/exports", name: "exports", storeMenu: false, title: "menu.exports", needs: ["listExports", "createExport", "getExport"],
    component: () => import("./ExportsPage.vue") },
  { path: "/audit-log", name: "audit-log", storeMenu: false, title: "menu.auditLog", needs: ["listAuditLog"],
    component: () => import("./AuditLogPage.vue") },
  { path: "/staff", name: "staff", storeMenu: false, title: "menu.staff", needs: ["listStaff"],
    component: () => import("./StaffPage.vue") },
  { path: "/api-keys", name: "api-keys", storeMenu: false, title: "menu.apiKeys", needs: ["listApiKeys"],
    component: () => import("./ApiKeysPage.vue") },
  { path: "/settlement", name: "settlement", storeMenu: false, title: "menu.settlement",
    needs: ["listSettlementStatements", "getSettlementStatement"], component: () => import("./SettlementPage.vue") },
  { path: "/webhooks", name: "webhooks", storeMenu: false, title: "menu.webhooks",
    needs: ["listWebhookSubscriptions", "listWebhookDeliveries", "listWebhookEventTypes"], component: () => import("./WebhooksPage.vue") },
  // configuration, continued (each on ConfigPage)
  { path: "/config/plans", name: "plans", storeMenu: false, title: "plans.menu", needs: ["getMembershipPlans"],
    component: () => import("./MembershipPlansPage.vue") },
  { path: "/config/tasks", name: "tasks", storeMenu: false, title: "tasks.menu", needs: ["getTasks"],
    component: () => import("./TasksPage.vue") },
  { path: "/config/benefit-rules", name: "benefit-rules", storeMenu: false, title: "benefits.menu", needs: ["getBenefitRules"],
    component: () => import("./BenefitRulesPage.vue") },
  { path: "/config/price-lists", name: "price-lists", storeMenu: false, title: "prices.menu", needs: ["getPriceLists"],
    component: () => import("./PriceListsPage.vue") },
  { path: "/config/coupon-packs", name: "coupon-packs", storeMenu: false, title: "packs.menu", needs: ["getCouponPacks", "listCouponTemplates"],
    component: () => import("./CouponPacksPage.vue") },
  { path: "/config/points-valuation", name: "points-valuation", storeMenu: false, title: "valuation.menu", needs: ["getPointsValuation"],
    component: () => import("./PointsValuationPage.vue") },
  // operations and the till (issue #30, fourth part)
  { path: "/till", name: "till", title: "ops.menu.till", till: true,
    needs: ["findMember", "getMember", "getMemberTier", "getPointsAccount", "getStoredValueAccount", "listMemberCoupons", "validateCoupon", "writeOffCoupon"],
    component: () => import("./TillPage.vue") },
  { path: "/stored-value", name: "stored-value", storeMenu: false, title: "ops.menu.storedValue",
    needs: ["getStoredValueLiability", "getStoredValueMovements", "getFundSupervisionStatement", "getStoredValueReconciliation"],
    component: () => import("./StoredValuePage.vue") },
  { path: "/gift-cards", name: "gift-cards", storeMenu: false, title: "ops.menu.giftCards",
    needs: ["listGiftCardBatches", "getGiftCardReconciliation"], component: () => import("./GiftCardsPage.vue") },
  { path: "/gift-cards/batches/:batchId", name: "gift-card-batch", title: "ops.menu.giftCardBatch", menu: false,
    needs: ["getGiftCardBatch"], component: () => import("./GiftCardBatchPage.vue") },
  { path: "/gift-cards/cards/:cardNumber", name: "gift-card", title: "ops.menu.giftCard", menu: false,
    needs: ["getGiftCard"], component: () => import("./GiftCardPage.vue") },
  { path: "/settlement/reconciliation", name: "settlement-reconciliation", storeMenu: false, title: "ops.menu.settlementReconciliation",
    needs: ["getSettlementReconciliation"], component: () => import("./SettlementReconciliationPage.vue") },
  { path: "/jobs", name: "job-runs", storeMenu: false, title: "ops.menu.jobRuns", needs: ["listProgramJobs"],
    component: () => import("./JobRunsPage.vue") },
];
