"""HTTP transport: a threaded HTTP/1.1 (keep-alive) server, TLS per connection, fault resets."""

from __future__ import annotations

import socket
import ssl
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .app import Simulator
from .wire import Request, Response


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ServiceNow"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are dropped after this many seconds
    server: SimServer

    def setup(self) -> None:
        super().setup()
        # Without it a small response waits for the client's delayed ACK (~40 ms) behind Nagle.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server naming convention
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        scheme = "https" if self.server.ssl_context else "http"
        req = Request(method=self.command, path=split.path, query=parse_qsl(split.query, keep_blank_values=True),
                      headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                      base_url=f"{scheme}://{host}")
        response = self.server.app.handle(req)
        self._send(response, head=self.command == "HEAD")

    def _send(self, response: Response, head: bool) -> None:
        if response.abort_after is not None and response.abort_after < 0:
            self._reset()
            return
        self.send_response(response.status, response.reason)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if response.abort_after is None and not head:
            # Status line, headers and body leave in one write, so one TCP segment train per response.
            self._headers_buffer.append(b"\r\n" + response.body)
            self.flush_headers()
            return
        self.end_headers()
        if response.abort_after is not None:
            self.wfile.write(response.body[: response.abort_after])
            self.wfile.flush()
            self._reset()

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send a TCP RST instead of a FIN.
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: Simulator, ssl_context: ssl.SSLContext | None,
                 verbose: bool = False) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.verbose = verbose
        super().__init__(address, Handler)

    def finish_request(self, request, client_address) -> None:
        # The TLS handshake runs here, in the connection's own thread, not in the accept loop.
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(30)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)
