// One form submission, one Idempotency-Key: a double click sends once (the second press finds the
// first in flight and does nothing), and a retry of the same values after a failure sends the
// same key (the API answers what it did the first time, never a second write). Changed values are
// a new submission with a new key.
import { ref } from "vue";
import { newKey } from "./client";

export function useSubmission() {
  const pending = ref(false);
  let key: string | null = null;
  let sent = "";

  async function submit<T>(values: unknown, send: (idempotencyKey: string) => Promise<T>): Promise<T | undefined> {
    if (pending.value) return undefined;
    const text = JSON.stringify(values);
    if (key === null || text !== sent) {
      key = newKey();
      sent = text;
    }
    pending.value = true;
    try {
      const result = await send(key);
      key = null;               // done: the next submission is a new one
      return result;
    } finally {
      pending.value = false;
    }
  }

  return { pending, submit };
}
