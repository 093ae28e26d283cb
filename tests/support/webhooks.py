"""A real webhook receiver on loopback for the alert tests: it verifies each request's Standard Webhooks
signature, answers as told (fail the first N requests, stall, or 2xx), and keeps what it accepted by id."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from creditshare.alerts import signing


class _Server(ThreadingHTTPServer):
    #: socketserver's default backlog of 5 drops connections of concurrent deliveries (a 1 s SYN retry each)
    request_queue_size = 128
    daemon_threads = True


@dataclass
class Receiver:
    """A webhook receiver: `url` to register, `secret` to verify with (set it after registering)."""

    secret: str = ""
    fail_first: int = 0  # answer 500 to this many requests first
    delay: float = 0.0  # seconds to wait before answering
    requests: list[dict[str, Any]] = field(default_factory=list)  # every request, in arrival order
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # webhook-id → body, first acceptance
    bad_signatures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as any production receiver

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.handle(self, body)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        msg_id = request.headers.get("webhook-id", "")
        with self._lock:
            self.requests.append({"id": msg_id, "at": time.time()})
            failing = len(self.requests) <= self.fail_first
        if self.delay:
            time.sleep(self.delay)
        try:
            signing.verify(
                self.secret,
                msg_id,
                int(request.headers.get("webhook-timestamp", "0")),
                body,
                request.headers.get("webhook-signature", ""),
                int(time.time()),
            )
        except signing.InvalidSignature:
            with self._lock:
                self.bad_signatures += 1
            request.send_response(400)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        if failing:
            request.send_response(500)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        with self._lock:
            self.accepted.setdefault(msg_id, {**json.loads(body), "received_at": time.time()})
        request.send_response(204)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def attempts_of(self, msg_id: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r["id"] == msg_id)
