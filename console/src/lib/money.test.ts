import { describe, expect, it } from "vitest";
import { formatCount, formatFen, parseYuan } from "./money";

describe("money in fen", () => {
  it("formats integer fen as yuan with two decimals, grouped", () => {
    expect(formatFen(0)).toBe("¥0.00");
    expect(formatFen(5)).toBe("¥0.05");
    expect(formatFen(123456)).toBe("¥1,234.56");
    expect(formatFen(-100)).toBe("-¥1.00");
    expect(formatFen(900719925474099)).toBe("¥9,007,199,254,740.99");
    expect(formatFen(null)).toBe("—");
  });
  it("refuses a float: money never passes through one", () => {
    expect(() => formatFen(0.1 + 0.2)).toThrow(RangeError);
  });
  it("parses what a person types into fen by its digits", () => {
    expect(parseYuan("0.29")).toBe(29);
    expect(parseYuan("¥ 19.9")).toBe(1990);
    expect(parseYuan("200")).toBe(20000);
    expect(parseYuan("1.005")).toBeNull();
    expect(parseYuan("abc")).toBeNull();
  });
  it("groups counts", () => {
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount(-1000)).toBe("-1,000");
  });
});
