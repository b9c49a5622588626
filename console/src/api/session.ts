// The staff login: tokens kept for this browser tab (sessionStorage), the access token refreshed
// single-flight (two calls that find it expired share one refreshStaffToken: a refresh token is
// single use, and presenting it twice would end the login, docs/operators/staff.md).
import { reactive } from "vue";
import type { components } from "./schema";
import { SessionExpired } from "./problem";

export type StaffTokens = components["schemas"]["StaffTokensOut"];
export type Staff = components["schemas"]["StaffOut"];

interface Stored extends StaffTokens {
  program_id: string;
}

const KEY = "loyalty.console.session";
const EARLY_MS = 30_000;        // refresh this long before the token's end, not after a refusal

export const session = reactive<{ current: Stored | null; timezone: string }>({
  current: read(),
  timezone: "Asia/Shanghai",
});

function read(): Stored | null {
  try {
    const text = globalThis.sessionStorage?.getItem(KEY);
    return text ? (JSON.parse(text) as Stored) : null;
  } catch {
    return null;
  }
}

export function signIn(tokens: StaffTokens, programId: string): void {
  session.current = { ...tokens, program_id: programId };
  globalThis.sessionStorage?.setItem(KEY, JSON.stringify(session.current));
}

export function signOut(): void {
  session.current = null;
  globalThis.sessionStorage?.removeItem(KEY);
}

export function role(): string | null {
  return session.current?.staff.role ?? null;
}

let refreshing: Promise<string> | null = null;
let expired: () => void = () => {};

/** What to do when the login is over (the router sends the user to login, and back after). */
export function onExpired(handler: () => void): void {
  expired = handler;
}

/** The access token to send, refreshed first if it is about to end. */
export async function accessToken(now: number = Date.now()): Promise<string | null> {
  const s = session.current;
  if (!s) return null;
  if (Date.parse(s.expires_at) - EARLY_MS > now) return s.token;
  return refresh();
}

/** Trade the refresh token for the next pair, once however many callers ask at the same time. */
export function refresh(fetcher: typeof fetch = globalThis.fetch.bind(globalThis)): Promise<string> {
  if (!refreshing) {
    refreshing = exchange(fetcher).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function exchange(fetcher: typeof fetch): Promise<string> {
  const s = session.current;
  if (!s) throw new SessionExpired("not logged in");
  const reply = await fetcher(new Request(`${base()}/v1/auth/staff/refresh`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: s.refresh_token }),
  }));
  if (reply.status !== 201) {
    signOut();
    expired();
    throw new SessionExpired(`refresh refused (${reply.status})`);
  }
  signIn((await reply.json()) as StaffTokens, s.program_id);
  return session.current!.token;
}

/** Where the API is: the URL in index.html's `loyalty-api` meta element (its stage's, written by
 * infra/console_upload.py when the console is deployed on its own origin), else the page's own
 * origin (served beside the API, as locally). No trailing slash. */
export function base(doc: { querySelector(selector: string): { getAttribute(name: string): string | null } | null }
  | undefined = globalThis.document): string {
  const named = doc?.querySelector('meta[name="loyalty-api"]')?.getAttribute("content")?.trim();
  if (named) return named.replace(/\/+$/, "");
  return globalThis.location?.origin ?? "http://127.0.0.1:8000";
}
