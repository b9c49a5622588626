import { describe, expect, it } from "vitest";
import { addDays, dayIn, formatInstant } from "./dates";

describe("dates in the program's time zone", () => {
  const instant = new Date("2026-12-04T17:30:00Z");       // 01:30 on the 5th in Shanghai
  it("tells the program's calendar day, whatever the browser's", () => {
    expect(dayIn("Asia/Shanghai", instant)).toBe("2026-12-05");
    expect(dayIn("America/New_York", instant)).toBe("2026-12-04");
  });
  it("shows an instant in the program's zone", () => {
    expect(formatInstant("2026-12-04T17:30:00Z", "Asia/Shanghai")).toBe("2026-12-05 01:30");
    expect(formatInstant("2026-12-04T17:30:00Z", "Asia/Urumqi")).toBe("2026-12-04 23:30");
    expect(formatInstant(null, "Asia/Shanghai")).toBe("—");
  });
  it("moves calendar days across months and leap days", () => {
    expect(addDays("2028-03-01", -1)).toBe("2028-02-29");
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
  });
});
