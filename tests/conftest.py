"""Environment for every test tier: fixed local secrets, no real AWS ever reachable."""

import os

os.environ.update({
    "STAGE": os.environ.get("TEST_STAGE", "test"),
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "cn-north-1", "AWS_REGION": "cn-north-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
    "JWT_SECRET": "test-jwt-secret-0123456789-0123456789",
    "API_KEY_MASTER": "test-api-key-master-0123456789-0123456789",
})
for var in ("AWS_ENDPOINT_URL", "DYNAMODB_ENDPOINT", "AWS_PROFILE"):
    os.environ.pop(var, None)

from hypothesis import HealthCheck, settings  # noqa: E402 - after the environment above

# Every run: the same examples as Hypothesis's defaults, but no failure because generating them
# was slow: on 2 cores with the other tiers beside it, a strategy's first inputs can take over a
# second (seen: "Input generation is slow" on a list of weights), which says nothing of the code.
settings.register_profile("house", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("house")

if "MUTANT_UNDER_TEST" in os.environ:
    # `make mutation` (mutmut sets this): the same examples for every mutant, and a failure is a
    # kill as it stands, not shrunk first (the shrinking of one kill can take minutes)
    from hypothesis import Phase
    settings.register_profile("mutation", parent=settings.get_profile("house"), derandomize=True, database=None,
                              phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.load_profile("mutation")


def pytest_collection_modifyitems(config, items):
    """``TEST_SHARD=i/n`` (``make test``'s fast tier, run as two processes side by side): keep the
    test files of shard ``i`` of ``n``. Each process collects the same tests and deals the files
    out the same way: biggest first (by the tests a file holds), each to the lightest shard."""
    shard = os.environ.get("TEST_SHARD")
    if not shard:
        return
    mine, count = (int(x) for x in shard.split("/"))
    sizes: dict[str, int] = {}
    for item in items:
        sizes[item.location[0]] = sizes.get(item.location[0], 0) + 1
    loads, owner = [0] * count, {}
    for path, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        lightest = loads.index(min(loads))
        owner[path], loads[lightest] = lightest, loads[lightest] + size
    kept = [item for item in items if owner[item.location[0]] == mine]
    config.hook.pytest_deselected(items=[item for item in items if owner[item.location[0]] != mine])
    items[:] = kept
