// The typed client: generated from the API's /openapi.json (npm run gen writes schema.d.ts and enums.ts), so a
// call whose path, parameters or body the API no longer has fails vue-tsc and the build.
import createClient from "openapi-fetch";
import type { paths } from "./schema";
import { ApiError, asProblem, SessionExpired } from "./problem";
import { accessToken, base, refresh, session } from "./session";

/** fetch with the staff token; a 401 on a token thought good is refreshed once and sent again. */
export async function authedFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const token = await accessToken();
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
  const reply = await fetch(request);
  if (reply.status !== 401 || !token || !session.current) return reply;
  const next = await refresh();
  retry.headers.set("Authorization", `Bearer ${next}`);
  return fetch(retry);
}

export const api = createClient<paths>({ baseUrl: base(), fetch: authedFetch });

/** The data of an openapi-fetch reply, or an ApiError with its problem (status 0: no answer). */
export async function unwrap<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await pending;
  } catch (e) {
    if (e instanceof SessionExpired) throw e;
    throw new ApiError({ type: "about:blank", title: "network", status: 0, detail: String(e) });
  }
  if (result.response.ok && result.data !== undefined) return result.data;
  throw new ApiError(asProblem(result.response.status, result.error));
}

/** A new Idempotency-Key. */
export function newKey(): string {
  if (globalThis.crypto?.randomUUID) return `console-${globalThis.crypto.randomUUID()}`;
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
