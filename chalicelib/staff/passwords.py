"""Staff passwords: Argon2id hashes and the rules a new password must meet.

Parameters: RFC 9106's second recommended option ("low memory"): Argon2id, 3 passes over 64 MiB,
4 lanes, a 16-byte salt and a 32-byte tag (``argon2.profiles.RFC_9106_LOW_MEMORY``). 64 MiB is
what a 512 MB Lambda can give a login without crowding the rest; the measured cost is in the
README (``python -m bench --staff``). The parameters are stored in each hash, so raising them
later rehashes each password at its next login (:func:`needs_rehash`).

A login name that does not exist is checked against a hash made with the same parameters
(:func:`verify` with ``None``): the same work, so the time of the answer says nothing of whether
the login exists. :data:`HASHES` counts the hashes computed, so tests compare the work done
rather than wall time.
"""

from __future__ import annotations

import secrets
import unicodedata
from functools import cache
from importlib import resources

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from chalicelib.shared.errors import ValidationProblem

HASHER = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
MIN_LENGTH, MAX_LENGTH = 10, 128
HASHES = [0]                      # hashes computed in this process (a login costs exactly one)


@cache
def _breached() -> frozenset[str]:
    text = resources.files("chalicelib.staff").joinpath("breached.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@cache
def _decoy() -> str:
    """A hash of a random password, for logins that do not exist (made once per container)."""
    return HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """A new Argon2id hash of ``password`` (a new salt)."""
    HASHES[0] += 1
    return HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from; None (no such login) costs the
    same one hash and is never right."""
    HASHES[0] += 1
    try:
        return HASHER.verify(stored or _decoy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters than today's."""
    return HASHER.check_needs_rehash(stored)


def check_rules(password: str, login: str) -> None:
    """422 unless ``password`` may be set: 10 to 128 characters, not the login name, not a
    common or breached password, not one character repeated."""
    normal = unicodedata.normalize("NFKC", password)
    if not MIN_LENGTH <= len(normal) <= MAX_LENGTH:
        raise ValidationProblem(f"a password has {MIN_LENGTH} to {MAX_LENGTH} characters",
                                errors=[{"field": "password", "message": "length"}])
    # control characters, and invisible ones (zero-width spaces, direction marks: Cf) that pad a
    # weak password to length or make one look like another
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in normal):
        raise ValidationProblem("a password has no control or invisible characters",
                                errors=[{"field": "password", "message": "control or invisible characters"}])
    lowered = normal.lower()
    if login.lower() in lowered or len(set(lowered)) < 4 or _guessable(lowered):
        raise ValidationProblem("this password is too easy to guess: it is a common or breached password, "
                                "contains the login name, or repeats a few characters",
                                errors=[{"field": "password", "message": "too easy to guess"}])


def _guessable(lowered: str) -> bool:
    """A listed password, or one with digits and symbols added before or after it, or one
    repeated (``iloveyou12``, ``!password1``, ``passwordpassword``)."""
    listed = _breached()
    core = lowered.strip("0123456789!@#$%^&*()_+-=.,?~ ")
    half = len(lowered) // 2
    return (lowered in listed or core in listed or (len(core) >= 4 and any(core == w for w in _WORDS))
            or (len(lowered) % 2 == 0 and lowered[:half] == lowered[half:]
                and (lowered[:half] in listed or lowered[:half] in _WORDS or len(set(lowered[:half])) < 4)))


# the words the listed passwords are made of (password, iloveyou, qwerty, admin...): with digits
# added they are no stronger
_WORDS = frozenset({"password", "passw0rd", "iloveyou", "qwerty", "qwertyuiop", "admin", "administrator", "welcome",
                    "letmein", "monkey", "dragon", "master", "shadow", "sunshine", "princess", "football",
                    "baseball", "superman", "batman", "starwars", "computer", "internet", "freedom", "changeme",
                    "secret", "login", "default", "guest", "test", "root", "woaini", "loyalty", "member",
                    "huiyuan", "mima", "asdfghjkl", "zxcvbnm", "abcdefgh", "abcdef", "summer", "winter",
                    "spring", "autumn"})


def one_time_code() -> str:
    """A reset code: 20 characters from a 32-letter alphabet (100 bits), shown once."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(20))
