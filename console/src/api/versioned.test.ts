import { describe, expect, it } from "vitest";
import { effectiveFrom, replacedBySave, versionStates } from "./versioned";

describe("versionStates", () => {
  const now = new Date("2026-12-05T00:00:00Z");
  const versions = [
    { version: 1, effective_from: "2026-01-01T00:00:00Z" },
    { version: 3, effective_from: "2027-01-01T00:00:00Z" },
    { version: 2, effective_from: "2026-06-01T00:00:00Z" },
  ];

  it("marks the one in force, the scheduled and the replaced, newest first", () => {
    expect(versionStates(versions, 2, now).map((v) => [v.version, v.state])).toEqual([
      [3, "scheduled"], [2, "in_force"], [1, "replaced"],
    ]);
  });

  it("marks a scheduled version that a later save starting no later replaces as replaced", () => {
    const again = [...versions, { version: 4, effective_from: "2027-01-01T00:00:00Z" }];
    expect(versionStates(again, 2, now).map((v) => [v.version, v.state])).toEqual([
      [4, "scheduled"], [3, "replaced"], [2, "in_force"], [1, "replaced"],
    ]);
  });

  it("tells which scheduled versions a save from now, or from an instant, would replace", () => {
    const rows = versionStates(versions, 2, now);
    expect(replacedBySave(rows, null, now).map((v) => v.version)).toEqual([3]);
    expect(replacedBySave(rows, "2027-01-01T00:00:00Z", now).map((v) => v.version)).toEqual([3]);
    expect(replacedBySave(rows, "2027-01-01T00:00:01Z", now)).toEqual([]);
  });

  it("knows no version in force before the first save (version 0: the defaults)", () => {
    expect(versionStates([], 0, now)).toEqual([]);
    expect(versionStates([versions[1]], 0, now)[0].state).toBe("scheduled");
  });
});

describe("effectiveFrom", () => {
  it("is null for now, and the UTC instant of the time picked on the program's clocks", () => {
    expect(effectiveFrom(null, "Asia/Shanghai")).toBeNull();
    expect(effectiveFrom("", "Asia/Shanghai")).toBeNull();
    expect(effectiveFrom("2027-01-01 08:00:00", "Asia/Shanghai")).toBe("2027-01-01T00:00:00.000Z");
    expect(effectiveFrom("2027-01-01 08:00:00", "Asia/Urumqi")).toBe("2027-01-01T02:00:00.000Z");
    expect(effectiveFrom("not a date", "Asia/Shanghai")).toBeNull();
  });
});
