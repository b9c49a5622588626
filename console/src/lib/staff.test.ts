import { describe, expect, it } from "vitest";
import { grantable, manages, programWide } from "./staff";
import { createStaffRoleValues } from "../api/enums";

const sa = { staff_id: "a", role: "super_admin", merchant_id: null };
const ma = { staff_id: "b", role: "merchant_admin", merchant_id: "tea" };

describe("grantable", () => {
  it("is every role of the API for a super admin, the merchant's roles for a merchant admin, none else", () => {
    expect(grantable(sa)).toEqual([...createStaffRoleValues]);
    expect(grantable(ma)).toEqual(["merchant_admin", "store_manager", "clerk"]);
    for (const role of ["ops_manager", "finance", "auditor", "store_manager", "clerk"]) {
      expect(grantable({ staff_id: "c", role, merchant_id: null })).toEqual([]);
    }
  });
});

describe("manages", () => {
  it("lets a merchant admin change its own merchant's merchant staff only", () => {
    expect(manages(ma, { staff_id: "x", role: "clerk", merchant_id: "tea" })).toBe(true);
    expect(manages(ma, { staff_id: "x", role: "merchant_admin", merchant_id: "tea" })).toBe(true);
    expect(manages(ma, { staff_id: "x", role: "clerk", merchant_id: "coffee" })).toBe(false);
    expect(manages(ma, { staff_id: "x", role: "ops_manager", merchant_id: null })).toBe(false);
    expect(manages(sa, { staff_id: "x", role: "super_admin", merchant_id: null })).toBe(true);
    expect(manages({ staff_id: "o", role: "ops_manager", merchant_id: null }, { staff_id: "x", role: "clerk", merchant_id: "tea" })).toBe(false);
    expect(manages(null, { staff_id: "x", role: "clerk", merchant_id: "tea" })).toBe(false);
  });

  it("knows which roles act for the whole program", () => {
    expect(["super_admin", "ops_manager", "finance", "auditor"].every(programWide)).toBe(true);
    expect(["merchant_admin", "store_manager", "clerk"].some(programWide)).toBe(false);
  });
});
