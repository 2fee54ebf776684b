"""What both simulators share: serving an app until SIGTERM, and starting one as a subprocess for tests.

Test infrastructure (not in the built collection). Each simulator's ``__main__`` calls ``serve`` and its
``harness`` calls ``launch`` and wraps the answer in its own ``RunningServer`` subclass (users, secrets).
"""

from __future__ import annotations

import json
import os
import select
import signal
import ssl
import subprocess
import sys
import threading
import time
import typing as t
import urllib.parse
import urllib.request
from dataclasses import dataclass

from tests.simulators.servicenow.certs import write_certificate

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def serve(app: t.Any, server_class: t.Callable[..., t.Any], product: str, state_dir: str, port: int,
          plain_http: bool, verbose: bool) -> int:
    """Serve ``app`` on 127.0.0.1 (HTTPS with DIR/cert.pem unless ``plain_http``), print "<product> simulator
    ready at URL", and stop on SIGTERM or SIGINT."""
    context = None
    if not plain_http:
        cert, key = os.path.join(state_dir, "cert.pem"), os.path.join(state_dir, "key.pem")
        write_certificate(cert, key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    server = server_class(("127.0.0.1", port), app, context, verbose)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    worker.start()
    scheme = "http" if plain_http else "https"
    print(f"{product} simulator ready at {scheme}://127.0.0.1:{server.server_address[1]}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    app.close()
    return 0


@dataclass
class RunningServer:
    """A simulator process plus what every client needs to reach it."""

    url: str
    cert: str | None
    state_dir: str
    process: subprocess.Popen

    def admin(self, method: str, path: str, body: object | None = None) -> dict:
        """Call a ``/__sim`` endpoint (faults, requests, reset, clock, ...) with the standard library."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/__sim/{path.lstrip('/')}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        context = ssl.create_default_context(cafile=self.cert) if self.cert else None
        with urllib.request.urlopen(req, context=context, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def request_count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests the simulator answered since the last reset (optionally filtered)."""
        query = urllib.parse.urlencode({k: v for k, v in (("method", method), ("path", path)) if v})
        return self.admin("GET", f"requests?{query}")["count"]

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode


def launch(module: str, product: str, state_dir: str, options: t.Sequence[str], plain_http: bool, timeout: float,
           python: str | None) -> tuple[subprocess.Popen, str, str | None]:
    """Start ``python -m MODULE --state-dir DIR OPTIONS`` and wait for its ready line: (process, url, cert)."""
    ready_prefix = f"{product} simulator ready at "
    args = [python or sys.executable, "-m", module, "--state-dir", state_dir, *options]
    if plain_http:
        args.append("--plain-http")
    os.makedirs(state_dir, exist_ok=True)
    log_path = os.path.join(state_dir, "simulator.stderr")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 0.2)[0]:
            line = process.stdout.readline()
            if line.startswith(ready_prefix) or not line:
                break
        if process.poll() is not None:
            break
    if not line.startswith(ready_prefix):
        process.kill()
        process.wait()
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            raise RuntimeError(f"{product} simulator did not start: {line!r}\n{handle.read()[-2000:]}")
    return process, line[len(ready_prefix):].strip(), None if plain_http else os.path.join(state_dir, "cert.pem")
