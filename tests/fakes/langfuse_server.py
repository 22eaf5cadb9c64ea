"""A stand-in for Langfuse that speaks its real ingestion protocol.

Langfuse 5's SDK exports OpenTelemetry spans as OTLP/HTTP protobuf (gzip) to
``/api/public/otel/v1/traces`` with basic auth. This server decodes those requests with
the official ``opentelemetry-proto`` messages and keeps the spans for assertions.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

OTEL_PATH = "/api/public/otel/v1/traces"


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


class FakeLangfuse:
    """Run with ``with FakeLangfuse() as lf:``; ``lf.url`` is the host to configure."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                auth = self.headers.get("Authorization", "")
                outer._record(self.path, auth, self.headers.get("Content-Type", ""), body)
                if self.path == OTEL_PATH:
                    payload = ExportTraceServiceResponse().SerializeToString()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-protobuf")
                else:
                    payload = b"{}"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                payload = json.dumps({"data": [{"id": "project-1"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeLangfuse:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, path: str, auth: str, content_type: str, body: bytes) -> None:
        user = ""
        if auth.startswith("Basic "):
            user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        with self._lock:
            self.requests.append({"path": path, "public_key": user, "content_type": content_type})
            if path != OTEL_PATH:
                return
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            {
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "attributes": {a.key: _value(a.value) for a in span.attributes},
                            }
                        )

    def spans_of(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans received for one trace."""
        with self._lock:
            return [s for s in self.spans if s["trace_id"] == trace_id]
