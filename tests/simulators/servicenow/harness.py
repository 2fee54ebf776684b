"""Start and stop the simulator as a subprocess (for pytest fixtures, benchmarks and scripts)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.simulators._serving import RunningServer, launch


@dataclass
class RunningSimulator(RunningServer):
    """A ServiceNow simulator process plus everything a client needs to reach it."""

    username: str = "admin"
    password: str = "admin"
    client_id: str = "opsgate"
    client_secret: str = "opsgate-secret"
    api_key: str = "opsgate-api-key"
    extra_users: dict[str, str] = field(default_factory=lambda: {"cab.approver": "cab", "itil": "itil"})


def start(state_dir: str, *extra: str, port: int = 0, plain_http: bool = False, timeout: float = 60,
          python: str | None = None) -> RunningSimulator:
    """Launch ``python -m tests.simulators.servicenow`` and wait for its ready line."""
    process, url, cert = launch("tests.simulators.servicenow", "ServiceNow", state_dir, ["--port", str(port), *extra],
                                plain_http, timeout, python)
    return RunningSimulator(url=url, cert=cert, state_dir=state_dir, process=process)
