import { describe, expect, it, vi } from "vitest";

vi.mock("./DashboardPage.vue", () => ({ default: {} }));
import { menuOf, PAGES } from "./registry";

describe("menuOf", () => {
  const all = () => true;

  it("keeps configuration and the program's operations out of a store's staff's menu", () => {
    const atStore = menuOf(all, true).map((p) => p.name);
    expect(atStore).toEqual(["till", "dashboard", "members"]);        // the till first: where a clerk lands
    expect(menuOf(all, false).map((p) => p.name)).toEqual(
      PAGES.filter((p) => p.menu !== false).map((p) => p.name));
  });

  it("lists only the pages the role may open", () => {
    expect(menuOf((p) => p.name === "coupons", false).map((p) => p.name)).toEqual(["coupons"]);
  });
});
