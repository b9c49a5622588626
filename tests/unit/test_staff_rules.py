"""Staff password rules, login names, the growing lock, and the TOTP step check."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from chalicelib.ledger.lockout import Lockout, locked
from chalicelib.shared.errors import ValidationProblem
from chalicelib.shared.principal import Principal
from chalicelib.staff import passwords
from chalicelib.staff.accounts import may_manage, normal_login


@pytest.mark.parametrize("password", ["short-1", "password123", "Password123", "aaaaaaaaaaaa", "ababababababab",
                                      "x" * 129, "clerk-anna-2026!", "good\x00password-long", "passwordpassword",
                                      "iloveyou12", "!password1", "abcde\u200b\u200b\u200b\u200b\u200b",
                                      "Correct\u202ehorse-staple", "Qwerty123456"])
def test_weak_or_malformed_passwords_are_refused(password):
    with pytest.raises(ValidationProblem):
        passwords.check_rules(password, "clerk-anna")


def test_a_long_uncommon_password_is_accepted_and_verifies_with_one_hash_each():
    passwords.check_rules("Correct-horse-staple-42", "clerk-anna")
    stored = passwords.hash_password("Correct-horse-staple-42")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    before = passwords.HASHES[0]
    assert passwords.verify(stored, "Correct-horse-staple-42")
    assert not passwords.verify(stored, "Correct-horse-staple-43")
    assert not passwords.verify(None, "Correct-horse-staple-42")      # no such login: never right
    assert passwords.HASHES[0] - before == 3
    assert not passwords.needs_rehash(stored)


@pytest.mark.parametrize("name", ["ab", "bad name", "bad\x07name", "-dash-first", "x" * 65, "名字abc"])
def test_login_names_outside_the_alphabet_are_refused(name):
    with pytest.raises(ValidationProblem):
        normal_login(name)


def test_login_names_are_lower_cased():
    assert normal_login("  Anna.Li@Store-1 ") == "anna.li@store-1"


def test_each_lock_lasts_twice_the_last_up_to_a_day():
    lockout = Lockout(5, timedelta(minutes=1))
    assert [lockout.lasting(n) for n in range(3)] == [timedelta(minutes=1), timedelta(minutes=2),
                                                      timedelta(minutes=4)]
    assert lockout.lasting(20) == lockout.lasting(200) == timedelta(days=1)
    now = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    until = lockout.until(now, 1)
    assert locked(until, now + timedelta(seconds=119)) and not locked(until, now + timedelta(seconds=120))
    assert not locked(None, now)


def test_who_may_manage_whom():
    sa = Principal("staff", "a", "super_admin")
    ma = Principal("staff", "b", "merchant_admin", "m1")
    assert may_manage(sa, "super_admin", None) and may_manage(sa, "clerk", "m2")
    assert may_manage(ma, "clerk", "m1") and may_manage(ma, "merchant_admin", "m1")
    assert not may_manage(ma, "clerk", "m2") and not may_manage(ma, "ops_manager", None)
    assert not may_manage(ma, "finance", None) and not may_manage(ma, "super_admin", None)
    for role in ("ops_manager", "finance", "auditor", "store_manager", "clerk"):
        assert not may_manage(Principal("staff", "c", role, "m1", "s1"), "clerk", "m1")
    assert not may_manage(Principal("merchant", "k", None, "m1"), "clerk", "m1")


def test_a_totp_code_is_good_once_and_only_in_its_window():
    from chalicelib.staff.sessions import step_of
    totp = pyotp.TOTP(pyotp.random_base32())
    code = totp.now()
    step = step_of(totp, code, 0)
    assert step is not None
    assert step_of(totp, code, step) is None                 # used: the next login must bring a later code
    assert step_of(totp, "12345", 0) is None and step_of(totp, "abcdef", 0) is None
    assert step_of(totp, totp.at(0), 0) is None              # a code of 1970


def test_every_deployed_stage_gives_the_api_the_memory_a_login_hash_needs():
    """A login hashes over 64 MiB (Argon2id): Chalice's default of 128 MB would not hold it beside
    the runtime; 512 MB is the floor on every stage."""
    import json
    from pathlib import Path
    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())
    assert passwords.HASHER.memory_cost == 65_536
    for name, stage in config["stages"].items():
        assert stage.get("lambda_memory_size", config.get("lambda_memory_size", 128)) >= 512, name
