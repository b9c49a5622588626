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
  it("a problem without field errors goes above the form", () => {
    const taken = { type: "https://loyalty.example/problems/identity-taken", title: "t", status: 409, detail: "the phone is taken" };
    expect(fieldErrors(taken, ["phone"])).toEqual({ "": "the phone is taken" });
    expect(new ApiError(taken).slug).toBe("identity-taken");
    const words = { ...taken, detail: "phone is not a valid number for its region" };
    expect(fieldErrors(words, ["phone"])).toEqual({ phone: "phone is not a valid number for its region" });
  });
});
