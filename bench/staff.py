"""Staff logins (#28 "Measure"): loginStaff (its Argon2id hash's CPU time, and what a 512 MB
Lambda makes of it), refreshStaffToken, and what the login check adds to an authenticated call
(uncached: each call checks; cached: the check is made once per container per 5 seconds)."""

from __future__ import annotations

import time
from typing import Any

import requests

from bench.__main__ import _client, row, timed

# Lambda gives a function CPU in proportion to its memory: one full vCPU at 1,769 MB
# (docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), so 512 MB is about 0.29 of one.
LAMBDA_VCPU_AT = 1_769


def hash_cpu(n: int = 20) -> dict[str, Any]:
    """The CPU time of one Argon2id hash (the work of every login, right or wrong)."""
    from chalicelib.staff import passwords
    passwords.hash_password("warm-up-password-1")
    started, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        passwords.hash_password(f"Bench-password-{i}")
    cpu_ms = (time.process_time() - started) * 1000 / n
    wall_ms = (time.perf_counter() - wall) * 1000 / n
    share = 512 / LAMBDA_VCPU_AT
    return {"hashes": n, "cpu_ms_per_hash": round(cpu_ms, 1), "wall_ms_per_hash": round(wall_ms, 1),
            "memory_mib": passwords.HASHER.memory_cost // 1024, "lambda_512mb_ms_estimate": round(wall_ms / share),
            "parameters": f"Argon2id t={passwords.HASHER.time_cost} m={passwords.HASHER.memory_cost} KiB "
                          f"p={passwords.HASHER.parallelism}"}


def staff_operations(stack, n: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-call cost of loginStaff, refreshStaffToken and an authenticated read with and without
    the login check's cache."""
    from chalicelib.api import auth
    session, post, _ = _client(stack, "st")
    login = f"bench-{int(time.time())}"
    post("/v1/staff", {"login": login, "display_name": "bench", "role": "ops_manager",
                       "password": "Bench-staff-password-7"})
    body = {"program_id": "default", "login": login, "password": "Bench-staff-password-7"}
    pairs: list[dict[str, Any]] = []

    def log_in(i: int) -> None:
        r = session.post(f"{stack.api_url}/v1/auth/staff/login", json=body)
        assert r.status_code == 201, r.text
        pairs.append(r.json())
    samples, usage = timed(n, log_in)
    rows = [row("loginStaff", "a right password (one Argon2id hash), a new login", n, samples, usage)]
    chain = [pairs[-1]["refresh_token"]]

    def refresh(i: int) -> None:
        r = session.post(f"{stack.api_url}/v1/auth/staff/refresh", json={"refresh_token": chain[-1]})
        assert r.status_code == 201, r.text
        chain.append(r.json()["refresh_token"])
        pairs.append(r.json())
    samples, usage = timed(n, refresh)
    rows.append(row("refreshStaffToken", "the next pair of a login", n, samples, usage))
    token = pairs[-1]["token"]

    def read(i: int, forget: bool) -> None:
        if forget:
            auth.forget_staff()
        r = session.get(f"{stack.api_url}/v1/tiers/ladder", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
    samples, usage = timed(n, lambda i: read(i, True))
    rows.append(row("getTierLadder, login token", "the login checked on each call (uncached)", n, samples, usage))
    samples, usage = timed(n, lambda i: read(i, False), warmup=1)
    rows.append(row("getTierLadder, login token", "the check cached (5 s per container)", n, samples, usage))
    minted = stack.credentials["staff_tokens"]["ops_manager"]
    samples, usage = timed(n, lambda i: requests.get(f"{stack.api_url}/v1/tiers/ladder",
                                                     headers={"Authorization": f"Bearer {minted}"}))
    rows.append(row("getTierLadder, minted token", "no login to check (local stage)", n, samples, usage))
    return rows, hash_cpu()
