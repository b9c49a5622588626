import { describe, expect, it } from "vitest";
import { ApiError, fieldErrors, type Problem } from "./problem";

const invalid: Problem = {
  type: "https://loyalty.example/problems/validation-failed", title: "The request is not valid", status: 422,
  detail: "invalid body: phone: not a mobile number",
  errors: [{ field: "phone", message: "not a mobile number" }, { field: "identities.0.value", message: "too long" },
    { field: "custom", message: "unknown field" }],
};

describe("problems beside their fields", () => {
  it("puts each field error beside its field, the rest above the form", () => {
    expect(fieldErrors(invalid, ["phone", "value"])).toEqual({
      phone: "not a mobile number", value: "too long", "": "custom: unknown field",
    });
  });
  it("puts an error of a part the form does not show beside the nearest field holding it", () => {
    const refused = { ...invalid, errors: [{ field: "rules.rules.0.give.1.ref", message: "price_list 'nope' is not in price-lists version 0" },
      { field: "ladder", message: "tier 'V3' is used by tasks version 2" }] };
    expect(fieldErrors(refused, ["rules.rules.0.give", "rules.rules.0.give.0.ref"])).toEqual({
      "rules.rules.0.give": "1.ref: price_list 'nope' is not in price-lists version 0", "": "ladder: tier 'V3' is used by tasks version 2" });
  });
  it("a problem without field errors goes above the form", () => {
    const taken = { type: "https://loyalty.example/problems/identity-taken", title: "t", status: 409, detail: "the phone is taken" };
    expect(fieldErrors(taken, ["phone"])).toEqual({ "": "the phone is taken" });
    expect(new ApiError(taken).slug).toBe("identity-taken");
    const words = { ...taken, detail: "phone is not a valid number for its region" };
    expect(fieldErrors(words, ["phone"])).toEqual({ phone: "phone is not a valid number for its region" });
  });
});
