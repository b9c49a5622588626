"""Card numbers and secrets (卡号 and 卡密), with no I/O.

* A card number is 16 digits: ``9``, the program's batch number (6), the card's serial in the
  batch (8) and a Luhn check digit, so a mistyped number is refused before any lookup. Numbers
  are printed on the card and are not secret; ranges of them are what a corporate sale names.
* A secret is 16 digits from the operating system's CSPRNG (``secrets``): 53 bits. It is stored
  only as a salted scrypt hash (hashlib's, from OpenSSL) and leaves the system once, in the
  batch's export. scrypt here costs N=2^12, r=8, p=1: 4 MiB and about 10 ms on one core per
  hash. With 53 bits of secret that puts an offline search of one stolen hash at about 10^13
  core-seconds, while a batch of 100,000 cards stays about 1,000 core-seconds to generate
  (parallel: hashlib releases the GIL, and chunks are independent).
* Every check costs one hash, whether the card exists or not, so a wrong number and a wrong
  secret take the same time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from chalicelib.shared.codes import luhn_digit

N, R, P = 2**12, 8, 1
SALT_BYTES, HASH_BYTES = 16, 32
MAXMEM = 64 * 2**20
NUMBER = re.compile(r"^9\d{15}$")
SECRET = re.compile(r"^\d{16}$")
_DUMMY = "scrypt$4096$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + base64.b64encode(bytes(HASH_BYTES)).decode()


def card_number(batch_no: int, serial: int) -> str:
    """The number of card ``serial`` (from 1) of batch ``batch_no``."""
    body = f"9{batch_no:06d}{serial:08d}"
    return body + luhn_digit(body)


def valid_number(number: str) -> bool:
    """Whether ``number`` has the shape of a card number and its check digit is right."""
    return bool(NUMBER.match(number)) and luhn_digit(number[:-1]) == number[-1]


def serial_of(number: str) -> int:
    """The card's serial in its batch."""
    return int(number[7:15])


def batch_no_of(number: str) -> int:
    """The card's batch number."""
    return int(number[1:7])


def new_secret() -> str:
    """16 digits from the CSPRNG."""
    return f"{secrets.randbelow(10**16):016d}"


def hash_secret(secret: str) -> str:
    """A salted scrypt hash: ``scrypt$N$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=N, r=R, p=P, maxmem=MAXMEM, dklen=HASH_BYTES)
    return f"scrypt${N}${R}${P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify(secret: str, stored: str | None) -> bool:
    """Whether ``secret`` matches ``stored`` (a hash of :func:`hash_secret`); with no stored hash
    (no such card) one hash is computed all the same and the answer is False."""
    _, n, r, p, salt, digest = (stored or _DUMMY).split("$")
    found = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                           maxmem=MAXMEM, dklen=HASH_BYTES)
    return hmac.compare_digest(found, base64.b64decode(digest)) and stored is not None
