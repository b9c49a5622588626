import { describe, expect, it } from "vitest";
import termsEn from "../i18n/terms.en";
import termsZhCN from "../i18n/terms.zh-CN";
import { checkTerms, emptyForm, formOf, KINDS, LISTS, names, type Terms, withForm } from "./couponTerms";

const ZONE = "Asia/Shanghai";
const RICH = {
  kind: "threshold", title: "周末满减", steps: [{ threshold_fen: 10_000, off_fen: 1_000 }, { threshold_fen: 20_000, off_fen: 3_000 }],
  validity: { starts_at: "2030-01-31T16:00:00Z", ends_at: "2030-03-31T15:59:00Z", days_after_claim: null },
  applicability: { merchants: null, stores: ["store-1", "store-2"], skus: ["SKU-1"], categories: null, channels: ["pos"],
    exclude_merchants: [], exclude_stores: [], exclude_skus: ["SKU-9"], exclude_categories: ["tobacco"], exclude_channels: [] },
  window: { weekdays: [6, 7], from_time: "10:00", to_time: "22:00" },
  stacking: { category: "joint", group: "mall", group_max: 2, on: "original" },
  cost_bearer: { shares: { brand: 60, merchant: 40 } },
} as unknown as Terms;

describe("a coupon template's rarer terms on a form", () => {
  it("read into the form and sent back unchanged, they are the same terms (kept lists included)", () => {
    const form = formOf(RICH, ZONE);
    expect(form.steps).toEqual([{ threshold: "100.00", off: "10.00" }, { threshold: "200.00", off: "30.00" }]);
    expect([form.validity, form.starts, form.ends]).toEqual(["dates", "2030-02-01 00:00:00", "2030-03-31 23:59:00"]);
    expect([form.lists.stores, form.weekdays, form.shares.brand, form.shares.mall]).toEqual(["store-1, store-2", "6,7", "60", ""]);
    expect(checkTerms(form, "threshold")).toEqual({});
    const back = withForm(RICH, form, ZONE);
    expect(back.validity).toEqual(RICH.validity);
    expect(back.applicability).toEqual({ ...RICH.applicability, merchants: null, categories: null });
    expect(back.applicability?.channels).toEqual(["pos"]);                  // not on the form: kept
    expect([back.steps, back.window, back.stacking, back.cost_bearer]).toEqual([RICH.steps, RICH.window, RICH.stacking, RICH.cost_bearer]);
  });

  it("typed: yuan as fen, the program's wall times as UTC instants, lists split on commas, spaces and lines", () => {
    const form = emptyForm();
    Object.assign(form, { validity: "dates", starts: "2030-05-01 09:30:00", ends: "2030-05-07 21:00:00", weekdays: "7, 6 6",
      stacking: "joint", group: "g1", group_max: "3", shares: { brand: "", mall: "30", merchant: "70" } });
    form.steps = [{ threshold: "¥99.9", off: "9.90" }];
    form.lists.skus = "A-1，A-2、A-1\nA-3";
    const terms = withForm({ kind: "threshold", title: "x", validity: { days_after_claim: 1 } } as Terms, form, ZONE);
    expect(terms.steps).toEqual([{ threshold_fen: 9_990, off_fen: 990 }]);
    expect(terms.validity).toEqual({ starts_at: "2030-05-01T01:30:00.000Z", ends_at: "2030-05-07T13:00:00.000Z", days_after_claim: null });
    expect(terms.applicability?.skus).toEqual(["A-1", "A-2", "A-3"]);
    expect(terms.applicability?.stores).toBeNull();                          // empty: any
    expect(terms.window).toEqual({ weekdays: [6, 7], from_time: null, to_time: null });
    expect(terms.stacking).toEqual({ category: "joint", group: "g1", group_max: 3, on: "discounted" });
    expect(terms.cost_bearer).toEqual({ shares: { mall: 30, merchant: 70 } });
    const plain = withForm({ kind: "parking", title: "p", validity: { days_after_claim: 1 } } as Terms,
      Object.assign(emptyForm(), { title: " 停车券 ", parking_hours: "3", days: "14", amount_off: "5" }), ZONE);
    expect([plain.title, plain.parking_hours, plain.validity, plain.window, plain.steps, plain.amount_off_fen])
      .toEqual(["停车券", 3, { starts_at: null, ends_at: null, days_after_claim: 14 }, null, undefined, undefined]);
    const off = withForm({ kind: "percent_off", title: "", validity: { days_after_claim: 1 } } as Terms,
      Object.assign(emptyForm(), { title: "8折", percent: "80", cap: "20", min_spend: "50.5" }), ZONE);
    expect([off.percent, off.cap_fen, off.min_spend_fen, off.amount_off_fen]).toEqual([80, 2_000, 5_050, undefined]);
  });

  it("refuses before sending what the API would refuse, by the body's path", () => {
    const form = Object.assign(emptyForm(), { title: "满减" });
    form.steps = [{ threshold: "100", off: "10" }, { threshold: "90", off: "20" }];
    Object.assign(form, { weekdays: "0,8", from_time: "22:00", to_time: "10:00", stacking: "joint", group: "", group_max: "11",
      shares: { brand: "60", mall: "", merchant: "30" }, validity: "dates", starts: "2030-01-02 00:00:00", ends: "2030-01-01 00:00:00" });
    form.lists.skus = "A, B";
    form.lists.exclude_skus = "B";
    expect(checkTerms(form, "threshold")).toEqual({
      "terms.steps": ["terms.stepsAscend", { n: 2 }], "terms.window.weekdays": ["terms.badWeekdays"],
      "terms.window.to_time": ["terms.toAfter"], "terms.stacking.group": ["rows.needed"], "terms.stacking.group_max": ["terms.badGroupMax"],
      "terms.cost_bearer.shares": ["terms.hundred"], "terms.validity.ends_at": ["terms.endsAfter"],
      "terms.applicability.exclude_skus": ["terms.both", { names: "B" }],
    });
    form.steps = [{ threshold: "100", off: "100" }];
    expect(checkTerms(form, "threshold")["terms.steps"]).toEqual(["terms.stepOff", { n: 1 }]);
    expect(checkTerms(emptyForm(), "gift_item")).toEqual({ "terms.title": ["rows.needed"], "terms.gift_sku": ["rows.needed"] });
    expect(checkTerms(Object.assign(emptyForm(), { title: "p", parking_hours: "25" }), "parking"))
      .toEqual({ "terms.parking_hours": ["terms.badHours"] });
    expect(checkTerms(Object.assign(emptyForm(), { title: "a", amount_off: "10", min_spend: "10", days: "0", to_time: "24:00",
      from_time: "18:00" }), "amount_off")).toEqual({ "terms.min_spend_fen": ["terms.minAbove"], "terms.validity.days_after_claim": ["terms.badDays"] });
    expect(checkTerms(Object.assign(emptyForm(), { title: "d", percent: "100", cap: "x" }), "percent_off"))
      .toEqual({ "terms.percent": ["template.badPercent"], "terms.cap_fen": ["config.notMoney"] });
    expect(checkTerms(Object.assign(emptyForm(), { title: "n", amount_off: "0" }), "no_threshold"))
      .toEqual({ "terms.amount_off_fen": ["config.notMoney"] });
    expect(names(" a,, b ,a ")).toEqual(["a", "b"]);
  });
});

describe("the terms' messages", () => {
  const keys = (o: object, prefix = ""): string[] => Object.entries(o).flatMap(([k, v]) =>
    (typeof v === "object" ? keys(v as object, `${prefix}${k}.`) : [`${prefix}${k}`]));

  it("are in both languages, with every kind, list and refusal the form uses", () => {
    expect(keys(termsEn).sort()).toEqual(keys(termsZhCN).sort());
    const have = new Set(keys(termsEn).map((k) => `terms.${k}`));
    const bad = Object.assign(emptyForm(), { steps: [{ threshold: "1", off: "2" }], parking_hours: "0", days: "x", weekdays: "9",
      from_time: "x", to_time: "y", stacking: "joint", group_max: "0", shares: { brand: "0", mall: "", merchant: "" } });
    const used = [...Object.values(checkTerms(bad, "threshold")), ...Object.values(checkTerms(bad, "parking"))].map(([k]) => k)
      .filter((k) => k.startsWith("terms."));
    expect(used.length).toBeGreaterThan(5);
    for (const k of [...used, ...KINDS.map((x) => `terms.kinds.${x}`), ...LISTS.map((x) => `terms.lists.${x}`)]) expect(have).toContain(k);
  });
});
