import { beforeEach, describe, expect, it } from "vitest";
import { accessToken, base, refresh, session, signIn } from "./session";

function tokens(token: string, minutes: number) {
  return {
    token, expires_at: new Date(Date.now() + minutes * 60_000).toISOString(), refresh_token: `srt_${token}`,
    refresh_expires_at: new Date(Date.now() + 86_400_000).toISOString(),
    staff: { staff_id: "s1", login: "a", display_name: "A", role: "clerk", merchant_id: "m", store_id: "s", status: "active",
      totp_enrolled: false, version: 1, created_at: "", created_by: "", updated_at: "", last_login_at: null },
  };
}

describe("the staff session", () => {
  beforeEach(() => signIn(tokens("old", -1), "default"));

  it("two calls that find the token expired refresh once (a refresh token is single use)", async () => {
    const sent: string[] = [];
    globalThis.fetch = (async (request: Request) => {
      sent.push(JSON.parse(await request.text()).refresh_token);
      await new Promise((r) => setTimeout(r, 20));
      return new Response(JSON.stringify(tokens("new", 15)), { status: 201 });
    }) as typeof fetch;
    const [a, b] = await Promise.all([accessToken(), accessToken()]);
    expect([a, b]).toEqual(["new", "new"]);
    expect(sent).toEqual(["srt_old"]);
    expect(await accessToken()).toBe("new");           // fresh now: no further refresh
    expect(sent.length).toBe(1);
  });

  it("a refused refresh ends the session", async () => {
    const fetcher = (async () => new Response("{}", { status: 401 })) as unknown as typeof fetch;
    await expect(refresh(fetcher)).rejects.toThrow("refresh refused");
    expect(session.current).toBeNull();
  });
});

describe("where the API is", () => {
  const page = (content: string | null) => ({
    querySelector: (selector: string) => selector === 'meta[name="loyalty-api"]' && content !== null
      ? { getAttribute: (name: string) => (name === "content" ? content : null) } : null,
  });

  it("deployed: the stage's URL that the upload wrote in index.html, and the refresh goes there", async () => {
    expect(base(page("https://abc.execute-api.cn-north-1.amazonaws.com.cn/prod/"))).toBe(
      "https://abc.execute-api.cn-north-1.amazonaws.com.cn/prod");
    const doc = globalThis as unknown as { document?: unknown };
    doc.document = page("https://api.example.test/prod");
    signIn(tokens("old", -1), "default");
    const urls: string[] = [];
    globalThis.fetch = (async (request: Request) => {
      urls.push(request.url);
      return new Response(JSON.stringify(tokens("new", 15)), { status: 201 });
    }) as typeof fetch;
    try {
      await refresh();
    } finally {
      delete doc.document;
    }
    expect(urls).toEqual(["https://api.example.test/prod/v1/auth/staff/refresh"]);   // the stage's path kept
  });

  it("beside the API (the meta element empty, or no page): the page's own origin", () => {
    expect(base(page(""))).toBe(globalThis.location?.origin ?? "http://127.0.0.1:8000");
    expect(base(page(null))).toBe(globalThis.location?.origin ?? "http://127.0.0.1:8000");
    expect(base(undefined)).toBe(globalThis.location?.origin ?? "http://127.0.0.1:8000");
  });
});
