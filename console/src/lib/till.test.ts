import { describe, expect, it } from "vitest";
import { guessKind, maskCardNumber } from "./till";

describe("guessKind", () => {
  it("tells a member code from a phone by its form", () => {
    expect(guessKind("912345678901234567", true)).toBe("member_code");
    expect(guessKind("9123 4567 8901 2345 67", true)).toBe("member_code");
    expect(guessKind("13900001234", true)).toBe("phone");
  });

  it("keeps the clerk's choice for anything else, and a code from a role that may not resolve one", () => {
    expect(guessKind("912345678901234567", false)).toBeNull();
    expect(guessKind("8123456789012345", true)).toBeNull();         // a card number
    expect(guessKind("1390000123", true)).toBeNull();                // ten digits: not yet a phone
  });
});

describe("maskCardNumber", () => {
  it("shows the first and last four digits only", () => {
    expect(maskCardNumber("9000001000000017")).toBe("9000 **** **** 0017");
    expect(maskCardNumber("12345678")).toBe("****");
  });
});
