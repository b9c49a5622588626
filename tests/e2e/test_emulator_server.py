"""The emulator as a server: concurrent conditional transactions over HTTP never double-spend."""

from devstack.checks import double_spend


def test_sixteen_threads_spend_exactly_the_balance(stack):
    result = double_spend(lambda: stack.client("dynamodb"), "e2e-double-spend")
    assert result["successes"] == 50
    assert result["other_outcomes"] == ["TransactionCanceledException"]        # no 500s
    assert result["final_balance"] == 0
    assert result["receipts"] == 50
