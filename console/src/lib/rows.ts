// A configuration table's rows checked before sending, their errors keyed as the API's field errors
// are ("plans.plans.0.price_fen": the body's path), so one message shows beside one input whichever
// side found it.

/** An id or code as the configurations take them (letters, digits, _ - . :). */
export const ID = /^[A-Za-z0-9_\-.:]{1,64}$/;
/** A tier's code (letters, digits, _ -; 32 at most). */
export const CODE = /^[A-Za-z0-9_\-]{1,32}$/;

/** What is wrong with a row's id or code (an i18n key of ``rows``), "" if nothing: its form, or an earlier row's. */
export function idProblem(value: string, seen: (column: string, value: string) => boolean, column = "id", pattern = ID): string {
  const id = value.trim();
  return !pattern.test(id) ? "rows.badCode" : seen(column, id) ? "rows.twice" : "";
}

/** Each row's errors, "" for none dropped; ``seen(column, value)`` tells a value an earlier row has. */
export function checkRows<R>(rows: readonly R[],
  each: (row: R, index: number, seen: (column: string, value: string) => boolean) => Record<string, string>): Record<string, string> {
  const taken = new Set<string>();
  const out: Record<string, string> = {};
  rows.forEach((row, i) => {
    const seen = (column: string, value: string) => {
      const had = taken.has(`${column}\u0000${value}`);
      taken.add(`${column}\u0000${value}`);
      return had;
    };
    for (const [field, message] of Object.entries(each(row, i, seen))) if (message) out[field] = message;
  });
  return out;
}

/** The field paths of ``count`` rows under ``prefix``: what a problem's errors may name. */
export function rowFields(count: number, prefix: string, columns: readonly string[]): string[] {
  return Array.from({ length: count }, (_, i) => columns.map((c) => `${prefix}.${i}.${c}`)).flat();
}
