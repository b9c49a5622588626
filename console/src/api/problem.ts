// RFC 9457 problems as the API sends them (chalicelib/shared/errors.py): a stable `type`, and for a
// 422 each invalid field in `errors` ({field, message}, the field a dotted path of the body or query).

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: { field: string; message: string }[];
  [extension: string]: unknown;
}

/** A refusal of the API (or a network failure, status 0), carrying its problem. */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
  }

  get status(): number {
    return this.problem.status;
  }

  /** The problem type's last segment: "login-locked", "validation-failed", ... */
  get slug(): string {
    return this.problem.type.split("/").pop() ?? "";
  }
}

/** The session ended (the refresh token was refused): the console goes back to login. */
export class SessionExpired extends Error {}

export function asProblem(status: number, body: unknown): Problem {
  if (body && typeof body === "object" && "type" in body && "status" in body) return body as Problem;
  return { type: "about:blank", title: `HTTP ${status}`, status, detail: typeof body === "string" ? body : "" };
}

/**
 * The problem's field errors by field, for a form to show beside its inputs: a field is named by
 * its path or its last path segment ("phone", "identity.value" -> "value" and "identity.value"
 * both), else by the nearest field that holds it ("rules.rules.0.give.1.ref" beside
 * "rules.rules.0.give", the rest of the path said first: a part of a row the form keeps, not shows);
 * what names no field of the form goes under "" (shown above the form).
 */
export function fieldErrors(problem: Problem, fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (field: string, message: string) => {
    out[field] = out[field] ? `${out[field]}; ${message}` : message;
  };
  for (const e of problem.errors ?? []) {
    const path = e.field.split(".");
    const hit = fields.find((f) => f === e.field || f === path[path.length - 1]);
    const holder = hit ? undefined : path.map((_, n) => path.slice(0, path.length - 1 - n).join(".")).find((p) => p && fields.includes(p));
    if (hit) put(hit, e.message);
    else if (holder) put(holder, `${e.field.slice(holder.length + 1)}: ${e.message}`);
    else put("", `${e.field}: ${e.message}`);
  }
  if (!problem.errors?.length) {
    // Some refusals name their field only in words ("phone is not a valid number for its region"):
    // beside that field if the detail starts with its name, else above the form.
    const named = fields.find((f) => f && (problem.detail ?? "").startsWith(`${f} `));
    put(named ?? "", problem.detail || problem.title);
  }
  return out;
}
