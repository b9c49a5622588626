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
 * after ``now`` that no later save replaces scheduled, the rest replaced. (Of the versions
 * effective at a time the newest saved is in force: a save from an instant replaces every version
 * saved before it that starts then or later.) */
export function versionStates(versions: readonly Version[], inForce: number, now: Date = new Date()): VersionRow[] {
  return [...versions]
    .sort((a, b) => b.version - a.version)
    .map((v) => ({
      ...v,
      state: v.version === inForce ? "in_force"
        : new Date(v.effective_from) > now && replacing(versions, v).length === 0 ? "scheduled" : "replaced",
    }));
}

/** The versions saved after ``v`` that start no later than it: any one replaces it from its start. */
function replacing(versions: readonly Version[], v: Version): Version[] {
  return versions.filter((o) => o.version > v.version && new Date(o.effective_from) <= new Date(v.effective_from));
}

/** The scheduled versions a save from ``from`` (an ISO instant; null: now) would replace: those
 * starting then or later, which would never come into force. */
export function replacedBySave(rows: readonly VersionRow[], from: string | null, now: Date = new Date()): VersionRow[] {
  const start = from ? new Date(from) : now;
  return rows.filter((v) => v.state === "scheduled" && new Date(v.effective_from) >= start);
}

/** The instant a version is to start, for the API: null (now), or the UTC instant at which the clocks
 * of ``timeZone`` (the program's) show ``picked`` ("2027-01-01 00:00:00", as the picker gives it). */
export function effectiveFrom(picked: string | null | undefined, timeZone: string): string | null {
  return picked ? instantIn(picked, timeZone) : null;
}
