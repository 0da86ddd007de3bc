"""The HTTP side of a service: ``/metrics`` (Prometheus), ``/healthz`` (liveness), ``/readyz`` (readiness)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6  # "::" or "::1" (``AUTOMATION_METRICS_LISTEN_HOST``)


class MetricsServer:
    """Serves the three endpoints on ``host:port`` (port 0 picks a free one) from a daemon thread.

    ``/healthz`` says what ``live()`` says, ``/readyz`` what ``ready()`` says (200 or 503). Both are plain
    HTTP whatever the gRPC API's auth mode, so the kubelet can probe them. An IPv6 ``host`` ("::") binds
    an IPv6 socket."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ready: Callable[[], bool] = lambda: True,
        live: Callable[[], bool] = lambda: True,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._host, self._requested_port = host, port
        self._ready, self._live, self._registry = ready, live, registry
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> int:
        """Bind and serve; return the bound port."""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(outer._registry), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    live = outer._live()
                    self._send(200 if live else 503, b"ok\n" if live else b"stalled\n")
                elif path == "/readyz":
                    ready = outer._ready()
                    self._send(200 if ready else 503, b"ready\n" if ready else b"not ready\n")
                else:
                    self._send(404, b"not found\n")

            def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(
                self, format: str, *args: Any
            ) -> None:  # scrapes and probes are not worth a log line
                pass

        server_class = _IPv6Server if ":" in self._host else ThreadingHTTPServer
        self._httpd = server_class((self._host.strip("[]"), self._requested_port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="metrics-http", daemon=True).start()
        return self._httpd.server_address[1]

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
