"""A JSON-RPC proxy in front of a real node that injects faults, driven by tests and benchmarks (never a mock: every
call that is not faulted reaches the node and its answer comes back unchanged).

Faults, each switched on and off by a test while traffic flows:

* `failing`: every call answered with a JSON-RPC error (a node up but failing);
* `hold()` / `release()`: calls wait (a node that hangs);
* `latency`: seconds added before each call is forwarded;
* `http_status`: every call answered with that HTTP status and no JSON (a load balancer's 502/503);
* `reset_next`: the next N calls have their connection reset before the node sees them;
* `cut_next`: the next N calls reach the node, whose answer is then cut in half and the connection reset;
* `freeze()` / `thaw()`: the node stops advancing — it shows no block, receipt or log above the head it had;
* Besu's limits (`BesuLimits`, the `besu-qbft` profile's numbers): pending transactions per sender (answered as
  Besu answers), the `eth_getLogs` block range and, worse than Besu, a result cap that cuts answers silently.

`injected` counts what was injected, by kind, so a test can check that its fault really happened.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import rlp
from eth_account import Account

from creditshare.core.node_profile import PROFILES

#: What Besu answers a transaction beyond its per-sender pending limit
#: (RpcErrorType.NONCE_TOO_FAR_IN_FUTURE_FOR_SENDER).
BESU_TOO_DISTANT = "Transaction nonce is too distant from current sender nonce"
#: What Besu answers an `eth_getLogs` over more blocks than --rpc-max-logs-range
#: (RpcErrorType.EXCEEDS_RPC_MAX_BLOCK_RANGE).
BESU_RANGE = "Requested range exceeds maximum RPC range limit"


@dataclass
class LogsRequest:
    """One eth_getLogs the proxy saw: its block span and whether it refused it."""

    span: int
    refused: bool


@dataclass(frozen=True)
class BesuLimits:
    """The limits of a Besu QBFT node as the `besu-qbft` profile describes them (tests may tighten them)."""

    pending_per_sender: int = PROFILES["besu-qbft"].in_flight_per_sender
    max_logs_range: int = PROFILES["besu-qbft"].max_logs_range
    max_logs_results: int | None = PROFILES["besu-qbft"].max_logs_results


def _raw_sender_nonce(raw_hex: str) -> tuple[str, int]:
    """The sender and nonce of a signed raw transaction (legacy or typed)."""
    raw = bytes.fromhex(raw_hex.removeprefix("0x"))
    fields = rlp.decode(raw[1:]) if raw[0] < 0x7F else rlp.decode(raw)
    nonce_field = fields[1] if raw[0] < 0x7F else fields[0]
    return Account.recover_transaction(raw).lower(), int.from_bytes(nonce_field, "big")


class RpcProxy:
    """A JSON-RPC proxy on 127.0.0.1 forwarding to `upstream`, with switchable faults."""

    def __init__(self, upstream: str, *, max_logs_span: int | None = None, besu: BesuLimits | None = None) -> None:
        self.upstream = upstream
        self.besu = besu
        self.max_logs_span = besu.max_logs_range if besu and max_logs_span is None else max_logs_span
        self.logs_requests: list[LogsRequest] = []
        #: While set, every call is answered with a JSON-RPC error (a node that is up but failing).
        self.failing = False
        #: While cleared, calls wait (a node that hangs); set it to let them through.
        self.open = threading.Event()
        self.open.set()
        #: Calls waiting behind `open` right now.
        self.held = 0
        #: Seconds added before each call is forwarded.
        self.latency = 0.0
        #: When set, every call gets this HTTP status and a plain-text body (a proxy's 502 or 503).
        self.http_status: int | None = None
        #: The next this-many calls (of `fault_methods`, if set) are reset before the node sees them.
        self.reset_next = 0
        #: The next this-many calls (of `fault_methods`, if set) reach the node; the answer is cut in half.
        self.cut_next = 0
        #: Methods `reset_next` and `cut_next` apply to (None: every method).
        self.fault_methods: set[str] | None = None
        #: The head a frozen node stands at (None: not frozen).
        self.frozen_at: int | None = None
        #: method → function applied to the node's `result` before it is returned (a node that lies).
        self.rewrite: dict[str, Callable[[Any], Any]] = {}
        #: Faults injected so far, by kind.
        self.injected: Counter[str] = Counter()
        #: Calls forwarded to the node, by method.
        self.forwarded: Counter[str] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real node: a reset then hits a reused connection

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                proxy._serve(self, body)

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

    def freeze(self) -> int:
        """The node stops advancing at its current head (returned)."""
        self.frozen_at = int(self._upstream_call("eth_blockNumber", []), 16)
        return self.frozen_at

    def thaw(self) -> None:
        self.frozen_at = None

    # ------------------------------------------------------------------ serving

    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def _take(self, attribute: str, method: str) -> bool:
        """Whether this call of `method` takes one of the `attribute` (reset_next / cut_next) faults."""
        with self._lock:
            if getattr(self, attribute) <= 0 or (self.fault_methods is not None and method not in self.fault_methods):
                return False
            setattr(self, attribute, getattr(self, attribute) - 1)
            return True

    @staticmethod
    def _reset(handler: BaseHTTPRequestHandler) -> None:
        """Close the client's connection with a TCP reset (SO_LINGER 0), whatever was written before."""
        handler.wfile.flush()
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
        handler.close_connection = True

    def _serve(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        request = json.loads(body)
        method = request.get("method", "") if isinstance(request, dict) else ""
        if not self.open.is_set():
            with self._lock:
                self.held += 1
            self.open.wait()
            with self._lock:
                self.held -= 1
        if self.latency:
            self._count("latency")
            time.sleep(self.latency)
        if self.http_status is not None:
            self._count(f"http_{self.http_status}")
            text = b"upstream unavailable (test)"
            handler.send_response(self.http_status)
            handler.send_header("content-type", "text/plain")
            handler.send_header("content-length", str(len(text)))
            handler.end_headers()
            handler.wfile.write(text)
            return
        if self._take("reset_next", method):
            self._count("reset")
            self._reset(handler)
            return
        try:
            answer = self._handle(request, body)
        except OSError:  # the node is down (a test stopped it): say so as a proxy would
            handler.send_error(502, "upstream node unreachable")
            return
        cut = self._take("cut_next", method)
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(answer)))
        handler.end_headers()
        if cut:
            self._count("cut")
            handler.wfile.write(answer[: len(answer) // 2])
            self._reset(handler)
            return
        handler.wfile.write(answer)

    @staticmethod
    def _error(request: Any, code: int, message: str) -> bytes:
        rid = request.get("id") if isinstance(request, dict) else None
        return json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}).encode()

    @staticmethod
    def _result(request: Any, result: Any) -> bytes:
        return json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "result": result}).encode()

    def _forward(self, body: bytes) -> bytes:
        request = json.loads(body)
        with self._lock:
            self.forwarded[request.get("method", "") if isinstance(request, dict) else "batch"] += 1
        forward = urllib.request.Request(self.upstream, data=body, headers={"content-type": "application/json"})
        with urllib.request.urlopen(forward, timeout=30) as response:
            return bytes(response.read())

    def _upstream_call(self, method: str, params: list[Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 0, "method": method, "params": params}).encode()
        return json.loads(self._forward(body))["result"]

    def _handle(self, request: Any, body: bytes) -> bytes:
        if self.failing:
            self._count("failing")
            return self._error(request, -32000, "node failing (test)")
        if not isinstance(request, dict):
            return self._forward(body)
        method = request.get("method", "")
        if method == "eth_getLogs":
            refused = self._logs_refusal(request)
            if refused is not None:
                return refused
        if method == "eth_sendRawTransaction" and self.besu is not None:
            sender, nonce = _raw_sender_nonce(request["params"][0])
            mined = int(self._upstream_call("eth_getTransactionCount", [sender, "latest"]), 16)
            if nonce - mined >= self.besu.pending_per_sender:
                self._count("pending_cap")
                return self._error(request, -32000, BESU_TOO_DISTANT)
        frozen = self.frozen_at
        if frozen is not None and method == "eth_blockNumber":
            return self._result(request, hex(frozen))
        if frozen is not None:
            request = self._frozen_request(request, frozen)
            if request is None:
                return self._result({"id": json.loads(body).get("id")}, None)
            body = json.dumps(request).encode()
        answer = self._forward(body)
        change = self.rewrite.get(method)
        limit = self.besu.max_logs_results if self.besu else None
        if change is None and frozen is None and not (method == "eth_getLogs" and limit is not None):
            return answer
        reply = json.loads(answer)
        if "result" in reply:
            if frozen is not None and method == "eth_getTransactionReceipt":
                reply["result"] = self._frozen_receipt(reply["result"], frozen)
            if method == "eth_getLogs" and limit is not None and len(reply["result"]) > limit:
                self._count("logs_truncated")
                reply["result"] = reply["result"][:limit]  # silently, as some providers do
            if change is not None:
                reply["result"] = change(reply["result"])
        return json.dumps(reply).encode()

    def _logs_refusal(self, request: dict[str, Any]) -> bytes | None:
        if self.max_logs_span is None:
            return None
        flt = request["params"][0]
        to_block = flt.get("toBlock", "latest")
        if not str(to_block).startswith("0x"):
            return None
        span = int(to_block, 16) - int(flt["fromBlock"], 16) + 1
        refused = span > self.max_logs_span
        with self._lock:
            self.logs_requests.append(LogsRequest(span, refused))
        if not refused:
            return None
        self._count("logs_range")
        return self._error(request, -32005, f"{BESU_RANGE} (Exceeds max range of {self.max_logs_span})")

    @staticmethod
    def _frozen_request(request: dict[str, Any], head: int) -> dict[str, Any] | None:
        """The request as a node stuck at `head` would see it (None: it would answer null)."""
        method, params = request["method"], list(request.get("params") or [])
        if method == "eth_getBlockByNumber":
            if params[0] in ("latest", "pending", "safe", "finalized"):
                params[0] = hex(head)
            elif int(params[0], 16) > head:
                return None
        elif method == "eth_getLogs":
            flt = dict(params[0])
            if int(flt["fromBlock"], 16) > head:
                return None
            if flt.get("toBlock", "latest") == "latest" or int(flt["toBlock"], 16) > head:
                flt["toBlock"] = hex(head)
            params[0] = flt
        return {**request, "params": params}

    @staticmethod
    def _frozen_receipt(receipt: Any, head: int) -> Any:
        """A receipt from above the frozen head does not exist yet."""
        return None if receipt and int(receipt["blockNumber"], 16) > head else receipt

    def start(self) -> RpcProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
