// Versioned configuration (earn rules, the tier ladder, top-up bonus rules...): the API keeps every
// version with its effective_from and answers the one in force; a page shows which is in force,
// which are scheduled (saved, not yet in force) and which were replaced, and saves a new version.

import { instantIn } from "../lib/dates";

export interface Version {
  version: number;
  effective_from: string;
}

export type VersionState = "in_force" | "scheduled" | "replaced";

export interface VersionRow extends Version {
  state: VersionState;
}

/** Each version, newest first, with its state: the one the API says is in force, those starting
 * after ``now`` scheduled (a later save may still replace them), the rest replaced. */
export function versionStates(versions: readonly Version[], inForce: number, now: Date = new Date()): VersionRow[] {
  return [...versions]
    .sort((a, b) => b.version - a.version)
    .map((v) => ({
      ...v,
      state: v.version === inForce ? "in_force" : new Date(v.effective_from) > now ? "scheduled" : "replaced",
    }));
}

/** The instant a version is to start, for the API: null (now), or the UTC instant at which the clocks
 * of ``timeZone`` (the program's) show ``picked`` ("2027-01-01 00:00:00", as the picker gives it). */
export function effectiveFrom(picked: string | null | undefined, timeZone: string): string | null {
  return picked ? instantIn(picked, timeZone) : null;
}
