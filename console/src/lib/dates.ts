// Dates on the screen are in the program's time zone (getProgram's timezone), whatever the
// browser's: a store in Urumqi and HQ in Shanghai read one calendar day as the program has it.

/** The calendar day (YYYY-MM-DD) that ``instant`` falls on in ``timeZone``. */
export function dayIn(timeZone: string, instant: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(instant);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** ``day`` moved by ``n`` calendar days (no time zone involved: a calendar day is a calendar day). */
export function addDays(day: string, n: number): string {
  const [y, m, d] = day.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return t.toISOString().slice(0, 10);
}

/** An ISO 8601 instant as date and time in ``timeZone`` ("2026-12-05 14:03"), for ``locale``. */
export function formatInstant(iso: string | null | undefined, timeZone: string, locale = "zh-CN"): string {
  if (!iso) return "—";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(when);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  void locale;      // one numeric form in both languages: the digits read the same
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

const DAY = 86_400_000;

/** The offset of ``timeZone`` from UTC at ``instant``, in minutes (Shanghai: +480). */
function offsetMinutes(timeZone: string, instant: number): number {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(instant));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return Math.round((wall - Math.floor(instant / 1000) * 1000) / 60_000);
}

/**
 * The instant (UTC, ISO 8601) at which the clocks of ``timeZone`` show ``wall`` ("2027-01-01 00:00:00"
 * or with a "T"): a date and time picked in the program's zone, whatever the browser's. A time the
 * clocks skip (a spring-forward gap) is read with the offset before the change, as ISO 8601 tools do;
 * null for what is not a date and time.
 */
export function instantIn(wall: string, timeZone: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(wall.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0));
  const wallAsUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  if (Number.isNaN(wallAsUtc) || new Date(wallAsUtc).getUTCDate() !== d) return null;
  // the offsets a day either side (a zone changes its offset at most once in two days): each gives an
  // instant, kept if the zone's clocks show the wall time then; two (the hour repeated in autumn):
  // the first; none (the hour skipped in spring): the offset before the change
  const before = offsetMinutes(timeZone, wallAsUtc - DAY), after = offsetMinutes(timeZone, wallAsUtc + DAY);
  const fits = [before, after].map((o) => wallAsUtc - o * 60_000).filter((t) => t + offsetMinutes(timeZone, t) * 60_000 === wallAsUtc);
  return new Date(fits.length ? Math.min(...fits) : wallAsUtc - before * 60_000).toISOString();
}

/** The date and time the clocks of ``timeZone`` show at ``iso`` ("2027-01-01 00:00:00"), as the
 * effective-from picker takes it: the inverse of :func:`instantIn`. */
export function wallTimeIn(iso: string, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}:${get("second")}`;
}
