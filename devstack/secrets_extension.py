"""A local stand-in for the AWS Parameters and Secrets Lambda Extension: the HTTP endpoint a
function with the extension's layer calls instead of Secrets Manager's API
(``GET /secretsmanager/get?secretId=...`` on 127.0.0.1, the function's session token in
``X-Aws-Parameters-Secrets-Token``), answered from the emulator's Secrets Manager. The local stack
starts it; the bench's cold start uses it as a deployed function with the layer would."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"


class SecretsExtension:
    """The stand-in, on a port of 127.0.0.1, reading secrets with ``client`` (Secrets Manager)."""

    def __init__(self, client: Any, port: int = 0) -> None:  # noqa: ANN401
        manager = client

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlsplit(self.path)
                name = parse_qs(url.query).get("secretId", [""])[0]
                if self.headers.get(TOKEN_HEADER) is None:      # the extension refuses a call without it
                    return self._answer(401, {"message": f"{TOKEN_HEADER} is missing"})
                if url.path != "/secretsmanager/get" or not name:
                    return self._answer(400, {"message": "GET /secretsmanager/get?secretId=<name>"})
                try:
                    found = manager.get_secret_value(SecretId=name)
                except manager.exceptions.ResourceNotFoundException:
                    return self._answer(404, {"message": f"no secret {name}"})
                return self._answer(200, {k: found[k] for k in ("ARN", "Name", "SecretString", "VersionId")
                                          if k in found})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # noqa: ANN401 - quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="secrets-extension")
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
