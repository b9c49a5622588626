// A coupon template's terms as a form has them (chalicelib/coupons/terms.py): its title and figures,
// and the rarer ones: a threshold
// coupon's steps, a gift's SKU, parking hours, a fixed validity's dates, where it applies (merchants,
// stores, SKUs, categories), the window in the week and the day, how it stacks, who bears the cost.
// Text in, terms out: amounts typed in yuan are sent as fen, dates picked on the program's clocks
// are sent as UTC instants, lists are typed separated by commas, spaces or lines; what the form does
// not show (channels, the other exclude lists...) is kept as the base terms have it.
import type { components } from "../api/schema";
import { instantIn, wallTimeIn } from "./dates";
import { formatFen, parseYuan } from "./money";

type S = components["schemas"];
export type Terms = S["Terms"];
export type Kind = Terms["kind"];
export const KINDS: Kind[] = ["amount_off", "threshold", "percent_off", "no_threshold", "gift_item", "free_shipping", "parking"];
/** The lists of ``applicability`` the form shows: four include lists and two exclude lists. */
export const LISTS = ["merchants", "stores", "skus", "categories", "exclude_stores", "exclude_skus"] as const;
export type ListName = (typeof LISTS)[number];
export const BEARERS = ["brand", "mall", "merchant"] as const;

export interface TermsForm {
  title: string;
  description: string;
  amount_off: string;             // yuan, as typed
  min_spend: string;
  percent: string;
  cap: string;
  steps: { threshold: string; off: string }[];
  gift_sku: string;
  parking_hours: string;
  validity: "days" | "dates";
  days: string;
  starts: string;                 // "YYYY-MM-DD HH:mm:ss" on the program's clocks, or ""
  ends: string;
  lists: Record<ListName, string>;
  weekdays: string;               // "6,7": 1 = Monday .. 7 = Sunday; "": every day
  from_time: string;
  to_time: string;
  stacking: "exclusive" | "joint";
  group: string;
  group_max: string;
  on: "original" | "discounted";
  shares: Record<(typeof BEARERS)[number], string>;
}

/** The kinds that take an amount off, and those that may have a minimum spend (coupons.terms.NEEDS / MAY). */
export const AMOUNT_KINDS: Kind[] = ["amount_off", "no_threshold", "third_party"];
export const MIN_SPEND_KINDS: Kind[] = ["amount_off", "percent_off"];

/** Every field of the form by the body's path (the API's field errors land beside them). */
export const TERMS_FIELDS = ["terms.title", "terms.description", "terms.amount_off_fen", "terms.min_spend_fen", "terms.percent",
  "terms.cap_fen", "terms.steps", "terms.gift_sku", "terms.parking_hours", "terms.validity",
  "terms.validity.days_after_claim", "terms.validity.starts_at", "terms.validity.ends_at",
  ...LISTS.map((l) => `terms.applicability.${l}`), "terms.applicability", "terms.window.weekdays", "terms.window.from_time",
  "terms.window.to_time", "terms.window", "terms.stacking", "terms.stacking.group", "terms.stacking.group_max",
  "terms.cost_bearer", "terms.cost_bearer.shares"];

const yuan = (fen: number | null | undefined) => (fen ? formatFen(fen).replace(/[¥,]/g, "") : "");
const whole = (text: string) => (/^\d+$/.test(text.trim()) ? Number(text.trim()) : null);
const money = (text: string) => (text.trim() ? parseYuan(text) : null);
/** A typed list: its names, split on commas (either width), spaces and lines, without repeats. */
export const names = (text: string) => [...new Set(text.split(/[\s,，、]+/).filter(Boolean))];

export function emptyForm(): TermsForm {
  return { title: "", description: "", amount_off: "", min_spend: "", percent: "", cap: "", steps: [{ threshold: "", off: "" }], gift_sku: "", parking_hours: "", validity: "days", days: "30", starts: "", ends: "",
    lists: Object.fromEntries(LISTS.map((l) => [l, ""])) as Record<ListName, string>, weekdays: "", from_time: "", to_time: "",
    stacking: "exclusive", group: "", group_max: "1", on: "discounted", shares: { brand: "100", mall: "", merchant: "" } };
}

