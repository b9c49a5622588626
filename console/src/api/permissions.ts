// What a role may call, from the routes' own rules (scripts/write_openapi.py writes roles.json
// from the app at build time): the menu shows a page only to roles that may call all it needs.
import type { operations } from "./schema";
import roles from "./roles.json";

export type OperationId = keyof operations;
const admitted = roles as Record<string, string[]>;

export function may(role: string | null, operation: OperationId): boolean {
  return role !== null && (admitted[operation] ?? []).includes(role);
}

export function mayAll(role: string | null, needs: readonly OperationId[]): boolean {
  return needs.every((op) => may(role, op));
}
