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

describe("the menu's sections", () => {
  it("puts every page of the menu in exactly one section, in the sections' order", async () => {
    const { PAGES, SECTIONS, sectionsOf } = await import("./registry");
    const menu = PAGES.filter((p) => p.menu !== false);
    const grouped = sectionsOf(menu);
    expect(grouped.flatMap((s) => s.pages).map((p) => p.name).sort()).toEqual(menu.map((p) => p.name).sort());
    expect(grouped.map((s) => s.section)).toEqual(SECTIONS.filter((s) => grouped.some((g) => g.section === s)));
    expect(grouped.find((s) => s.section === "config")?.pages.map((p) => p.name)).toContain("earn-rules");
    expect(sectionsOf([]).length).toBe(0);
  });
});
