"""Start and stop the JSM simulator as a subprocess (pytest fixtures, benchmarks, scripts)."""

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
READY = "JSM simulator ready at "


@dataclass
class RunningJsm:
    """A simulator process plus what a client needs to reach it (users and their secrets are seed.USERS)."""

    url: str
    cert: str | None
    state_dir: str
    flavour: str
    process: subprocess.Popen
    username: str = "admin"
    token: str = "admin-token"
    email: str = "admin@opsgate.example"
    pat: str = "admin-pat"
    approver: tuple[str, str] = ("cab.approver", "cab-token")
    extra: dict = field(default_factory=dict)

    @property
    def cloud(self) -> bool:
        return self.flavour == "cloud"

    def admin(self, method: str, path: str, body: object | None = None) -> dict:
        """Call a ``/__sim`` endpoint (faults, limits, settings, requests, reset, clock)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/__sim/{path.lstrip('/')}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        context = ssl.create_default_context(cafile=self.cert) if self.cert else None
        with urllib.request.urlopen(req, context=context, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def request_count(self, method: str | None = None, path: str | None = None) -> int:
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


def start(state_dir: str, *extra: str, flavour: str = "cloud", port: int = 0, plain_http: bool = False,
          timeout: float = 60, python: str | None = None) -> RunningJsm:
    """Launch ``python -m tests.simulators.jsm`` and wait for its ready line."""
    args = [python or sys.executable, "-m", "tests.simulators.jsm", "--port", str(port), "--state-dir", state_dir,
            "--flavour", flavour, *extra]
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
            if line.startswith(READY) or not line:
                break
        if process.poll() is not None:
            break
    if not line.startswith(READY):
        process.kill()
        process.wait()
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            raise RuntimeError(f"JSM simulator did not start: {line!r}\n{handle.read()[-2000:]}")
    url = line[len(READY):].strip()
    return RunningJsm(url=url, cert=None if plain_http else os.path.join(state_dir, "cert.pem"),
                      state_dir=state_dir, flavour=flavour, process=process)
