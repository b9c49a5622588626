"""`make run` as a developer uses it: starts, serves, pumps events, stops on Ctrl-C, keeps data."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import requests

from chalicelib.api.auth import signed_headers
from devstack.stack import ROOT, free_port


def start(data_dir: Path, port: int, emulator_port: int) -> subprocess.Popen:
    env = {**os.environ, "PORT": str(port), "EMULATOR_PORT": str(emulator_port), "LOCAL_DATA_DIR": str(data_dir)}
    env.pop("STAGE", None)
    proc = subprocess.Popen([sys.executable, "-m", "devstack"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.3)
        assert proc.poll() is None, proc.stdout.read()
    proc.kill()
    raise AssertionError("make run did not come up")


def registered(port: int, admin: dict) -> int:
    today = date.today()
    window = {"start": (today - timedelta(days=30)).isoformat(), "end": (today + timedelta(days=30)).isoformat()}
    r = requests.get(f"http://127.0.0.1:{port}/v1/stats/daily", params=window, headers=admin, timeout=10)
    assert r.status_code == 200, r.text
    return sum(d["members_registered"] for d in r.json()["days"])


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:               # hung: every thread's stack says where
        proc.send_signal(signal.SIGUSR1)
        time.sleep(2)
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError("make run did not stop within 60 s:\n" + out[-12_000:]) from None
    assert proc.returncode == 0, out
    return out


def test_run_serve_stop_and_restart_with_data(tmp_path):
    data = tmp_path / "data"
    port, emu = free_port(), free_port()
    proc = start(data, port, emu)
    try:
        creds = json.loads((tmp_path / "dev-credentials.json").read_text())
        assert creds["api_url"] == f"http://127.0.0.1:{port}"
        key = creds["pos_api_key"]
        body = json.dumps({"phone": "13912345678", "name": "Chen"}).encode()
        headers = {"Content-Type": "application/json",
                   **signed_headers(key["key_id"], key["secret"], "POST", "/v1/members", body,
                                    idempotency_key="smoke-1")}
        created = requests.post(f"http://127.0.0.1:{port}/v1/members", data=body, headers=headers, timeout=10)
        assert created.status_code == 201, created.text
        member_id = created.json()["member_id"]
        admin = {"Authorization": "Bearer " + creds["staff_tokens"]["super_admin"]}
        deadline = time.monotonic() + 20            # the stream pump runs in the background
        seen = 0
        while time.monotonic() < deadline and not seen:
            seen = registered(port, admin)
            time.sleep(0.2)
        assert seen == 1
    finally:
        out = stop(proc)
    assert "Loyalty platform, local stage" in out and "stopped; data saved." in out
    assert "13912345678" not in out
    assert (data / "loyalty-local-main.jsonl").exists()

    proc = start(data, port, emu)
    try:
        creds = json.loads((tmp_path / "dev-credentials.json").read_text())
        admin = {"Authorization": "Bearer " + creds["staff_tokens"]["super_admin"]}
        again = requests.get(f"http://127.0.0.1:{port}/v1/members/{member_id}", headers=admin, timeout=10)
        assert again.status_code == 200 and again.json()["name"] == "Chen"
        time.sleep(1)                                  # the pump must not redeliver restored events
        assert registered(port, admin) == 1
    finally:
        stop(proc)


def test_a_port_in_use_is_named_and_make_run_exits(tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        env = {**os.environ, "PORT": str(free_port()), "EMULATOR_PORT": str(busy), "LOCAL_DATA_DIR": str(tmp_path)}
        env.pop("STAGE", None)
        done = subprocess.run([sys.executable, "-m", "devstack"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
    assert done.returncode != 0
    assert str(busy) in done.stderr and "EMULATOR_PORT" in done.stderr
