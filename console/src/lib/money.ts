// Money is integer fen from the API to the screen: never a float on the way (0.1 + 0.2 is not
// 0.3). Yuan and fen are split with integer division, the digits grouped as text.

/** ¥ and the amount with two decimals and thousands grouped: 123456 -> "¥1,234.56", -5 -> "-¥0.05". */
export function formatFen(fen: number | null | undefined): string {
  if (fen === null || fen === undefined) return "—";
  if (!Number.isSafeInteger(fen)) throw new RangeError(`not a whole number of fen: ${fen}`);
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  const yuan = Math.floor(abs / 100);          // exact: abs is a safe integer
  const cents = abs - yuan * 100;
  return `${sign}¥${group(String(yuan))}.${String(cents).padStart(2, "0")}`;
}

/** Whole numbers (points, counts) grouped by thousands. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  if (!Number.isInteger(n)) return String(n);
  return (n < 0 ? "-" : "") + group(String(Math.abs(n)));
}

/** "¥12.34" or "12.34" typed by a person -> fen, by its digits (no float); null if not money. */
export function parseYuan(text: string): number | null {
  const m = /^\s*¥?\s*(\d{1,12})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"));
}

function group(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
