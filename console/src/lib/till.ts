// What a till is given: a value typed or scanned into one field, and a card number to show.

export type LookupKind = "member_code" | "phone" | "card_no";

/**
 * What a typed or scanned value most likely is, or null to keep the clerk's choice: a member code
 * is 18 digits from a 9 (docs/operators/members.md), a mainland mobile 11 digits from a 1; spaces
 * (a code read aloud in groups) do not count.
 */
export function guessKind(value: string, mayResolveCodes: boolean): LookupKind | null {
  const v = value.replace(/\s/g, "");
  if (/^9\d{17}$/.test(v)) return mayResolveCodes ? "member_code" : null;
  if (/^1\d{10}$/.test(v)) return "phone";
  return null;
}

/** A gift card's number for a screen others may see: its first and last four digits. */
export function maskCardNumber(number: string): string {
  const n = number.replace(/\s/g, "");
  return n.length > 8 ? `${n.slice(0, 4)} **** **** ${n.slice(-4)}` : "****";
}
