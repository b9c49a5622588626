"""A reveal of a member's personal data with its reason (#30: the console asks for one): the reason
is kept with the reveal in the member's audit trail; a reason too short is refused, nothing shown."""

from urllib.parse import quote


def test_the_reason_for_a_reveal_is_kept_in_the_audit_trail(api):
    mid = api.member("13800139401")
    shown = api.ok("GET", f"/v1/members/{mid}?reveal=true&reason={quote('客户来电核实身份')}")
    assert shown["phone"] == "+8613800139401"
    trail = api.ok("GET", f"/v1/members/{mid}/audit")
    revealed = [e["detail"] for e in trail["entries"] if e["action"] == "pii.revealed"]
    assert revealed == ["phone,email; reason: 客户来电核实身份"]
    status, problem = api.call("GET", f"/v1/members/{mid}?reveal=true&reason=x")
    assert status == 422 and problem["errors"][0]["field"] == "reason"
