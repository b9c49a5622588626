import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.members.domain import Identity, Member, mask, normalise
from chalicelib.shared.errors import ValidationProblem


@pytest.mark.parametrize("raw", ["13800138000", "138 0013 8000", "+86 138-0013-8000", "+8613800138000", "008613800138000"])
def test_mainland_phone_formats_are_one_identity(raw):
    assert normalise("phone", raw) == Identity("phone", "+8613800138000")


def test_phone_from_another_region_keeps_its_country_code():
    assert normalise("phone", "+852 6123 4567").value == "+85261234567"


@pytest.mark.parametrize("raw", ["12345", "abc", "", "1380013800", "+86 000 0000 0000"])
def test_invalid_phones_are_refused_with_a_reason(raw):
    with pytest.raises(ValidationProblem) as error:
        normalise("phone", raw)
    assert "phone" in error.value.detail


def test_email_is_lower_cased_and_checked():
    assert normalise("email", " Zhang.San@Example.COM ").value == "zhang.san@example.com"
    with pytest.raises(ValidationProblem):
        normalise("email", "not-an-email")


def test_unknown_identity_type_is_refused():
    with pytest.raises(ValidationProblem, match="unknown identity type"):
        normalise("qq", "12345678")


def test_openid_and_card_shapes():
    assert normalise("wechat_openid", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M").value == "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
    assert normalise("card_no", "vip-0001").value == "VIP-0001"
    for kind, bad in [("wechat_openid", "short"), ("wechat_unionid", "has space in it"), ("card_no", "x")]:
        with pytest.raises(ValidationProblem):
            normalise(kind, bad)


def test_masking_matches_what_operators_expect():
    assert mask("phone", "+8613800138821") == "138****8821"
    assert mask("email", "zhang@example.com") == "z***@example.com"
    assert mask("wechat_openid", "o6_bmjrPTlm6") == "o6_bmjrPTlm6"


@given(st.integers(min_value=130_0000_0000, max_value=199_9999_9999))
def test_a_masked_view_never_contains_the_full_number(n):
    raw = str(n)
    try:
        identity = normalise("phone", raw)
    except ValidationProblem:
        return
    member = Member("01J0000000000000000000000", "t", "t", (identity,))
    view = member.view(reveal=False)
    assert raw not in str(view) and identity.value not in str(view)
    assert raw in member.view(reveal=True)["phone"]


def test_profile_patch_merges_custom_fields_and_removes_nulls():
    m = Member("id", "t0", "t0", (), custom_fields={"size": "M", "vip": True})
    patched = m.with_profile({"name": "Li", "custom_fields": {"size": None, "shoe": 42}}, "t1")
    assert patched.custom_fields == {"vip": True, "shoe": 42}
    assert patched.name == "Li" and patched.version == 2 and patched.updated_at == "t1"
