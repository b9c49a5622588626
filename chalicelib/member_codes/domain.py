"""A member code, with no I/O: 18 digits, fit for a QR code or a Code 128 barcode and for typing.

``9`` (the kind: coupon codes begin with ``8``), the member's **handle** (10 digits: a random
number drawn when the member first asks for a code, never derived from the member id, stored as
``MCODE#<handle>`` so a till's code is resolved in one read, no scan), the **TOTP** of the
member's secret for the current minute (6 digits, RFC 6238: HMAC-SHA1 over the count of
:data:`STEP_SECONDS`-second steps since the epoch, by ``pyotp``), and a Luhn check digit (a
mistyped code is refused before any lookup).

A code is good in its own minute and the next (:data:`SKEW_STEPS` step of skew: the code shown at
12:00:59 and scanned at 12:01:05 still resolves), so at most two minutes; and once: a resolve
records its step on the handle, and a code of that step or an earlier one never resolves again.
Once a minute's code is used, the member is shown the next minute's (:data:`AHEAD_STEPS`: a code
one step ahead resolves too), so a second checkout in the same minute need not wait for it; a
third waits for the next minute (the service answers 429 until then, never showing a used code).
The handle alone tells nothing (it is not the member id, and without the current TOTP it resolves
nothing); it does let someone who sees two codes of one member tell they are the same member's.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp

from chalicelib.shared.codes import luhn_digit, luhn_ok

KIND = "9"
HANDLE_DIGITS = 10
TOTP_DIGITS = 6
STEP_SECONDS = 60
SKEW_STEPS = 1                  # steps before the current one whose code still resolves
AHEAD_STEPS = 1                 # steps after it: the code shown once this minute's was used
CODE = re.compile(rf"^{KIND}\d{{{HANDLE_DIGITS + TOTP_DIGITS + 1}}}$")


def new_handle() -> str:
    """A fresh handle (the CSPRNG's: nothing of the member in it)."""
    return f"{secrets.randbelow(10**HANDLE_DIGITS):0{HANDLE_DIGITS}d}"


def new_secret() -> str:
    """A fresh TOTP secret: base32 of 160 random bits (RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def step(at: datetime) -> int:
    """The TOTP step of ``at``: whole :data:`STEP_SECONDS` since the epoch."""
    return int(at.timestamp()) // STEP_SECONDS


def step_start(n: int) -> datetime:
    """When step ``n`` begins."""
    return datetime.fromtimestamp(n * STEP_SECONDS, UTC)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=STEP_SECONDS)


@dataclass(frozen=True)
class Shown:
    """A code as the member app shows it: the code, when it stops resolving, when a new one is due."""

    code: str
    step: int
    valid_until: datetime            # the end of the skew: after this the code never resolves
    next_at: datetime                # the next step's code exists from here (the refresh)

    def refresh_in(self, now: datetime) -> int:
        """Seconds until the app should ask again (at least 1)."""
        return max(1, int((self.next_at - now).total_seconds() + 0.999))


def code_at(secret: str, handle: str, at: datetime) -> Shown:
    """The member's code at ``at``."""
    n = step(at)
    body = KIND + handle + _totp(secret).generate_otp(n)
    return Shown(body + luhn_digit(body), n, step_start(n + 1 + SKEW_STEPS), step_start(n + 1))


@dataclass(frozen=True)
class Presented:
    """A well-formed code, split."""

    handle: str
    digits: str


def parse(code: str) -> Presented | None:
    """The handle and TOTP digits of a well-formed code; None for anything else."""
    if not isinstance(code, str) or not CODE.match(code) or not luhn_ok(code):
        return None
    return Presented(code[1:1 + HANDLE_DIGITS], code[1 + HANDLE_DIGITS:-1])


def matching_step(secret: str, digits: str, at: datetime) -> int | None:
    """The step (now, up to :data:`SKEW_STEPS` before or :data:`AHEAD_STEPS` after) whose TOTP is
    ``digits``; None: none."""
    totp, now = _totp(secret), step(at)
    for n in range(now + AHEAD_STEPS, now - SKEW_STEPS - 1, -1):
        if hmac.compare_digest(totp.generate_otp(n), digits):
            return n
    return None


def window(n: int) -> tuple[datetime, datetime]:
    """When a code of step ``n`` resolves: from its step's start to the end of its skew."""
    return step_start(n), step_start(n + 1 + SKEW_STEPS)


__all__ = ["Shown", "Presented", "code_at", "parse", "matching_step", "window", "new_handle", "new_secret", "step",
           "STEP_SECONDS", "SKEW_STEPS", "AHEAD_STEPS"]
