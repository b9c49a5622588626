// The program's time zone (getProgram), read once a login before the first page shows: a page that
// works out "today" or turns a picked time into an instant does it on the program's clocks, never
// on the default's while the read is still on its way. Kept with the session for a reload.
import { api, unwrap } from "./client";
import { session } from "./session";

const KEY = "loyalty.console.timezone";
let asked: { who: string; done: Promise<void> } | null = null;

/** The program's time zone into ``session.timezone``, read once per login (a failed read keeps the last). */
export function programTimezone(): Promise<void> {
  const who = session.current ? `${session.current.program_id}/${session.current.staff.staff_id}` : "";
  if (!who) return Promise.resolve();
  if (asked?.who !== who) {
    const kept = globalThis.sessionStorage?.getItem(KEY);
    if (kept?.startsWith(`${who} `)) session.timezone = kept.slice(who.length + 1);
    asked = { who, done: read(who) };
  }
  return asked.done;
}

async function read(who: string): Promise<void> {
  try {
    session.timezone = (await unwrap(api.GET("/v1/program"))).timezone;
    globalThis.sessionStorage?.setItem(KEY, `${who} ${session.timezone}`);
  } catch {
    asked = null;               // the program's own read failing shows on the pages; the next page asks again
  }
}
