// The people-and-integrations pages' messages (issue #30, fifth part: webhooks, staff, API keys,
// job runs): their own namespace ("people"), merged beside the rest in ./index.ts.
export default {
  secretOnce: "Shown this once: copy it now. It is never shown again (not after a reload either).",
  copy: "Copy", copied: "Copied", cancel: "Cancel", save: "Save", saved: "Saved",
  hooks: {
    create: "New subscription", url: "URL", filters: "Event types", filtersHint: "pick from the catalogue, or type a pattern (points.*)",
    merchant: "Only a merchant's events (optional)", description: "Description", submit: "Subscribe",
    made: "Subscribed: the signing secret of {id}", edit: "Change the subscription", enabled: "Delivering",
    rotate: "Rotate the secret", overlap: "Old secret keeps signing for (hours)", rotated: "The new signing secret",
    oldUntil: "The old secret keeps signing beside it until {until}.", oldNow: "The old secret stopped signing at once.",
    delete: "Delete", confirmDelete: "Delete this subscription? Nothing more is delivered to it.", confirm: "Delete it",
    deleted: "Deleted", secrets: "Signing secrets", current: "current", retires: "retires {at}", none: "None",
    needFilters: "Pick at least one event type", needUrl: "A URL (https://…)",
    at: "When", replaySince: "Deliver every event since {since} again", replayMore: "Carry on replaying",
    moreToReplay: "more to replay",
  },
  staff: {
    edit: "Change", editTitle: "Change {login}", role: "Role", scope: "Merchant / store", submit: "Save",
    endsLogins: "A role or scope change ends the account's logins.", changed: "Saved: {login} is now {role}",
    reset: "Reset password", resetDone: "{login}'s password is cleared and its logins ended. The one-time code below (until {until}) is shown this once: the person sets a new password with it on the login page (\"I have a one-time code\").",
    retryNoCode: "This reset was made already (same request): the code is not kept and cannot be shown again. Reset again for a new one.",
    totp: "TOTP", totpOn: "enrolled", totpOff: "not enrolled", lockout: "Lockout",
    lockedUntil: "Login locked until {until} (wrong passwords)", unlock: "Release the lock",
    notLocked: "Login not locked ({n} wrong passwords in a row)",
    lockoutUnknown: "not in the API", lastLogin: "Last login", self: "you",
  },
  keys: {
    rotate: "Rotate", overlap: "Old key works for (hours)", rotated: "New key {id} in place of {old}: its secret, shown this once:",
    oldUntil: "The old key keeps working until {until}, then is refused.", retiring: "retiring", until: "until {at}",
  },
  jobs: {
    title: "Scheduled jobs", job: "Job", every: "Every", minutes: "{n} min", hours: "{n} h", days: "{n} d",
    asOf: "Last run as of", finished: "Finished", part: "Part", state: "State", behind: "Behind", onTime: "On time",
    continues: "continues", never: "never ran", hqNote: "When each job last ran, for every program at once: what a run did is the platform's (its counts are every program's).",
    readAt: "Read at {at}",
  },
  setPassword: {
    link: "I have a one-time code", title: "Set a new password", code: "One-time code", newPassword: "New password",
    submit: "Set the password", done: "Password set: log in with it.", back: "Back to login",
  },
};
