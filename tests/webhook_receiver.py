"""A webhook receiver on 127.0.0.1, as an integrator would write one: it verifies every post with
the ``standardwebhooks`` library and its secret(s), answers what the test scripts (a status, a
delay), and keeps what it received."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    """``answer(n) -> (status, delay seconds)`` for the n-th post (1-based); every post is kept as
    (headers, body, verified by which secrets)."""

    def __init__(self, secrets: list[str] | None = None,
                 answer: Callable[[int], tuple[int, float]] = lambda n: (204, 0.0)) -> None:
        self.secrets = list(secrets or [])
        self.answer = answer
        self.posts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = []
                for secret in receiver.secrets:
                    try:
                        Webhook(secret).verify(body, headers)
                        verified.append(secret)
                    except WebhookVerificationError:
                        pass
                with receiver._lock:
                    receiver.posts.append({"headers": headers, "body": json.loads(body), "raw": body,
                                           "verified": verified, "path": self.path, "at": time.time()})
                    n = len(receiver.posts)
                status, delay = receiver.answer(n)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass                     # the sender gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        """The webhook-id of every post, in arrival order."""
        return [p["headers"]["webhook-id"] for p in self.posts]

    def types(self) -> list[str]:
        return [p["body"]["type"] for p in self.posts]

    def wait_for(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The posts, once there are at least ``n`` (else AssertionError)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.posts) >= n:
                return self.posts
            time.sleep(0.05)
        raise AssertionError(f"{len(self.posts)} posts arrived, not {n}: {self.types()}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