/** The form as ``terms`` have it (dates on the clocks of ``zone``). */
export function formOf(terms: Terms, zone: string): TermsForm {
  const form = emptyForm();
  const a = terms.applicability ?? {};
  const v = terms.validity;
  Object.assign(form, {
    title: terms.title, description: terms.description ?? "", amount_off: yuan(terms.amount_off_fen), min_spend: yuan(terms.min_spend_fen),
    percent: terms.percent ? String(terms.percent) : "", cap: yuan(terms.cap_fen),
    steps: terms.steps?.length ? terms.steps.map((s) => ({ threshold: yuan(s.threshold_fen), off: yuan(s.off_fen) })) : form.steps,
    gift_sku: terms.gift_sku ?? "", parking_hours: terms.parking_hours ? String(terms.parking_hours) : "",
    validity: v.ends_at ? "dates" : "days", days: v.days_after_claim ? String(v.days_after_claim) : "",
    starts: v.starts_at ? wallTimeIn(v.starts_at, zone) : "", ends: v.ends_at ? wallTimeIn(v.ends_at, zone) : "",
    lists: Object.fromEntries(LISTS.map((l) => [l, ((a as Record<string, string[] | null | undefined>)[l] ?? []).join(", ")])),
    weekdays: (terms.window?.weekdays ?? []).join(","), from_time: terms.window?.from_time ?? "", to_time: terms.window?.to_time ?? "",
    stacking: terms.stacking?.category ?? "exclusive", group: terms.stacking?.group ?? "",
    group_max: String(terms.stacking?.group_max ?? 1), on: terms.stacking?.on ?? "discounted",
    shares: Object.fromEntries(BEARERS.map((b) => [b, String(terms.cost_bearer?.shares?.[b] ?? "")])),
  });
  return form;
}

/** The form's checks before sending: the body's path -> an i18n key (with its values), as terms.py refuses. */
export function checkTerms(form: TermsForm, kind: Kind): Record<string, [string, Record<string, unknown>?]> {
  const out: Record<string, [string, Record<string, unknown>?]> = {};
  if (!form.title.trim()) out["terms.title"] = ["rows.needed"];
  const amount = money(form.amount_off), least = money(form.min_spend), percent = whole(form.percent);
  if (AMOUNT_KINDS.includes(kind) && !((amount ?? 0) > 0)) out["terms.amount_off_fen"] = ["config.notMoney"];
  if (MIN_SPEND_KINDS.includes(kind) && form.min_spend.trim() && !((least ?? 0) > 0)) out["terms.min_spend_fen"] = ["config.notMoney"];
  else if (kind === "amount_off" && least && amount && least <= amount) out["terms.min_spend_fen"] = ["terms.minAbove"];
  if (kind === "percent_off" && !(percent && percent <= 99)) out["terms.percent"] = ["template.badPercent"];
  if (kind === "percent_off" && form.cap.trim() && !((money(form.cap) ?? 0) > 0)) out["terms.cap_fen"] = ["config.notMoney"];
  if (kind === "threshold") {
    let last: [number, number] = [0, 0];
    form.steps.forEach((s, n) => {
      const threshold = parseYuan(s.threshold), off = parseYuan(s.off);
      if (!threshold || !off) out["terms.steps"] ??= ["terms.stepMoney", { n: n + 1 }];
      else if (off >= threshold) out["terms.steps"] ??= ["terms.stepOff", { n: n + 1 }];
      else if (threshold <= last[0] || off <= last[1]) out["terms.steps"] ??= ["terms.stepsAscend", { n: n + 1 }];
      else last = [threshold, off];
    });
    if (!form.steps.length) out["terms.steps"] = ["terms.stepMoney", { n: 1 }];
  }
  if (kind === "gift_item" && !form.gift_sku.trim()) out["terms.gift_sku"] = ["rows.needed"];
  const hours = whole(form.parking_hours);
  if (kind === "parking" && !(hours && hours <= 24)) out["terms.parking_hours"] = ["terms.badHours"];
  if (form.validity === "days") {
    const days = whole(form.days);
    if (!(days && days <= 3650)) out["terms.validity.days_after_claim"] = ["terms.badDays"];
  } else if (!form.ends) out["terms.validity.ends_at"] = ["rows.needed"];
  else if (form.starts && form.ends <= form.starts) out["terms.validity.ends_at"] = ["terms.endsAfter"];
  for (const l of LISTS) if (names(form.lists[l]).some((x) => x.length > 64)) out[`terms.applicability.${l}`] = ["terms.tooLong"];
  for (const [include, exclude] of [["stores", "exclude_stores"], ["skus", "exclude_skus"]] as const) {
    const both = names(form.lists[include]).filter((x) => names(form.lists[exclude]).includes(x));
    if (both.length) out[`terms.applicability.${exclude}`] = ["terms.both", { names: both.slice(0, 3).join(", ") }];
  }
  const days = names(form.weekdays);
  if (days.some((d) => !/^[1-7]$/.test(d))) out["terms.window.weekdays"] = ["terms.badWeekdays"];
  const hhmm = /^(?:[01]\d|2[0-3]):[0-5]\d$/;
  if (form.from_time || form.to_time) {
    if (!hhmm.test(form.from_time)) out["terms.window.from_time"] = ["terms.badTime"];
    if (!(hhmm.test(form.to_time) || form.to_time === "24:00")) out["terms.window.to_time"] = ["terms.badTime"];
    else if (hhmm.test(form.from_time) && form.to_time <= form.from_time) out["terms.window.to_time"] = ["terms.toAfter"];
  }
  if (form.stacking === "joint") {
    if (!/^.{1,32}$/.test(form.group.trim())) out["terms.stacking.group"] = ["rows.needed"];
    const most = whole(form.group_max);
    if (!(most && most <= 10)) out["terms.stacking.group_max"] = ["terms.badGroupMax"];
  }
  const shares = BEARERS.map((b) => form.shares[b].trim()).filter(Boolean);
  if (!shares.length || shares.some((x) => !(whole(x) && whole(x)! <= 100))) out["terms.cost_bearer.shares"] = ["terms.badShare"];
  else if (shares.reduce((sum, x) => sum + whole(x)!, 0) !== 100) out["terms.cost_bearer.shares"] = ["terms.hundred"];
  return out;
}

