import { describe, expect, it } from "vitest";
import { checkRows, ID, rowFields } from "./rows";
import { fieldErrors } from "../api/problem";

describe("a configuration table's rows", () => {
  const rows = [{ code: "V1", price: 10 }, { code: "V1", price: 0 }, { code: "bad code", price: 5 }];
  const check = () => checkRows(rows, (r, i, seen) => ({
    [`plans.${i}.code`]: !ID.test(r.code) ? "bad" : seen("code", r.code) ? "twice" : "",
    [`plans.${i}.price_fen`]: r.price > 0 ? "" : "money",
  }));

  it("keys each error by the body's path, and drops the good", () => {
    expect(check()).toEqual({ "plans.1.code": "twice", "plans.1.price_fen": "money", "plans.2.code": "bad" });
  });

  it("places the API's field errors on the same keys, and the rest above the form", () => {
    const fields = rowFields(3, "plans.plans", ["code", "price_fen"]);
    expect(fields).toContain("plans.plans.2.price_fen");
    const problem = { type: "x", title: "t", status: 422, detail: "d", errors: [
      { field: "plans.plans.1.price_fen", message: "too big" }, { field: "plans.plans", message: "plan codes repeat" }] };
    expect(fieldErrors(problem, fields)).toEqual({ "plans.plans.1.price_fen": "too big", "": "plans.plans: plan codes repeat" });
  });
});
