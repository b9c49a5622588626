import type zh from "./zh-CN";

const en: typeof zh = {
  app: { title: "Member operations", logout: "Log out", language: "中文", role: "Role", forbidden: "Your role ({role}) may not open this page: it needs {needs}" },
  roles: {
    super_admin: "Super admin", ops_manager: "Operations manager", finance: "Finance", auditor: "Auditor",
    merchant_admin: "Merchant admin", store_manager: "Store manager", clerk: "Clerk",
  },
  menu: { dashboard: "Dashboard", members: "Members", member: "Member", earnRules: "Earn rules", tierLadder: "Tier ladder", topUpBonus: "Top-up bonus", campaign: "Top-up campaign", coupons: "Coupons", exports: "Exports", auditLog: "Audit log", staff: "Staff", apiKeys: "API keys", settlement: "Settlement", webhooks: "Webhooks" },
  login: {
    title: "Staff login", program: "Program", login: "Login name", password: "Password", totp: "TOTP code",
    submit: "Log in", totpRequired: "This account needs its TOTP code: type the 6 digits of your authenticator",
    enrol: "This role needs TOTP: scan the secret below into an authenticator, then log in with its 6 digits",
    locked: "Too many wrong passwords: this login is locked, try again in {seconds} s", wrong: "Wrong login name or password",
  },
  dashboard: {
    merchant: "Merchant", store: "Store", allMerchants: "All merchants", allStores: "All stores", period: "Period",
    day: "Day", week: "Week", month: "Month", date: "Date", previous: "previous", series: "Last 30 days",
    balanceSheet: "Member balance sheet", line: "Line", liability: "Liability", reconciliation: "Reconciliation", total: "Total",
    finishedAt: "finished", asOf: "as of",
    status: { ok: "Agrees", disagree: "Disagrees", never_run: "Never run", none: "None" },
    lines: { points: "Points", stored_value: "Stored value", gift_cards: "Gift cards", coupons: "Coupons", membership_fees: "Membership fees" },
    metrics: {
      new_members: "New members", active_members: "Active members", buyers: "Buyers", gmv_fen: "GMV",
      points_issued: "Points issued", points_redeemed: "Points redeemed", sv_topped_up_fen: "Top-ups", coupons_used: "Coupons used",
      checkouts: "Checkouts", members_total: "Members",
    },
  },
  members: {
    search: "Find a member", type: "Type", value: "Value", find: "Find", list: "Members", from: "Registered from", to: "to",
    stage: "Stage", anyStage: "Any stage", phone: "Phone", name: "Name", tier: "Tier", points: "Points",
    storedValue: "Stored value", registered: "Registered", open: "Open", more: "More", none: "No members",
    notFound: "No such member", chooseMerchant: "Choose a merchant",
    types: { phone: "Phone", card_no: "Card number", member_code: "Member code", wechat_openid: "WeChat OpenID", wechat_unionid: "WeChat UnionID", alipay_user_id: "Alipay user id", email: "Email", member_id: "Member id" },
    stages: { new: "New", active: "Active", dormant: "Dormant alert", churned: "Churned" },
    register: "Register a member", registerSubmit: "Register", registered_ok: "Registered member {id}",
  },
  member: {
    identities: "Identities", profile: "Profile", tier: "Tier", growth: "Growth", next: "Next tier", points: "Points",
    available: "Available", pending: "Pending", held: "Held", expiring: "Expiring soon", lots: "Point lots", expires: "Expires",
    storedValue: "Stored value", principal: "Principal", bonus: "Bonus", balance: "Balance", coupons: "Coupons", usable: "usable",
    couponState: "State", couponName: "Coupon", validUntil: "Valid until", none: "None",
  },
  config: {
    versions: "Versions", version: "Version", versionN: "in force: v{n}", defaults: "in force: the defaults (never saved)", noVersions: "No version saved yet",
    effectiveFrom: "In force from", state: "State", now: "Now", save: "Save as a new version", add: "Add", remove: "Remove",
    notMoney: "Type an amount, e.g. 12.34",
    states: { in_force: "In force", scheduled: "Scheduled", replaced: "Replaced" },
  },
  earn: {
    title: "Earn rules", pointsPerYuan: "Points per ¥1", rounding: "Rounding", growthPerYuan: "Growth per ¥1", steps: "Spend steps", step: "step",
    categories: "Category factors", categoriesKey: "category", tiers: "Tier factors", tiersKey: "tier code", caps: "Caps (order/day/month)",
    perOrder: "per order", perDay: "per day", perMonth: "per month", pendingDays: "Pending days", expiry: "Expiry",
    roundings: { floor: "Down", half_up: "Half up", ceil: "Up" },
    expiries: { never: "Never", days: "After days", year_end: "Year end", tier_validity: "With the tier", rolling: "Rolling" },
    preview: "Preview: this order would earn…", amount: "Order amount", category: "Category", memberId: "Member id (optional)", runPreview: "Preview",
    wouldEarn: "An order of {amount} under the form's rules would earn",
  },
  tiers: { title: "Tier ladder", code: "Code", name: "Name", threshold: "Growth threshold", validity: "Validity (months)", retain: "Growth to retain", add: "Add a tier" },
  bonus: {
    title: "Top-up bonus rules", id: "Rule id", name: "Name", kind: "Kind", fixed: "Fixed", percent: "Percent", min: "Least top-up",
    bonus: "Bonus", pack: "Coupon pack", add: "Add a rule",
  },
  campaign: {
    title: "Top-up bonus with a coupon (e.g. top up ¥200, get ¥30 and a ¥5 tea coupon)", template: "Coupon", pack: "Pack", rule: "Top-up bonus rule",
    couponTitle: "Coupon title", amountOff: "Amount off", validDays: "Valid days after claim", stock: "Stock", createTemplate: "Create the coupon, next",
    templateMade: "Coupon template {id} created", packId: "Pack id", packName: "Pack name", savePack: "Save the pack, next",
    packMade: "Pack {id} saved", saveRule: "Save the rule, finish", done: "The campaign is live",
    summary: "A top-up of {min} or more gets {bonus} and “{coupon}”",
  },
  coupons: {
    templates: "Coupon templates", title: "Title", kind: "Kind", value: "Value", program: "Head office", created: "Created", stats: "Figures",
    figures: { claimed: "Claimed", issued: "Issued", used: "Used", undone: "Undone", expired: "Expired", saving_fen: "Discount given",
      orders_fen: "Orders driven", stock: "Stock left" },
  },
  actions: {
    title: "Actions", reveal: "Reveal personal data", reason: "Reason (kept in the audit trail)", reasonNeeded: "Give a reason (3 characters at least)", revealSubmit: "Reveal",
    adjust: "Adjust points", adjustSubmit: "Adjust", grant: "Grant a coupon pack", grantSubmit: "Grant",
    adjusted: "Adjusted by {points} points; balance {balance}", granted: "Pack {pack} granted: {n} coupons",
  },
  exports: {
    create: "New export", kind: "Contents", format: "Format", period: "Period", submit: "Export", list: "Exports", refresh: "Refresh", rows: "Rows",
    download: "Download", getLink: "Get the link",
    kinds: { members: "Members", points_ledger: "Points ledger", stored_value_ledger: "Stored value ledger" },
    statuses: { queued: "Queued", running: "Running", done: "Done", failed: "Failed" },
  },
  audit: { title: "Audit log", staff: "Staff id", member: "Member id", action: "Kind", at: "When", actor: "Who", detail: "What" },
  staff: {
    create: "New staff account", login: "Login", name: "Name", submit: "Create", list: "Staff accounts", disable: "Disable", enable: "Enable",
    resetCode: "{login} created: one-time password code {code} (until {until}; shown this once)",
    statuses: { active: "Active", disabled: "Disabled" },
  },
  keys: { title: "API keys", create: "New till key", id: "Key id", capabilities: "Capabilities", revoke: "Revoke", secretOnce: "The signing secret of {id}, shown this once:" },
  settlement: {
    title: "Settlement statements", open: "Open", closed: "Closed ({at})", close: "Close the period (statements final)", parties: "Parties", aOwesB: "A owes B",
    bOwesA: "B owes A", net: "Net", lines: "Lines", payer: "Payer → payee", amount: "Amount", adjustment: "Adjustment (of)",
    kinds: { points_fen: "Points", coupon_fen: "Coupons", stored_value_fen: "Stored value", gift_card_fen: "Gift cards" },
  },
  webhooks: {
    title: "Webhook subscriptions", filters: "Events", health: "Health", failures: "{n} failures in a row", paused: "paused until {until}", exhausted: "{n} exhausted",
    test: "Test", deliveries: "Deliveries (24 hours)", event: "Event", attempts: "Attempts", last: "Last outcome", next: "Next attempt", replay: "Replay",
    delivered: "Test delivered: HTTP {code}, {ms} ms", notDelivered: "Test not delivered: {error}", replayed: "{n} events queued again",
  },
  common: { loading: "Loading…", retry: "Retry", error: "Something went wrong" },
};
export default en;
