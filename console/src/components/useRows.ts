// A configuration page's table of rows (tasks, benefit rules, packs, price lists, plans, bonus
// rules, tiers): the rows, a new one added with the next number in its id, one removed, each
// cell's error key (the body's path, as lib/rows.ts keys the form's check and the API's 422 alike),
// the field paths a problem may name, and the id and name every such row is checked for.
import { type Ref, ref } from "vue";
import { i18n } from "../i18n";
import { checkRows, ID, idProblem, rowFields } from "../lib/rows";

type Seen = (column: string, value: string) => boolean;

export function useRows<R>(path: string, columns: readonly string[], blank: (n: number) => R) {
  const t = i18n.global.t;
  const rows = ref([]) as Ref<R[]>;
  /** the error key of row ``i``'s ``field`` ("tasks.tasks.0.reward.tier") */
  const at = (i: number, field: string) => `${path}.${i}.${field}`;
  return {
    rows,
    at,
    add: () => { rows.value.push(blank(rows.value.length + 1)); },
    remove: (i: number) => { rows.value.splice(i, 1); },
    /** every row's field paths, for the problem's errors */
    fields: () => rowFields(rows.value.length, path, columns),
    /** the rows checked: ``each`` row's own errors, with ``named``'s first */
    check: (each: (row: R, i: number, seen: Seen) => Record<string, string>) => checkRows(rows.value, each),
    /** row ``i``'s id (or code: ``column``, ``pattern``) and name: well formed, the id not an earlier row's, a name given */
    named: (row: { name: string }, id: string, i: number, seen: Seen, column = "id", pattern = ID): Record<string, string> => {
      const problem = idProblem(id, seen, column, pattern);
      return { [at(i, column)]: problem ? t(problem) : "", [at(i, "name")]: row.name.trim() ? "" : t("rows.needed") };
    },
  };
}
