import { describe, expect, it } from "vitest";
import { authedFetch, unwrap } from "./client";
import { ApiError } from "./problem";
import { signIn } from "./session";

const staff = { staff_id: "s1", login: "a", display_name: "A", role: "clerk", merchant_id: "m", store_id: "s",
  status: "active", totp_enrolled: false, version: 1, created_at: "", created_by: "", updated_at: "", last_login_at: null };
const pair = (token: string) => ({ token, expires_at: new Date(Date.now() + 900_000).toISOString(), refresh_token: `srt_${token}`,
  refresh_expires_at: new Date(Date.now() + 86_400_000).toISOString(), staff });

describe("the API client", () => {
  it("a 401 on a token thought good refreshes once and sends the request again, body and all", async () => {
    signIn(pair("revoked"), "default");
    const seen: string[] = [];
    globalThis.fetch = (async (request: Request) => {
      if (request.url.endsWith("/v1/auth/staff/refresh")) return new Response(JSON.stringify(pair("next")), { status: 201 });
      seen.push(`${request.headers.get("Authorization")} ${await request.text()}`);
      return new Response("{}", { status: seen.length === 1 ? 401 : 200 });
    }) as typeof fetch;
    const reply = await authedFetch(new Request("http://x/v1/members/lookup", { method: "POST", body: '{"type":"phone"}' }));
    expect(reply.status).toBe(200);
    expect(seen).toEqual(['Bearer revoked {"type":"phone"}', 'Bearer next {"type":"phone"}']);
  });

  it("a refusal becomes an ApiError with its problem; no answer at all, status 0", async () => {
    const problem = { type: "https://loyalty.example/problems/forbidden", title: "Not allowed", status: 403, detail: "no" };
    const refused = unwrap(Promise.resolve({ error: problem, response: new Response(null, { status: 403 }) }));
    await expect(refused).rejects.toMatchObject({ problem, slug: "forbidden" });
    const lost = unwrap(Promise.reject(new TypeError("Failed to fetch")));
    await expect(lost).rejects.toBeInstanceOf(ApiError);
    await expect(lost).rejects.toMatchObject({ status: 0 });
  });
});
