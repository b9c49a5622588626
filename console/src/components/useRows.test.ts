import { describe, expect, it } from "vitest";
import { useRows } from "./useRows";

describe("a configuration table's rows (useRows)", () => {
  it("adds a row numbered after the others, removes one, and keys its errors by the body's path", () => {
    const t = useRows<{ id: string; name: string }>("tasks.tasks", ["id", "name", "reward.tier"], (n) => ({ id: `task-${n}`, name: "" }));
    t.add();
    t.add();
    expect(t.rows.value.map((r) => r.id)).toEqual(["task-1", "task-2"]);
    t.remove(0);
    expect(t.rows.value.map((r) => r.id)).toEqual(["task-2"]);
    expect(t.at(0, "reward.tier")).toBe("tasks.tasks.0.reward.tier");
    expect(t.fields()).toEqual(["tasks.tasks.0.id", "tasks.tasks.0.name", "tasks.tasks.0.reward.tier"]);
  });

  it("checks each row's id (its form, an earlier row's) and name", () => {
    const t = useRows<{ id: string; name: string }>("lists.lists", ["id", "name"], (n) => ({ id: `l-${n}`, name: "" }));
    t.rows.value = [{ id: "a", name: "A" }, { id: "a", name: " " }, { id: "bad id", name: "C" }];
    const found = t.check((r, i, seen) => t.named(r, r.id, i, seen));
    expect(found).toEqual({ "lists.lists.1.id": "与前面的行重复", "lists.lists.1.name": "必填", "lists.lists.2.id": "只能用字母、数字和 _ - . :（至多 64 个）" });
  });
});
