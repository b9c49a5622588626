"""What the audit store masks in an entry's detail (attack B #1): a credential, to its last
character; never a plain phrase that merely starts like one."""

import pytest

from chalicelib.db.audit import redact

SECRET = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(("typed", "kept"), [
    (f"rotated whsec_{SECRET} today", "rotated [redacted] today"),
    ("rt_default.01J8ZK.s3cr3tpart and more", "[redacted] and more"),
    ("Authorization: Bearer abc.def-123", "Authorization: [redacted]"),
    ("Bearer abcdefghijklmnop", "[redacted]"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig end", "jwt [redacted] end"),
    ("key " + "0f" * 32 + " kept", "key [redacted] kept"),
])
def test_a_credential_is_masked_whole_and_the_rest_kept(typed, kept):
    assert redact(typed) == kept


@pytest.mark.parametrize("typed", ["bearer of the card asked for it", "display_name: Bearer of the keys -> Anna",
                                   "Bearer abc", "rt_ops", "bearer-x", "hash " + "0f" * 31])
def test_a_plain_phrase_is_kept_as_typed(typed):
    assert redact(typed) == typed
