// The browser's zone is not the program's: this file runs with the process in Auckland (UTC+13 in
// December) and picks times for programs in Shanghai, Urumqi and New York.
declare const process: { env: Record<string, string | undefined> };   // (Vitest runs in Node)
process.env.TZ = "Pacific/Auckland";
import { describe, expect, it } from "vitest";
import { formatInstant, instantIn, wallTimeIn } from "./dates";

describe("a time picked on the program's clocks, in a browser elsewhere", () => {
  it("runs in a zone other than the programs'", () => {
    expect(new Date("2026-12-05T00:00:00Z").getTimezoneOffset()).toBe(-780);
  });

  it("is the UTC instant the program's clocks show it at", () => {
    expect(instantIn("2027-01-01 00:00:00", "Asia/Shanghai")).toBe("2026-12-31T16:00:00.000Z");
    expect(instantIn("2027-01-01T00:00", "Asia/Urumqi")).toBe("2026-12-31T18:00:00.000Z");
    expect(instantIn("2026-07-01 09:30:00", "America/New_York")).toBe("2026-07-01T13:30:00.000Z");   // summer time
    expect(instantIn("2026-12-01 09:30:00", "America/New_York")).toBe("2026-12-01T14:30:00.000Z");
  });

  it("reads back as the time picked", () => {
    const picked = instantIn("2027-03-15 10:05:00", "Asia/Shanghai")!;
    expect(formatInstant(picked, "Asia/Shanghai")).toBe("2027-03-15 10:05");
  });

  it("takes the first of an hour the clocks repeat, and moves a skipped hour on", () => {
    expect(instantIn("2026-11-01 01:30:00", "America/New_York")).toBe("2026-11-01T05:30:00.000Z");   // EDT, not EST
    expect(instantIn("2026-03-08 02:30:00", "America/New_York")).toBe("2026-03-08T07:30:00.000Z");   // = 03:30 EDT
  });

  it("refuses what is not a date and time", () => {
    expect(instantIn("2027-02-30 00:00:00", "Asia/Shanghai")).toBeNull();
    expect(instantIn("tomorrow", "Asia/Shanghai")).toBeNull();
  });

  it("shows a saved version's start on the program's clocks, for the picker, and picks it back to the same instant", () => {
    expect(wallTimeIn("2026-12-31T16:00:00.000Z", "Asia/Shanghai")).toBe("2027-01-01 00:00:00");
    expect(wallTimeIn("2027-03-14T07:30:00Z", "America/New_York")).toBe("2027-03-14 03:30:00");
    for (const [iso, zone] of [["2027-06-30T23:59:59.000Z", "Asia/Urumqi"], ["2027-11-07T05:30:00.000Z", "America/New_York"]]) {
      expect(instantIn(wallTimeIn(iso, zone), zone)).toBe(iso);
    }
  });
});
