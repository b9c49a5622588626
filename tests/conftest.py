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
# or running one was slow: on 2 cores with the other tiers beside it, a strategy's first inputs can
# take over a second (seen: "Input generation is slow" on a list of weights) and a pure example
# 574 ms against the 200 ms deadline (a FlakyFailure in a fresh clone's make test), which says
# nothing of the code. Speed is measured in `make bench`, not asserted here.
settings.register_profile("house", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("house")

if "MUTANT_UNDER_TEST" in os.environ:
    # `make mutation` (mutmut sets this): the same examples for every mutant, and a failure is a
    # kill as it stands, not shrunk first (the shrinking of one kill can take minutes)
    from hypothesis import Phase
    settings.register_profile("mutation", parent=settings.get_profile("house"), derandomize=True, database=None,
                              phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.load_profile("mutation")


# Seconds each test file took in its tier (setup, call and teardown), as `make test-durations`
# last measured them: `make test` deals the files of a tier out to its processes by these.
DURATIONS = os.path.join(os.path.dirname(__file__), "durations.json")


def _file(item) -> str:
    """The test file an item was collected from (a state machine's ``location`` is Hypothesis's)."""
    return item.nodeid.split("::", 1)[0]


def _weights(items) -> dict[str, float]:
    """Each file's weight: its recorded seconds; a file not yet recorded weighs its tests times
    the recorded files' mean seconds a test (so a new file is dealt out, not piled on one shard)."""
    import json
    counts: dict[str, int] = {}
    for item in items:
        counts[_file(item)] = counts.get(_file(item), 0) + 1
    try:
        with open(DURATIONS) as f:
            recorded = json.load(f)["files"]
    except FileNotFoundError:
        recorded = {}
    known = [(recorded[p], n) for p, n in counts.items() if p in recorded]
    per_test = sum(s for s, _ in known) / max(1, sum(n for _, n in known)) if known else 1.0
    return {p: recorded.get(p, n * per_test) for p, n in counts.items()}


def pytest_collection_modifyitems(config, items):
    """``TEST_SHARD=i/n`` (``make test`` runs the fast and end-to-end tiers as two processes each,
    side by side): keep the test files of shard ``i`` of ``n``. Each process collects the same
    tests and deals the files out the same way: heaviest first (by ``tests/durations.json``), each
    to the lightest shard. A test marked ``every_shard`` runs in every shard.

    ``DB_TESTS_ON_MOTO=edges`` (``make test``'s fast tier): a data-layer test (the ``db`` fixture)
    runs on moto only if it is an edge test; ``make test`` runs every other one on AWS's DynamoDB
    Local in its own tier beside this one (``test-ddblocal``), and on the in-memory fake here. Moto
    is still proved by the tests that need it (``aws``: streams, infra, the emulator) and by the
    end-to-end tier, which runs on it whole. (The moto runs of those 463 tests were 296 of this
    tier's CPU seconds.)"""
    if os.environ.get("DB_TESTS_ON_MOTO") == "edges":
        elsewhere = [item for item in items if _on_moto(item) and "edges" not in item.nodeid]
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [item for item in items if not (_on_moto(item) and "edges" not in item.nodeid)]
    shard = os.environ.get("TEST_SHARD")
    if not shard:
        return
    mine, count = (int(x) for x in shard.split("/"))
    weights = _weights(items)
    loads, owner = [0.0] * count, {}
    for path, weight in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
        lightest = loads.index(min(loads))
        owner[path], loads[lightest] = lightest, loads[lightest] + weight

    def kept(item) -> bool:
        return owner[_file(item)] == mine or item.get_closest_marker("every_shard") is not None
    config.hook.pytest_deselected(items=[item for item in items if not kept(item)])
    items[:] = [item for item in items if kept(item)]


def _on_moto(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("db") == "dynamodb"


_SPENT: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """``TEST_DURATIONS_OUT=<file>``: add up each test file's seconds and write them at the end."""
    if "TEST_DURATIONS_OUT" in os.environ:
        path = report.nodeid.split("::", 1)[0]
        _SPENT[path] = _SPENT.get(path, 0.0) + report.duration


def pytest_sessionfinish(session):
    out = os.environ.get("TEST_DURATIONS_OUT")
    if out and _SPENT:
        import json
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with open(out, "w") as f:
            json.dump({p: round(s, 2) for p, s in sorted(_SPENT.items())}, f, indent=0)
