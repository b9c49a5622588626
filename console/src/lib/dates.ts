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
