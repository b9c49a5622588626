import { describe, expect, it } from "vitest";
import { useSubmission } from "./submission";

describe("one submission, one Idempotency-Key", () => {
  it("a double click sends once", async () => {
    const { submit } = useSubmission();
    const keys: string[] = [];
    const send = async (key: string) => { keys.push(key); await new Promise((r) => setTimeout(r, 10)); return key; };
    const [first, second] = await Promise.all([submit({ a: 1 }, send), submit({ a: 1 }, send)]);
    expect(keys.length).toBe(1);
    expect(first).toBe(keys[0]);
    expect(second).toBeUndefined();
  });
  it("a retry of the same values after a failure sends the same key; new values, a new key", async () => {
    const { submit } = useSubmission();
    const keys: string[] = [];
    const failing = async (key: string) => { keys.push(key); throw new Error("network"); };
    await expect(submit({ a: 1 }, failing)).rejects.toThrow();
    await expect(submit({ a: 1 }, failing)).rejects.toThrow();
    await expect(submit({ a: 2 }, failing)).rejects.toThrow();
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[1]);
  });
});
