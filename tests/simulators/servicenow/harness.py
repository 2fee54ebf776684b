"""Start and stop the simulator as a subprocess (for pytest fixtures, benchmarks and scripts)."""

from __future__ import annotations

import json
import os
import select
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
READY = "ServiceNow simulator ready at "


@dataclass
class RunningSimulator:
    """A simulator process plus everything a client needs to reach it."""

    url: str
    cert: str | None
    state_dir: str
    process: subprocess.Popen
    username: str = "admin"
    password: str = "admin"
    client_id: str = "opsgate"
    client_secret: str = "opsgate-secret"
    api_key: str = "opsgate-api-key"
    extra_users: dict[str, str] = field(default_factory=lambda: {"cab.approver": "cab", "itil": "itil"})

    def admin(self, method: str, path: str, body: object | None = None) -> dict:
        """Call a ``/__sim`` endpoint (faults, requests, reset, clock) with the standard library."""
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


def start(state_dir: str, *extra: str, port: int = 0, plain_http: bool = False, timeout: float = 60,
          python: str | None = None) -> RunningSimulator:
    """Launch ``python -m tests.simulators.servicenow`` and wait for its ready line."""
    args = [python or sys.executable, "-m", "tests.simulators.servicenow", "--port", str(port),
            "--state-dir", state_dir, *extra]
    if plain_http:
        args.append("--plain-http")
    os.makedirs(state_dir, exist_ok=True)
    log = open(os.path.join(state_dir, "simulator.stderr"), "ab")
    process = subprocess.Popen(args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    log.close()
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        ready = select.select([process.stdout], [], [], 0.2)[0]
        if ready:
            line = process.stdout.readline()
            if line.startswith(READY) or not line:
                break
        if process.poll() is not None:
            break
    if not line.startswith(READY):
        process.kill()
        process.wait()
        with open(os.path.join(state_dir, "simulator.stderr"), encoding="utf-8", errors="replace") as handle:
            raise RuntimeError(f"ServiceNow simulator did not start: {line!r}\n{handle.read()[-2000:]}")
    url = line[len(READY):].strip()
    cert = None if plain_http else os.path.join(state_dir, "cert.pem")
    return RunningSimulator(url=url, cert=cert, state_dir=state_dir, process=process)