/** The instant of a wall time on the clocks of ``zone``: ``was`` itself when it shows that time (a
 * form read and sent back unchanged sends the very same terms). */
function instant(wall: string, zone: string, was: string | null | undefined): string | null {
  if (!wall) return null;
  return was && wallTimeIn(was, zone) === wall ? was : instantIn(wall, zone);
}

/** ``base`` with the form's terms (those of ``kind``; the rest of ``base`` as it is). */
export function withForm(base: Terms, form: TermsForm, zone: string): Terms {
  const kind = base.kind;
  const next: Terms = { ...base, title: form.title.trim(), description: form.description.trim() || null };
  if (AMOUNT_KINDS.includes(kind)) next.amount_off_fen = money(form.amount_off);
  if (MIN_SPEND_KINDS.includes(kind)) next.min_spend_fen = money(form.min_spend);
  if (kind === "percent_off") Object.assign(next, { percent: whole(form.percent), cap_fen: money(form.cap) });
  if (kind === "threshold") next.steps = form.steps.map((s) => ({ threshold_fen: parseYuan(s.threshold) ?? 0, off_fen: parseYuan(s.off) ?? 0 }));
  if (kind === "gift_item") next.gift_sku = form.gift_sku.trim();
  if (kind === "parking") next.parking_hours = whole(form.parking_hours);
  // from ``starts`` (or the claim, whichever is later) to a fixed end or for some days
  next.validity = { starts_at: instant(form.starts, zone, base.validity?.starts_at),
    ends_at: form.validity === "dates" ? instant(form.ends, zone, base.validity?.ends_at) : null,
    days_after_claim: form.validity === "days" ? whole(form.days) : null };
  const applicability: Record<string, unknown> = { ...(base.applicability ?? {}) };
  for (const l of LISTS) {
    const typed = names(form.lists[l]);
    applicability[l] = typed.length ? typed : l.startsWith("exclude_") ? [] : null;
  }
  next.applicability = applicability as S["CouponApplicability"];
  const weekdays = names(form.weekdays).map(Number).sort();
  next.window = weekdays.length || form.from_time || form.to_time
    ? { weekdays: weekdays.length ? weekdays : null, from_time: form.from_time || null, to_time: form.to_time || null } : null;
  next.stacking = form.stacking === "joint"
    ? { category: "joint", group: form.group.trim(), group_max: whole(form.group_max) ?? 1, on: form.on }
    : { category: "exclusive", group: null, group_max: 1, on: form.on };
  next.cost_bearer = { shares: Object.fromEntries(BEARERS.filter((b) => form.shares[b].trim())
    .map((b) => [b, whole(form.shares[b]) ?? 0])) as S["CouponCostBearer"]["shares"] };
  return next;
}
