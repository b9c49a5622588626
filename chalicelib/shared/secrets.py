"""The signing secrets: where they come from, how they rotate, and why a deployed stage refuses to
start without them.

Deployed stages read one Secrets Manager secret (``SECRETS_NAME``, ``loyalty/<stage>``) at cold
start (cached for ``SECRETS_MAX_AGE`` seconds), never from
environment variables, which anyone with ``lambda:GetFunctionConfiguration`` can read. Its JSON::

    {"jwt_keys": {"k2": "<new>", "k1": "<old>"}, "jwt_active": "k2",
     "api_key_masters": {"m2": "<new>", "m1": "<old>"}, "api_key_active": "m2"}

(the older flat form ``{"jwt_secret": ..., "api_key_master": ...}`` reads as one key each).

* Tokens are signed with the active JWT key and carry its ``kid``; every listed key verifies, so a
  rotation adds a key, makes it active, and drops the old one once its tokens have expired.
* An API key's secret is derived from the master that was active when the key was created (the
  key records which); old keys keep working while their master is listed, until they are
  rotated (a new key, then revoking the old).

Outside the ``local`` and ``test`` stages a missing secret, or one shorter than 32 bytes, stops the
process: the repository's published development values can never sign anything in production.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.shared import aws
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.config import settings

MIN_BYTES = 32
DEV_STAGES = ("local", "test")
DEV_JWT = "local-jwt-secret-change-me-0123456789"
DEV_MASTER = "local-api-key-master-change-me-0123456789"
LEGACY = "k0"               # the id of a key given in the flat form (tokens and API keys before rotation)
# The shape of a key id (``kid``). A token naming a kid of another shape was not signed by us, so
# it never costs a Secrets Manager read; a deployed stage refuses key ids outside it.
KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
# An unknown kid re-reads the secret at most once per this many seconds per container: anyone can
# forge a token with a fresh kid, and each read is a paid, throttled Secrets Manager call.
RELOAD_MIN_SECONDS = float(os.environ.get("SECRETS_RELOAD_MIN_SECONDS", "30"))


class InsecureConfiguration(RuntimeError):
    """A deployed stage without strong secrets: the process must not serve."""


@dataclass(frozen=True)
class Secrets:
    jwt_keys: dict[str, str]
    jwt_active: str
    api_key_masters: dict[str, str]
    api_key_active: str

    def jwt_key(self, kid: object) -> str | None:
        """The JWT key with id ``kid`` (a token without one was signed before rotation: ``k0``);
        None for an unknown one (or a header's kid that is not even a string)."""
        if kid is not None and not isinstance(kid, str):
            return None
        return self.jwt_keys.get(kid or LEGACY)

    def master(self, version: str | None) -> str | None:
        """The API key master of ``version`` (keys created before rotation: ``k0``)."""
        return self.api_key_masters.get(version or LEGACY)


def _parse(data: dict[str, Any]) -> Secrets:
    jwt_keys = dict(data.get("jwt_keys") or ({LEGACY: data["jwt_secret"]} if data.get("jwt_secret") else {}))
    masters = dict(data.get("api_key_masters")
                   or ({LEGACY: data["api_key_master"]} if data.get("api_key_master") else {}))
    return Secrets(jwt_keys, str(data.get("jwt_active") or next(iter(jwt_keys), LEGACY)),
                   masters, str(data.get("api_key_active") or next(iter(masters), LEGACY)))


def _from_environment() -> dict[str, Any]:
    """The local and test stages: environment variables, else the published development values.
    (Deployed stages never read secrets from the environment.)"""
    data: dict[str, Any] = {}
    if settings().stage not in DEV_STAGES:
        return data
    if os.environ.get("JWT_SECRET"):
        data["jwt_secret"] = os.environ["JWT_SECRET"]
    if os.environ.get("API_KEY_MASTER"):
        data["api_key_master"] = os.environ["API_KEY_MASTER"]
    data.setdefault("jwt_secret", DEV_JWT)
    data.setdefault("api_key_master", DEV_MASTER)
    return data


def _from_secrets_manager(name: str) -> dict[str, Any]:
    # Through the AWS Parameters and Secrets Lambda Extension when the function has it (the
    # template attaches it when given its layer's ARN, and sets its port): a local HTTP call, no
    # second botocore client (about 50 million instructions of a cold start). Otherwise one call on
    # a client of the process's one botocore session (chalicelib.shared.aws). Not Powertools
    # parameters: it imports boto3 for this one call; the caching it would add is this module's own.
    port = os.environ.get(EXTENSION_PORT)
    if port:
        return json.loads(_from_extension(name, int(port))["SecretString"])
    client = aws.client("secretsmanager", region_name=settings().region)
    return json.loads(client.get_secret_value(SecretId=name)["SecretString"])


EXTENSION_PORT = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"


def _from_extension(name: str, port: int) -> dict[str, Any]:
    """GetSecretValue's answer from the extension at ``127.0.0.1:port`` (urllib3: already loaded
    by botocore). The extension takes the function's session token as proof of the caller."""
    import urllib3
    reply = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=1.0, read=3.0)).request(
        "GET", f"http://127.0.0.1:{port}/secretsmanager/get", fields={"secretId": name},
        headers={"X-Aws-Parameters-Secrets-Token": os.environ.get("AWS_SESSION_TOKEN", "")})
    if reply.status != 200:
        raise RuntimeError(f"the secrets extension answered {reply.status} for {name}")
    found: dict[str, Any] = json.loads(reply.data)
    return found


