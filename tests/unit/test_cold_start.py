"""Issue #10 item 12: what the API function imports at a cold start, and that nothing goes
missing for it. Each check runs in a fresh interpreter, as a Lambda container starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The registries and hooks as a process sees them: the jobs by name, the subscribers of each event
# type, and whether the API key lookup and earning's tier source are set.
REGISTRIES = """
import json
from chalicelib import jobs
from chalicelib.api import auth
from chalicelib.events import dispatch
from chalicelib.points import tiering
found = {"jobs": sorted(jobs.registered())}
dispatch.PROVIDERS.load()        # what the first event does (an event would reach the webhooks' fan-out: a read)
found["subscribers"] = {t: sorted(n for n, _ in subs) for t, subs in dispatch.SUBSCRIBERS.items() if subs}
found["hooks"] = [auth.KEY_FINDER.get() is not None, tiering.SOURCE.get() is not None]
print(json.dumps(found, sort_keys=True))
"""
EVERY_MODULE = """
import pkgutil, importlib, chalicelib
for m in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
    importlib.import_module(m.name)
"""


def _python(code: str) -> str:
    env = {**os.environ, "STAGE": "test", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_api_imports_routes_but_no_request_model_service_job_subscriber_or_table():
    loaded = json.loads(_python("import json, sys, app; print(json.dumps(sorted(sys.modules)))"))
    ours = {m for m in loaded if m.startswith("chalicelib.") and m.count(".") == 2 and not m.startswith("chalicelib.db.")}
    assert {"chalicelib.points.routes", "chalicelib.members.routes"} <= ours
    heavy = {m for m in ours if m.rsplit(".", 1)[1] in
             ("service", "jobs", "stream", "projection", "figures", "repository", "tables", "generation",
              "reconcile", "lifecycle", "ledger", "domain", "membership", "holds", "replies", "figure_replies",
              "schemas")}
    # request and reply models are named by reference: imported by the first request that needs
    # them, or for the document
    assert heavy == set()
    assert "boto3" not in loaded and "phonenumbers" not in loaded     # the SDK's resources; phones: members only
    # the console's files and headers (infra/console.py, devstack/console.py) are never the function's
    assert not [m for m in loaded if m.split(".")[0] in ("infra", "devstack")]


def test_a_lazy_process_ends_with_the_registries_of_one_that_imports_everything():
    """A module that registers a job or a subscriber but is not named in app.py would be missing
    from the functions that run them: compare with a process that imports every module."""
    lazy = json.loads(_python("import app\n" + REGISTRIES))
    eager = json.loads(_python(EVERY_MODULE + REGISTRIES))
    assert lazy == eager
    assert lazy["hooks"] == [True, True]
    assert {"points-expiry", "gift-card-batches", "stored-value-bonus-expiry"} <= set(lazy["jobs"])
    assert lazy["subscribers"]["points.earned"]          # the points figures, tiers, tasks...


def test_first_use_of_a_lazy_module_from_many_threads_imports_it_once():
    code = """
import sys, threading
from chalicelib.shared import lazy
service = lazy.module("chalicelib.tiers.service")
seen = []
threads = [threading.Thread(target=lambda: seen.append(service.__name__)) for _ in range(16)]
[t.start() for t in threads]; [t.join() for t in threads]
print(len(seen), len(set(seen)), sys.modules["chalicelib.tiers.service"].__name__)
"""
    assert _python(code) == "16 1 chalicelib.tiers.service"


def test_no_request_model_has_a_builtin_type_for_a_default_factory():
    """pydantic asks ``inspect.signature`` whether a default factory takes the validated data; for
    a builtin such as ``list`` that parses its text signature with ``tokenize``, whose regular
    expressions take 25-60 ms to compile: paid by the first request that builds such a model.
    ``Field([])`` is copied for each instance just the same."""
    found = json.loads(_python(EVERY_MODULE + """
import json, sys
from pydantic import BaseModel
bad = sorted(f"{c.__module__}.{c.__name__}.{n}" for m in list(sys.modules.values())
             if getattr(m, "__name__", "").startswith("chalicelib.")
             for c in vars(m).values() if isinstance(c, type) and issubclass(c, BaseModel) and c.__module__ == m.__name__
             for n, f in c.model_fields.items() if isinstance(f.default_factory, type) and f.default_factory.__module__ == "builtins")
print(json.dumps(bad))"""))
    assert found == []


def test_the_app_loads_without_collections_and_freezes_what_it_loaded():
    """Loading the app walks no cycles (gc off, then the modules frozen); after that, and after
    the first request, the collector is on; only that first request runs without it."""
    out = json.loads(_python("""
import gc, json
import app
from chalicelib.shared import coldstart
seen = {"after_import": gc.isenabled(), "frozen": gc.get_freeze_count()}
def handler(event):
    seen["during_first"] = gc.isenabled()
    return "ok"
coldstart.first_request(None, handler)
seen["after_first"], seen["frozen_after_first"] = gc.isenabled(), gc.get_freeze_count()
def second(event):
    seen["during_second"] = gc.isenabled()
    raise RuntimeError("a request that fails")
try:
    coldstart.first_request(None, second)
except RuntimeError:
    pass
seen["after_second"] = gc.isenabled()
print(json.dumps(seen))
"""))
    assert out["after_import"] and out["frozen"] > 10_000
    assert out["during_first"] is False and out["after_first"] is True
    assert out["frozen_after_first"] >= out["frozen"]
    assert out["during_second"] is True and out["after_second"] is True


def test_pydantic_plugins_are_not_looked_for_on_a_deployed_function():
    """pydantic reads every installed distribution's entry points to find plugins when it builds
    its first validator; none are used, so the functions' environment turns the search off."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["environment_variables"]["PYDANTIC_DISABLE_PLUGINS"] == "__all__"


def test_in_the_lambda_no_preflight_route_is_registered_and_the_middleware_answers_preflights():
    """The console's CORS (chalicelib/api/cors.py) costs the function's cold start nothing: its OPTIONS
    routes exist for the gateway and chalice local only, and the function answers an API Gateway
    preflight event before routing (the same answers over HTTP: tests/e2e/test_cors_http.py)."""
    out = json.loads(_python("""
import json, os
os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "loyalty-dev-APIHandler"
os.environ["CONSOLE_ORIGIN"] = "https://console.example.test"
import app

def event(origin):
    return {"resource": "/v1/members/{member_id}", "path": "/v1/members/01X", "httpMethod": "OPTIONS",
            "headers": {"Origin": origin, "Access-Control-Request-Method": "GET"}, "multiValueHeaders": {},
            "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": {"member_id": "01X"}, "stageVariables": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"resourcePath": "/v1/members/{member_id}", "httpMethod": "OPTIONS",
                               "path": "/dev/v1/members/01X", "requestId": "r-1"}}
print(json.dumps({"options": sum("OPTIONS" in m for m in app.app.routes.values()),
                  "ok": app.app(event("https://console.example.test"), None),
                  "other": app.app(event("https://evil.example.test"), None)}))
"""))
    assert out["options"] == 0
    assert out["ok"]["statusCode"] == 204
    assert out["ok"]["headers"]["Access-Control-Allow-Origin"] == "https://console.example.test"
    assert "GET" in out["ok"]["headers"]["Access-Control-Allow-Methods"]
    assert out["other"]["statusCode"] == 403 and "Access-Control-Allow-Origin" not in out["other"]["headers"]
