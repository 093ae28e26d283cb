"""A JSON-RPC proxy in front of a real node, driven per test to inject faults (never a mock: every call that is
not faulted reaches the node and its answer comes back unchanged).

Faults: answer every call with a JSON-RPC error (a node up but failing); hold calls until released (a node that
hangs); refuse `eth_getLogs` spanning more blocks than a cap (Besu's `--rpc-max-logs-range`).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class LogsRequest:
    """One eth_getLogs the proxy saw: its block span and whether it refused it."""

    span: int
    refused: bool


class RpcProxy:
    """A JSON-RPC proxy on 127.0.0.1 forwarding to `upstream`, with switchable faults."""

    def __init__(self, upstream: str, *, max_logs_span: int | None = None) -> None:
        self.upstream = upstream
        self.max_logs_span = max_logs_span
        self.logs_requests: list[LogsRequest] = []
        #: While set, every call is answered with a JSON-RPC error (a node that is up but failing).
        self.failing = False
        #: While cleared, calls wait (a node that hangs); set it to let them through.
        self.open = threading.Event()
        self.open.set()
        #: Calls waiting behind `open` right now.
        self.held = 0
        #: method → function applied to the node's `result` before it is returned (a node that lies).
        self.rewrite: dict[str, Callable[[Any], Any]] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                answer = proxy._handle(body)
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def hold(self) -> None:
        """From now on calls wait until `release()`."""
        self.open.clear()

    def release(self) -> None:
        self.open.set()

    @staticmethod
    def _error(request: Any, code: int, message: str) -> bytes:
        rid = request.get("id") if isinstance(request, dict) else None
        return json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}).encode()

    def _handle(self, body: bytes) -> bytes:
        request = json.loads(body)
        if not self.open.is_set():
            with self._lock:
                self.held += 1
            self.open.wait()
            with self._lock:
                self.held -= 1
        if self.failing:
            return self._error(request, -32000, "node failing (test)")
        if isinstance(request, dict) and request.get("method") == "eth_getLogs" and self.max_logs_span is not None:
            flt = request["params"][0]
            span = int(flt["toBlock"], 16) - int(flt["fromBlock"], 16) + 1
            refused = span > self.max_logs_span
            with self._lock:
                self.logs_requests.append(LogsRequest(span, refused))
            if refused:
                return self._error(request, -32005, f"Exceeds max range of {self.max_logs_span}")
        forward = urllib.request.Request(self.upstream, data=body, headers={"content-type": "application/json"})
        with urllib.request.urlopen(forward, timeout=30) as response:
            answer = bytes(response.read())
        change = self.rewrite.get(request.get("method", "")) if isinstance(request, dict) else None
        if change is None:
            return answer
        reply = json.loads(answer)
        if "result" in reply:
            reply["result"] = change(reply["result"])
        return json.dumps(reply).encode()

    def start(self) -> RpcProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