def check(found: Secrets, stage: str) -> None:
    """Refuse weak or missing secrets outside the development stages."""
    if stage in DEV_STAGES:
        return
    problems = []
    if found.jwt_active not in found.jwt_keys:
        problems.append("no active JWT key")
    if found.api_key_active not in found.api_key_masters:
        problems.append("no active API key master")
    for kind, keys in (("JWT key", found.jwt_keys), ("API key master", found.api_key_masters)):
        for kid, value in keys.items():
            if not KID.fullmatch(kid):
                problems.append(f"{kind} id {kid[:40]!r} is not 1-32 letters, digits, '_' or '-'")
            if len(value.encode()) < MIN_BYTES:
                problems.append(f"{kind} {kid} is shorter than {MIN_BYTES} bytes")
            if value in (DEV_JWT, DEV_MASTER):
                problems.append(f"{kind} {kid} is the repository's development value")
    if problems:
        raise InsecureConfiguration(f"stage {stage} refuses to start: " + "; ".join(problems)
                                    + " (set the secret named by SECRETS_NAME)")


def _load() -> Secrets:
    name = os.environ.get("SECRETS_NAME")
    found = _parse(_from_secrets_manager(name) if name else _from_environment())
    check(found, settings().stage)
    return found


_CACHE: TtlCache[Secrets] = TtlCache(float(os.environ.get("SECRETS_MAX_AGE", "300")), max_entries=1)


def current() -> Secrets:
    """The secrets of this process: read at cold start, again after ``SECRETS_MAX_AGE`` seconds
    (a rotation reaches every container within that time)."""
    return _CACHE.get("secrets", _load)


def reload() -> None:
    """Forget the secrets read (tests; a token with an unknown ``kid`` after a rotation)."""
    _CACHE.clear()


_reloaded_at = [float("-inf")]
_reload_lock = threading.Lock()


def reload_for_unknown(kid: str) -> bool:
    """Forget the secrets read, for a token signed with ``kid`` that they do not list (it may be a
    rotation's new key this container has not read yet), unless ``kid`` is not of our shape or the
    secrets were re-read this way less than ``RELOAD_MIN_SECONDS`` ago. Whether they were.

    A rotation adds the new key, then makes it active no sooner than ``SECRETS_MAX_AGE`` later, so
    a container that declined a reload here still learns the key on its next scheduled read."""
    if not KID.fullmatch(kid):
        return False
    with _reload_lock:
        now = time.monotonic()
        if now - _reloaded_at[0] < RELOAD_MIN_SECONDS:
            return False
        _reloaded_at[0] = now
    reload()
    return True
