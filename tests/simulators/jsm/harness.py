"""Start and stop the JSM simulator as a subprocess (pytest fixtures, benchmarks, scripts)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.simulators._serving import RunningServer, launch


@dataclass
class RunningJsm(RunningServer):
    """A JSM simulator process plus what a client needs to reach it (users and their secrets are seed.USERS)."""

    flavour: str = "cloud"
    username: str = "admin"
    token: str = "admin-token"
    email: str = "admin@opsgate.example"
    pat: str = "admin-pat"
    approver: tuple[str, str] = ("cab.approver", "cab-token")
    extra: dict = field(default_factory=dict)

    @property
    def cloud(self) -> bool:
        return self.flavour == "cloud"


def start(state_dir: str, *extra: str, flavour: str = "cloud", port: int = 0, plain_http: bool = False,
          timeout: float = 60, python: str | None = None) -> RunningJsm:
    """Launch ``python -m tests.simulators.jsm`` and wait for its ready line."""
    process, url, cert = launch("tests.simulators.jsm", "JSM", state_dir,
                                ["--port", str(port), "--flavour", flavour, *extra], plain_http, timeout, python)
    return RunningJsm(url=url, cert=cert, state_dir=state_dir, flavour=flavour, process=process)
